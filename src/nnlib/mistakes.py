"""The catalogue of usual mistakes: one home for their names, wording and tolerances.

Both the visible checks (:mod:`nnlib.checks`, which students run) and the library grader's
diagnosis (``autograder/grader/diagnose.py``) read this table, so a mistake has one name and
one message wherever it is reported. An entry says *what* went wrong and how to fix it; it
holds no code that computes a right answer. Each entry is recognised in one of three ways:

- a *relation* to the right output that needs no solution to state (N times too large, the
  sign flipped, transposed): :func:`relation_variants`;
- a *variant*: the output of a program with that mistake on the same inputs. The grader runs
  such programs (kept on the instructor's side); the visible checks read their outputs on the
  checks' fixed inputs from ``check_data.npz``, which the instructor's build writes;
- a *symptom* the caller tests itself (a float64 result for float32 input, weights that did
  not change, an empty last minibatch): the caller picks the entry by name.

Messages are ``str.format`` templates. Fields: ``{out}`` the output's name (``dW1``, ``theta``,
``grads[2]``), ``{n}`` the batch size, ``{expected}`` and ``{got}`` shapes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Tolerances. An output *passes* when it is this close to the reference (float32 results are
# compared with float32 slack). An output *matches a mistake* when it is this close to the
# mistake's variant: looser, so that a float32 submission is still recognised.
PASS_TOLERANCE = {np.dtype(np.float32): (1e-4, 1e-5), np.dtype(np.float64): (1e-6, 1e-9)}
MATCH_RTOL, MATCH_ATOL = 1e-3, 1e-4

_LOGIT_GRADS = ("softmax_loss_grad", "softmax_loss_grad_naive")
_THETA_GRADS = ("softmax_regression_grad", "softmax_regression_grad_naive")
_NN_GRADS = ("nn_gradients", "nn_gradients_naive")
_MLP_GRADS = ("mlp_backward", "mlp_gradients_naive", "mlp_gradients_checkpointed")
_SCE_VJP = ("softmax_cross_entropy_vjp",)
_BIAS_GRADS = ("add_vjp", "nn_gradients_bias")
_ACTIVATION_VJPS = ("relu_vjp", "sigmoid_vjp", "tanh_vjp")
GRADIENTS = (*_LOGIT_GRADS, *_THETA_GRADS, *_NN_GRADS, *_MLP_GRADS, *_SCE_VJP, "nn_gradients_bias")
EPOCHS = ("softmax_regression_epoch", "nn_epoch", "mlp_epoch")
ALL = ("*",)

#: The name of the one output of a function that returns one array (or one number).
SINGLE_OUTPUT: dict[str, str] = {
    "softmax": "S",
    "log_softmax": "log_softmax(Z)",
    "softmax_loss": "loss",
    "softmax_loss_grad": "dZ",
    "softmax_loss_grad_naive": "dZ",
    "softmax_regression_grad": "dtheta",
    "softmax_regression_grad_naive": "dtheta",
    "radial_features": "Phi",
    "random_relu_features": "Phi",
    "relu": "relu(Z)",
    "relu_grad": "relu_grad(Z)",
    "relu_vjp": "dA",
    "sigmoid_vjp": "dA",
    "tanh_vjp": "dA",
    "softmax_cross_entropy_vjp": "dlogits",
    "topological_order": "order",
}
#: The names of the outputs of functions that return a fixed tuple or update named arrays.
NAMED_OUTPUTS: dict[str, tuple[str, ...]] = {
    "nn_gradients": ("dW1", "dW2"),
    "nn_gradients_naive": ("dW1", "dW2"),
    "softmax_regression_epoch": ("theta",),
    "nn_epoch": ("W1", "W2"),
    "matmul_vjp": ("dA", "dB"),
    "add_vjp": ("da", "db"),
    "nn_gradients_bias": ("dW1", "db1", "dW2", "db2"),
}


class Mistake(NamedTuple):
    """One usual mistake.

    Attributes
    ----------
    name : str
        Stable identifier, e.g. ``"summed_not_averaged"``.
    functions : tuple of str
        The task functions it applies to (``("*",)``: every task).
    text : str
        The message, a ``str.format`` template (see the module docstring).
    outputs : tuple of str
        The outputs it shows in (``()``: any output).
    """

    name: str
    functions: tuple
    text: str
    outputs: tuple = ()

    def applies_to(self, function: str, out: str | None = None) -> bool:
        """Whether this mistake can explain output ``out`` of ``function``."""
        if self.functions != ALL and function not in self.functions:
            return False
        return out is None or not self.outputs or _base(out) in self.outputs

    def message(self, **fields) -> str:
        """The message with its fields filled in (missing fields read as ``?``)."""
        return self.text.format_map(_Fields(fields))


class _Fields(dict):
    def __missing__(self, key):
        return "?"


def _base(out: str) -> str:
    """``"grads[2]"`` -> ``"grads"``: the name of an output without its index (or note)."""
    return out.split("[", 1)[0].split(" ", 1)[0]


CATALOGUE: tuple[Mistake, ...] = (
    # ---------------------------------------------------------------- any function
    Mistake(
        "float64_upcast",
        ALL,
        "{out} has dtype float64 for float32 input: something upcast it — an array made "
        "without dtype= (np.zeros(shape), np.ones(shape)), a mask turned into numbers with "
        "np.where(mask, 1.0, 0.0) or np.eye(C)[y] (both float64), or a float64 constant in a "
        "product; make new arrays with dtype=X.dtype, or finish with .astype(X.dtype)",
    ),
    Mistake(
        "bool_output",
        ALL,
        "{out} has dtype bool: a boolean mask; turn it into numbers of the input's dtype "
        "with .astype(Z.dtype)",
    ),
    Mistake(
        "transposed",
        ALL,
        "{out} is transposed (shape {got}, expected {expected}): swap the factors of the "
        "product, e.g. X.T @ G rather than G.T @ X",
    ),
    Mistake(
        "outputs_swapped",
        ALL,
        "{out}: the outputs are in the wrong order — return one gradient per argument, in the "
        "order of the arguments",
    ),
    # ---------------------------------------------------------------- biases
    Mistake(
        "bias_not_summed",
        _BIAS_GRADS,
        "{out} has shape {got}, one row per example, but the bias has shape {expected}: the "
        "bias reaches every row of the batch, and its gradient must gather the contributions "
        "of all the rows",
        ("db", "db1", "db2"),
    ),
    Mistake(
        "bias_averaged",
        _BIAS_GRADS,
        "{out} is N = {n} times too small: the bias gradient divided by the batch size again, "
        "but the 1/N of the mean loss is already inside the gradient it starts from",
        ("db", "db1", "db2"),
    ),
    # ---------------------------------------------------------------- gradients
    Mistake(
        "summed_not_averaged",
        (*GRADIENTS, "softmax_loss"),
        "{out} is N = {n} times too large: you summed over the batch, but the loss is a mean "
        "— divide by N",
    ),
    Mistake(
        "divided_twice",
        GRADIENTS,
        "{out} is N = {n} times too small: you divided by the batch size twice (once in "
        "the logit gradient (S - I_y) / N is enough)",
    ),
    Mistake(
        "ignored_upstream_gradient",
        (*_SCE_VJP, *_ACTIVATION_VJPS),
        "{out}: the upstream gradient was not used — a vjp multiplies the incoming gradient "
        "(G, or the number g for the loss) by the local derivative; it does not return the "
        "derivative alone",
    ),
    Mistake(
        "sign_flipped",
        GRADIENTS,
        "{out} has its sign flipped: the gradient of the loss starts from S - I_y, not I_y - S",
    ),
    Mistake(
        "loss_sign_flipped",
        ("softmax_loss",),
        "{out} has its sign flipped: the loss is minus the log of the true class's probability",
    ),
    Mistake(
        "loss_not_scalar",
        ("softmax_loss",),
        "{out} is an array of shape {got}: return one number, the mean of the per-example losses",
    ),
    Mistake(
        "overflow_large_logits",
        ("softmax", "softmax_loss", *_LOGIT_GRADS, *_SCE_VJP),
        "{out} has NaN or inf for logits near ±1e4: exp overflowed — subtract each row's "
        "maximum before exp (softmax is unchanged by it)",
    ),
    # ---------------------------------------------------------------- softmax, log-softmax
    Mistake(
        "softmax_over_columns",
        ("softmax",),
        "{out}: normalized over the columns (axis=0); each row must sum to one (axis=1)",
    ),
    Mistake(
        "softmax_not_normalized",
        ("softmax",),
        "{out}: forgot to divide each row of exp(Z) by its own sum",
    ),
    Mistake(
        "log_of_softmax",
        ("log_softmax",),
        "{out} has -inf or NaN for logits near ±1e4: log(softmax(Z)) takes the log of a "
        "probability that rounded to 0; compute Z - max - log(sum(exp(Z - max))) instead",
    ),
    Mistake(
        "log_softmax_no_logsumexp",
        ("log_softmax",),
        "{out}: forgot to subtract the log-sum-exp of each row (only the maximum was subtracted)",
    ),
    Mistake("log_softmax_is_softmax", ("log_softmax",), "{out}: returned the softmax, not its log"),
    # ---------------------------------------------------------------- one-hot labels
    Mistake(
        "forgot_one_hot",
        (*_LOGIT_GRADS, *_THETA_GRADS, *_SCE_VJP),
        "{out}: forgot to subtract the one-hot labels I_y — the logit gradient is "
        "(S - I_y) / N, not S / N",
    ),
    Mistake(
        "subtracted_label_values",
        (*_LOGIT_GRADS, *_THETA_GRADS, *_SCE_VJP),
        "{out}: subtracted the label values themselves (S - y[:, None]) where a one-hot matrix "
        "I_y belongs; subtract 1 only at (i, y_i)",
    ),
    Mistake(
        "subtracted_label_columns",
        (*_LOGIT_GRADS, *_THETA_GRADS, *_SCE_VJP),
        "{out}: subtracted 1 in the labels' columns of every row (G[:, y] -= 1); subtract it "
        "only at (i, y_i): G[np.arange(N), y] -= 1",
    ),
    Mistake(
        "logits_for_probabilities",
        _THETA_GRADS,
        "{out}: used the logits X theta where the softmax probabilities S belong",
    ),
    # ---------------------------------------------------------------- two-layer network
    Mistake(
        "relu_mask_missing",
        _NN_GRADS,
        "{out}: the ReLU mask is missing — multiply G2 W2^T entrywise by 1[X W1 > 0] before "
        "the product with X^T",
        ("dW1",),
    ),
    Mistake(
        "bias_relu_mask_missing",
        ("nn_gradients_bias",),
        "{out}: the gradient that reaches the first layer skipped the ReLU's derivative",
        ("dW1", "db1"),
    ),
    Mistake(
        "relu_mask_is_activation",
        _NN_GRADS,
        "{out}: multiplied by the activations A1 = ReLU(X W1) where the 0/1 mask "
        "1[X W1 > 0] belongs",
        ("dW1",),
    ),
    Mistake(
        "relu_mask_from_wrong_array",
        _NN_GRADS,
        "{out}: the ReLU mask was taken from the wrong array (for example relu_grad(G2 @ W2.T), "
        "the backpropagated gradient); the mask is 1[X W1 > 0], from the hidden layer's "
        "pre-activation X W1",
        ("dW1",),
    ),
    Mistake(
        "preactivation_for_activation",
        _NN_GRADS,
        "{out}: used the pre-activation X W1 where the hidden activations A1 = ReLU(X W1) "
        "belong: dW2 = A1^T G2",
        ("dW2",),
    ),
    # ---------------------------------------------------------------- L layers
    Mistake(
        "sigma_at_output",
        _MLP_GRADS,
        "{out}: σ' was evaluated at the layer's output σ(U) instead of at its pre-activation "
        "U_i = Z_i W_i (cache.preactivations[i]); relu cannot tell the two "
        "apart, tanh can",
        ("grads",),
    ),
    Mistake(
        "activation_on_logits",
        ("mlp_forward",),
        "{out}: the activation was applied to the last layer too; the logits Z_{{L-1}} W_{{L-1}} "
        "are linear",
        ("logits",),
    ),
    Mistake(
        "activations_cached_as_preactivations",
        ("mlp_forward",),
        "{out}: stored the activations σ(U_i) where the pre-activations U_i = Z_i W_i belong",
        ("cache.preactivations",),
    ),
    # ---------------------------------------------------------------- automatic differentiation
    Mistake(
        "vjp_from_input",
        ("sigmoid_vjp", "tanh_vjp"),
        "{out}: the derivative was computed as if out were the op's input (applying the "
        "activation to it again); out is the op's output σ(A), and the derivative is a "
        "function of that output",
    ),
    Mistake(
        "relu_vjp_mask_from_G",
        ("relu_vjp",),
        "{out}: the ReLU mask was taken from the incoming gradient G; it comes from the "
        "ReLU's input A",
    ),
    Mistake(
        "backward_overwrites",
        ("backward",),
        "{out}: a node used by two operations kept only one contribution — its gradient "
        "was overwritten (parent.grad = g) instead of summed with the one already there",
    ),
    Mistake(
        "backward_accumulates_in_place",
        ("backward",),
        "{out}: the sum was made in place (parent.grad += g) in an array another node's "
        "gradient shares (a vjp may hand back G itself, as add's does); write "
        "parent.grad = parent.grad + g",
    ),
    Mistake(
        "backward_before_all_contributions",
        ("backward",),
        "{out}: a node passed its gradient on to its parents before every contribution to it "
        "had arrived (its parents got a partial gradient, then more); visit the nodes in "
        "reverse topological order, so each one is done only after every node that uses it",
    ),
    Mistake(
        "topo_listed_twice",
        ("topological_order",),
        "{out} lists a node used twice two times; remember the nodes already visited",
    ),
    Mistake(
        "topo_reversed",
        ("topological_order",),
        "{out} is reversed — the loss must come last, every node after its parents "
        "(backward then walks the list from the end)",
    ),
    Mistake(
        "topo_missing_nodes",
        ("topological_order",),
        "{out} misses nodes the loss depends on; follow .parents all the way down to the leaves",
    ),
    Mistake(
        "topo_not_nodes",
        ("topological_order",),
        "{out} holds items that are not nodes of the graph; return the Node objects themselves",
    ),
    Mistake(
        "topo_parent_after_child",
        ("topological_order",),
        "{out} lists a node before one of its parents (a breadth-first order breaks on a "
        "node reached by two paths); add a node only after all of its parents are listed",
    ),
    Mistake(
        "checkpoint_wrong_start",
        ("mlp_gradients_checkpointed",),
        "{out}: a segment was recomputed from the wrong layer's input — the checkpoint of the "
        "segment that starts at layer s must be Z_s, the input of layer s (the output of layer "
        "s-1, Z_1 = X for the first segment)",
        ("grads",),
    ),
    # ---------------------------------------------------------------- activations, features
    Mistake("relu_is_mask", ("relu",), "{out}: returned the 0/1 mask (that is relu_grad)"),
    Mistake(
        "modified_input",
        ("relu", "relu_grad"),
        "{out}: the function modified its input Z in place; return a new array",
    ),
    Mistake(
        "relu_grad_one_at_zero",
        ("relu_grad", "relu_vjp"),
        "{out}: the derivative is 1 at Z == 0 (Z >= 0); the course takes 0 at exactly 0 (Z > 0)",
    ),
    Mistake(
        "relu_grad_is_relu",
        ("relu_grad",),
        "{out}: returned ReLU(Z) itself, not its derivative 1[Z > 0]",
    ),
    Mistake(
        "relu_grad_inverted",
        ("relu_grad",),
        "{out}: the mask is inverted — 1 where Z > 0, 0 elsewhere",
    ),
    Mistake(
        "radius_not_squared",
        ("radial_features",),
        "{out}: the third column is the radius sqrt(x² + y²); use its square, x² + y²",
    ),
    Mistake(
        "features_without_relu",
        ("random_relu_features",),
        "{out}: forgot the ReLU — the features are max(X W, 0), not X W",
    ),
    # ---------------------------------------------------------------- SGD epochs
    Mistake(
        "not_in_place",
        EPOCHS,
        "{out} did not change: update the weights in place (W -= lr * dW); W = W - lr * dW "
        "makes a new array that the caller never sees",
    ),
    Mistake(
        "empty_last_batch",
        EPOCHS,
        "{out}: the loop made an empty last minibatch when N = {n} is a multiple of batch "
        "(for example range(N // batch + 1)), and the gradient of an empty batch is undefined; "
        "loop with range(0, N, batch) — the fault is in the loop, not in the gradient",
    ),
    Mistake(
        "skipped_last_batch",
        EPOCHS,
        "{out}: the last, partial minibatch was skipped; range(0, N, batch) includes it and "
        "X[start:start + batch] handles its size",
    ),
    Mistake(
        "one_step_on_all_data",
        EPOCHS,
        "{out}: took one step on the whole data set; take one step per minibatch of size batch",
    ),
    Mistake(
        "update_sign_flipped",
        EPOCHS,
        "{out}: the weights moved up the gradient; subtract lr * gradient",
    ),
    Mistake(
        "updated_before_backprop_done",
        ("nn_epoch", "mlp_epoch"),
        "{out}: a weight was updated before the gradients below it were computed (for example "
        "W2 -= lr * dW2 before G1 = (G2 @ W2.T) * ...), so the lower layers saw the new W2; "
        "compute every gradient of the step first, then update",
    ),
)

BY_NAME: dict[str, Mistake] = {m.name: m for m in CATALOGUE}


def message(name: str, **fields) -> str:
    """The message of mistake ``name`` with its fields filled in."""
    return BY_NAME[name].message(**fields)


def close(got, want, rtol: float = MATCH_RTOL, atol: float = MATCH_ATOL) -> bool:
    """Shape-exact, NaN-aware closeness in float64 (the tolerance for naming a mistake)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype.kind not in "biuf" or want.dtype.kind not in "biuf":
        return False
    return bool(np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol))


def passes(got, want) -> bool:
    """Whether ``got`` equals the reference ``want`` within the pass tolerance of its dtype."""
    rtol, atol = PASS_TOLERANCE.get(np.asarray(want).dtype, PASS_TOLERANCE[np.dtype(np.float64)])
    return close(got, want, rtol, atol)


def relation_variants(function: str, want: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The wrong outputs that are a plain relation to the right one ``want``, by mistake name."""
    want = np.asarray(want, dtype=np.float64)
    out = {}
    if function in GRADIENTS or function == "softmax_loss":
        if n > 1:
            out["summed_not_averaged"] = want * n
        if n > 1 and function != "softmax_loss":
            out["divided_twice"] = want / n
        out["loss_sign_flipped" if function == "softmax_loss" else "sign_flipped"] = -want
    return out


def name_mistake(
    function: str,
    out: str,
    got,
    want,
    n: int,
    variants: dict[str, np.ndarray] | None = None,
) -> str | None:
    """The message of the first catalogue mistake that explains ``got``, or None.

    See :func:`find_mistake` for the parameters.
    """
    name = find_mistake(function, out, got, want, n, variants)
    if name is None:
        return None
    got, want = np.asarray(got), np.asarray(want)
    return message(name, out=out, n=n, expected=want.shape, got=got.shape)


def find_mistake(
    function: str,
    out: str,
    got,
    want,
    n: int,
    variants: dict[str, np.ndarray] | None = None,
) -> str | None:
    """The name of the first catalogue mistake that explains ``got``, or None.

    Parameters
    ----------
    function : str
        The task function.
    out : str
        The output's name, e.g. ``"dW1"``.
    got, want : ndarray
        The submitted output and the reference one.
    n : int
        The batch size of the inputs.
    variants : dict of str to ndarray, optional
        Outputs of programs with a given mistake on the same inputs, by mistake name.
    """
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype == np.bool_:
        return "bool_output"
    if got.shape != want.shape:
        if function == "softmax_loss" and want.ndim == 0:
            return "loss_not_scalar"
        if got.ndim == 2 and got.shape == want.shape[::-1] and close(got.T, want):
            return "transposed"
        for mistake in CATALOGUE:  # a variant of the wrong shape (a bias gradient not summed)
            variant = (variants or {}).get(mistake.name)
            if variant is not None and mistake.applies_to(function, out) and close(got, variant):
                return mistake.name
        return None
    candidates = {**relation_variants(function, want, n), **(variants or {})}
    if want.ndim == 2 and want.shape[0] == want.shape[1] and want.shape[0] > 1:
        candidates.setdefault("transposed", want.T)
    for mistake in CATALOGUE:  # catalogue order decides between two that both match
        variant = candidates.get(mistake.name)
        if variant is None or not mistake.applies_to(function, out):
            continue
        variant = np.asarray(variant)
        if not np.all(np.isfinite(variant)):
            if not np.all(np.isfinite(got)) and np.array_equal(
                np.isfinite(got), np.isfinite(variant)
            ):
                return mistake.name
        elif close(got, variant):
            return mistake.name
    return None


def order_mistake(order, parents, loss: int) -> str | None:
    """The catalogue mistake of a wrong topological order, or None if ``order`` is one.

    Parameters
    ----------
    order : sequence of int
        The nodes as listed, by index (-1 for an object that is no node of the graph).
    parents : sequence of sequence of int
        ``parents[k]``: the indices of node k's parents.
    loss : int
        The index of the node the order was asked for.
    """
    order = [int(k) for k in order]
    if any(k < 0 or k >= len(parents) for k in order):
        return "topo_not_nodes"
    if len(set(order)) != len(order):
        return "topo_listed_twice"
    needed, stack = set(), [loss]
    while stack:
        k = stack.pop()
        if k not in needed:
            needed.add(k)
            stack.extend(parents[k])
    if len(order) > 1 and order[0] == loss:
        return "topo_reversed"
    if not needed <= set(order):
        return "topo_missing_nodes"
    position = {k: i for i, k in enumerate(order)}
    if any(position[p] > position[k] for k in order for p in parents[k]):
        return "topo_parent_after_child"
    return None
