"""The book's glossary: the lecture's terms that the course uses, in the course's own words.

``build_book.py`` writes ``glossary.html`` from :data:`TERMS` and links each term, where the course
first uses it (in course order, in Markdown prose outside math, code and headings), to its entry.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Term(NamedTuple):
    name: str
    slug: str
    pattern: str  # a regular expression, matched case-insensitively on whole words
    definition: str


TERMS = [
    Term(
        "hypothesis class",
        "hypothesis-class",
        r"hypothesis class(?:es)?",
        "The set of functions a learning method chooses from, usually indexed by parameters: "
        "all linear maps $x \\mapsto \\theta^\\top x$, or all networks of a given architecture. "
        "Training picks one member.",
    ),
    Term(
        "logits",
        "logits",
        r"logits?",
        "The $C$ real-valued class scores a classifier outputs for one example, before the "
        "softmax turns them into probabilities.",
    ),
    Term(
        "softmax",
        "softmax",
        r"softmax",
        "The map from logits $z$ to probabilities $\\exp(z_j)/\\sum_k \\exp(z_k)$; unchanged when "
        "the same constant is added to every logit, which is how it is computed without overflow.",
    ),
    Term(
        "cross-entropy loss",
        "cross-entropy",
        r"cross-entropy(?: loss)?",
        "The negative log-probability the model assigns to the true class; averaged over a batch "
        "it is the loss every model of the course minimises. Its gradient with respect to the "
        "logits is $\\frac1N(S - I_y)$.",
    ),
    Term(
        "stochastic gradient descent (SGD)",
        "sgd",
        r"stochastic gradient descent|minibatch SGD",
        "Gradient descent in which every step uses the gradient on a small slice of the data (a "
        "minibatch) instead of all of it: many cheap, noisy steps instead of few exact ones.",
    ),
    Term(
        "epoch",
        "epoch",
        r"epochs?",
        "One pass of SGD over the whole training set, one step per minibatch.",
    ),
    Term(
        "learning rate",
        "learning-rate",
        r"learning rates?",
        "The step size $\\alpha$ of gradient descent: how far each step moves the parameters "
        "along the negative gradient.",
    ),
    Term(
        "feature map",
        "feature-map",
        r"feature maps?",
        "A function $\\phi$ applied to each input before a linear classifier; the classifier is "
        "linear in $\\phi(x)$, and the map decides which boundaries are possible in input space.",
    ),
    Term(
        "random features",
        "random-features",
        r"random (?:ReLU )?features",
        "A feature map with random, fixed parameters, e.g. $\\max(0, W^\\top x)$ with a random $W$ "
        "that is never trained.",
    ),
    Term(
        "neural network",
        "neural-network",
        r"neural networks?",
        "A hypothesis class whose members are compositions of parameterized functions "
        "(layers), each differentiable in its parameters and its input, so that the chain rule "
        "gives the gradient of the loss for every parameter.",
    ),
    Term(
        "layer",
        "layer",
        r"layers",
        "One of the functions a neural network composes, with parameters of its own; in an MLP, "
        "a multiplication by a weight matrix followed by an activation function.",
    ),
    Term(
        "activation function",
        "activation",
        r"activation(?: function)?s?|nonlinearit(?:y|ies)",
        "The elementwise nonlinear function $\\sigma$ a layer applies after its matrix product "
        "(ReLU, the sigmoid, tanh). Without it, a stack of layers would be one linear map.",
    ),
    Term(
        "ReLU",
        "relu",
        r"ReLU",
        "The rectified linear unit $\\max(0, z)$, applied entrywise; its derivative is the 0/1 "
        "mask of positive inputs.",
    ),
    Term(
        "hidden unit",
        "hidden-unit",
        r"hidden units?",
        "One entry of an intermediate layer's output: a learned feature of the input that is "
        "neither part of the input nor of the output.",
    ),
    Term(
        "hidden layer",
        "hidden-layer",
        r"hidden layers?",
        "All hidden units of one intermediate layer; its width is the number of units.",
    ),
    Term(
        "two-layer network",
        "two-layer-network",
        r"two-layer (?:neural )?network",
        "The network $\\sigma(XW_1)W_2$ with one hidden layer: softmax regression on learned "
        "features.",
    ),
    Term(
        "multilayer perceptron (MLP)",
        "mlp",
        r"multilayer perceptron|MLPs?",
        "A network that alternates multiplications by weight matrices with elementwise "
        "activations, $Z_{i+1} = \\sigma(Z_iW_i)$, the last layer without activation. Also called "
        "a feedforward or fully connected network.",
    ),
    Term(
        "feedforward network",
        "feedforward",
        r"feedforward(?: networks?)?",
        "A network in which values flow in one direction, from the input through the layers to "
        "the output, with no loops.",
    ),
    Term(
        "fully connected network",
        "fully-connected",
        r"fully connected(?: networks?)?",
        "A network in which every unit of one layer feeds every unit of the next through its "
        "own weight: each layer is a full matrix product.",
    ),
    Term(
        "universal approximation",
        "universal-approximation",
        r"universal approximation",
        "The fact that a network with one hidden layer and enough hidden units can approximate "
        "any continuous function on a bounded set as closely as asked; it says nothing about how "
        "many units that takes or whether training finds them.",
    ),
    Term(
        "backpropagation",
        "backpropagation",
        r"backpropagation|backprop",
        "Computing all gradients of the loss by the chain rule, one layer at a time from the "
        "output back to the input, reusing what the forward pass cached.",
    ),
    Term(
        "forward pass",
        "forward-pass",
        r"forward pass(?:es)?",
        "Evaluating the network layer by layer from input to logits, keeping what the backward "
        "pass will need.",
    ),
    Term(
        "backward pass",
        "backward-pass",
        r"backward pass(?:es)?",
        "The second half of backpropagation: from the gradient at the logits back to every "
        "layer's input and weights.",
    ),
    Term(
        "chain rule",
        "chain-rule",
        r"chain rule",
        "The derivative of a composition is the product of the derivatives of its parts; in "
        "matrix form, a sequence of vector-Jacobian products.",
    ),
    Term(
        "Jacobian",
        "jacobian",
        r"Jacobians?",
        "The matrix of all partial derivatives of a function's outputs with respect to its "
        "inputs; for a layer acting on a batch it is far too large to build.",
    ),
    Term(
        "vector-Jacobian product",
        "vjp",
        r"vector[–-]Jacobian products?|VJPs?",
        "The gradient with respect to a function's input, $g^\\top J$, computed from the "
        "gradient $g$ at its output without forming $J$.",
    ),
    Term(
        "automatic differentiation",
        "automatic-differentiation",
        r"automatic\s+differentiation",
        "Exact derivatives of a computation obtained by applying the chain rule to each of its "
        "elementary operations, recorded as the computation runs, instead of deriving a formula "
        "for the whole by hand.",
    ),
    Term(
        "reverse mode",
        "reverse-mode",
        r"reverse[- ]mode",
        "Automatic differentiation that starts from the one output (the loss) and passes "
        "gradients back through the recorded operations: the gradient with respect to every "
        "input in one backward pass. Backpropagation is reverse mode applied to a network.",
    ),
    Term(
        "tape (computational graph)",
        "tape",
        r"tapes?|computational graphs?",
        "The record of a computation that reverse mode walks backwards: one node per array, "
        "with the nodes it was computed from and how to pass a gradient back to them.",
    ),
    Term(
        "topological order",
        "topological-order",
        r"topological order",
        "An order of a graph's nodes in which every node comes after the nodes it was computed "
        "from; reversed, it lets each node's gradient be complete before it is passed on.",
    ),
    Term(
        "checkpointing",
        "checkpointing",
        r"checkpointing",
        "Keeping only some layers' inputs during the forward pass and recomputing the rest "
        "from the nearest kept one during the backward pass: less memory for extra computation "
        "(memory of order $\\sqrt L$ layers for about one extra forward pass).",
    ),
    Term(
        "pre-activation",
        "pre-activation",
        r"pre-activations?",
        "A layer's array before its activation function, $U_i = Z_iW_i$; $\\sigma'$ is "
        "evaluated there.",
    ),
    Term(
        "initialization",
        "initialization",
        r"initiali[sz]ation",
        "The random starting weights. Their variance is scaled by the layer's fan-in and "
        "fan-out so that activations and gradients keep their size across layers: He for ReLU, "
        "Xavier for tanh and the sigmoid.",
    ),
    Term(
        "vanishing gradient",
        "vanishing-gradient",
        r"vanishing gradients?",
        "Gradients that shrink geometrically from the output back to the first layers, leaving "
        "those layers almost untrained; typical of deep sigmoid networks.",
    ),
    Term(
        "dead unit",
        "dead-unit",
        r"dead (?:ReLU )?units?",
        "A ReLU unit whose pre-activation is non-positive for every example: its output and its "
        "gradient are zero, so SGD never changes it again.",
    ),
    Term(
        "validation set",
        "validation-set",
        r"validation (?:set|split)s?",
        "Training examples held out from fitting and used to compare settings and choose "
        "among them, so that the test set is not used to choose.",
    ),
    Term(
        "test set",
        "test-set",
        r"test sets?",
        "Examples used once, at the end, to estimate the error of the chosen model on new data.",
    ),
]

# Never linked inside: display and inline math, inline code, existing links, headings.
_PROTECTED = re.compile(
    r"(?s:\$\$.*?\$\$)|\$[^$\n]*\$|`[^`\n]*`|\[[^\]\n]*\]\([^)\n]*\)|^#[^\n]*", re.M
)


def _compiled(term: Term) -> re.Pattern:
    return re.compile(rf"(?<![\w-])(?:{term.pattern})(?![\w-])", re.I)


def link_first_uses(notebooks: dict, href: str = "glossary.html") -> dict[str, tuple[str, int]]:
    """Link each term's first use, in course order, to its glossary entry.

    Parameters
    ----------
    notebooks : dict of str to notebook
        In course order; their Markdown cells are edited in place.

    Returns
    -------
    dict of str to (str, int)
        For each term's slug, the notebook and the cell index of its first use.
    """
    first: dict[str, tuple[str, int]] = {}
    # Longer names first, so that "hidden layer" is linked as a whole before "layer" is looked for.
    for term in sorted(TERMS, key=lambda t: -len(t.name)):
        pattern = _compiled(term)
        for name, nb in notebooks.items():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "markdown":
                    continue
                linked = _link_once(cell.source, pattern, f"{href}#{term.slug}")
                if linked is not None:
                    cell.source = linked
                    first[term.slug] = (name, index)
                    break
            if term.slug in first:
                break
    return first


def _link_once(text: str, pattern: re.Pattern, target: str) -> str | None:
    position = 0
    for protected in [*_PROTECTED.finditer(text), None]:
        end = protected.start() if protected else len(text)
        match = pattern.search(text, position, end)
        if match:
            return f"{text[: match.start()]}[{match.group(0)}]({target}){text[match.end() :]}"
        if protected:
            position = protected.end()
    return None
