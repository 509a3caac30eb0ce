"""A small reverse-mode automatic differentiation over matrices: backprop, generalised.

Notebook 04 wrote the backward pass of one network by hand. Here every operation records a
:class:`Node` — its value, the nodes it was computed from (its *parents*) and its
vector-Jacobian product (*vjp*): given ``G``, the gradient of the loss with respect to the
node's value, the vjp returns the gradient with respect to each parent. :func:`backward`
then visits the graph from the loss down, in reverse :func:`topological_order`, and hands
every node's gradient to its parents through the vjp. A node used by two operations
receives two contributions, and its gradient is their sum (the multivariate chain rule).

The vjps are plain functions on arrays (``matmul_vjp``, ``add_vjp``, ...), in the course's
notation: for ``Z_{i+1} = Z_i W_i`` the vjp of matmul gives back the two products that
``mlp_backward`` computes for one layer. Values are float matrices (N, D) or bias rows (D,);
the loss is a 0-d array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._validation import as_float_matrix, as_labels

# This module imports no other module of nnlib at load time (``activations``, ``losses``
# and ``mlp`` hold other tasks): the grader imports only the modules a task lives in, so a
# broken relu in activations.py costs the relu tasks, not every task of the tape.


class Node:
    """One value of the computation and how to pass a gradient back through it.

    Parameters
    ----------
    value : ndarray
        The value computed (a float matrix, a bias row, or the 0-d loss).
    parents : tuple of Node, default ()
        The nodes ``value`` was computed from, in the order of the operation's arguments.
        A leaf (made by :func:`variable`) has none.
    op : str, default "variable"
        Name of the operation, for printing.
    vjp : callable, optional
        ``vjp(G) -> tuple``: given ``G`` (shaped like ``value``), the gradient with respect to
        each parent, in the order of ``parents``. None for a leaf.

    Attributes
    ----------
    grad : ndarray or None
        The gradient of the loss with respect to ``value`` (same shape), filled by
        :func:`backward`; None before.
    """

    def __init__(
        self,
        value: np.ndarray,
        parents: Sequence[Node] = (),
        op: str = "variable",
        vjp: Callable | None = None,
    ) -> None:
        self.value = value
        self.parents = tuple(parents)
        self.op = op
        self.vjp = vjp
        self.grad = None

    def __repr__(self) -> str:
        return f"Node(op={self.op!r}, shape={self.value.shape}, dtype={self.value.dtype})"


def _as_value(name: str, value) -> np.ndarray:
    """A float matrix or row vector, or a clear error."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    return as_float_matrix(name, value, ndim=2 if value.ndim != 1 else 1)


def _require_node(name: str, node) -> Node:
    if not isinstance(node, Node):
        hint = " (wrap an array with variable(array) first)" if isinstance(node, np.ndarray) else ""
        raise TypeError(f"{name} must be a Node{hint}, got {type(node).__name__}")
    return node


def variable(value: np.ndarray) -> Node:
    """A leaf of the graph: an input or a parameter whose gradient we want.

    Parameters
    ----------
    value : ndarray of shape (N, D) or (D,), float
        Kept as is (not copied): ``backward`` fills the leaf's ``grad``, never its value.

    Returns
    -------
    Node
        With no parents and no vjp.
    """
    return Node(_as_value("value", value))


# ------------------------------------------------------------------------ vjps (the tasks)


def _require_same_shape(name: str, G: np.ndarray, like: np.ndarray, like_name: str) -> None:
    if G.shape != like.shape:
        raise ValueError(f"{name} must have the shape of {like_name}, {like.shape}, got {G.shape}")


def matmul_vjp(G: np.ndarray, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vjp of ``A @ B``: the gradients with respect to ``A`` and ``B``.

    Parameters
    ----------
    G : ndarray of shape (N, K), float
        The gradient of the loss with respect to ``A @ B``.
    A : ndarray of shape (N, M), float
    B : ndarray of shape (M, K), float

    Returns
    -------
    dA : ndarray of shape (N, M)
    dB : ndarray of shape (M, K)
    """
    G, A, B = as_float_matrix("G", G), as_float_matrix("A", A), as_float_matrix("B", B)
    if A.shape[1] != B.shape[0] or G.shape != (A.shape[0], B.shape[1]):
        raise ValueError(
            f"shapes do not fit A @ B with G its gradient: A {A.shape}, B {B.shape}, G {G.shape}"
        )
    ### BEGIN SOLUTION
    return G @ B.T, A.T @ G
    ### END SOLUTION


def add_vjp(G: np.ndarray, a_shape: tuple, b_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The vjp of ``a + b``, where ``b`` is a matrix like ``a`` or a bias row added to every row.

    Parameters
    ----------
    G : ndarray of shape a_shape, float
        The gradient of the loss with respect to ``a + b``.
    a_shape : tuple of int
        The shape of ``a``, (N, K).
    b_shape : tuple of int
        The shape of ``b``: (N, K), or (K,) for a bias broadcast over the N rows.

    Returns
    -------
    da : ndarray of shape a_shape
    db : ndarray of shape b_shape
    """
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    if not isinstance(G, np.ndarray) or G.shape != a_shape:
        shown = f"shape {G.shape}" if isinstance(G, np.ndarray) else type(G).__name__
        raise ValueError(f"G must be an ndarray of shape a_shape {a_shape}, got {shown}")
    if b_shape not in (a_shape, a_shape[1:]):
        raise ValueError(f"b_shape must be {a_shape} or {a_shape[1:]} (a bias row), got {b_shape}")
    ### BEGIN SOLUTION
    if b_shape == a_shape:
        return G, G
    return G, G.sum(axis=0)  # the bias reached every row: its gradient sums over them
    ### END SOLUTION


def relu_vjp(G: np.ndarray, A: np.ndarray) -> np.ndarray:
    """The vjp of ``ReLU(A)`` (derivative 0 at exactly 0, as in the course).

    Parameters
    ----------
    G : ndarray of shape (N, K), float
        The gradient of the loss with respect to ``ReLU(A)``.
    A : ndarray of shape (N, K), float
        The input of the ReLU.

    Returns
    -------
    dA : ndarray of shape (N, K)
    """
    G, A = _as_value("G", G), _as_value("A", A)
    _require_same_shape("G", G, A, "A")
    ### BEGIN SOLUTION
    return G * (A > 0)
    ### END SOLUTION


def sigmoid_vjp(G: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The vjp of the sigmoid, from its output ``out = sigmoid(A)``.

    Parameters
    ----------
    G : ndarray of shape (N, K), float
        The gradient of the loss with respect to ``out``.
    out : ndarray of shape (N, K), float
        The sigmoid's *output* (what the node stores), not its input.

    Returns
    -------
    dA : ndarray of shape (N, K)
        The gradient with respect to the sigmoid's input.
    """
    G, out = _as_value("G", G), _as_value("out", out)
    _require_same_shape("G", G, out, "out")
    ### BEGIN SOLUTION
    return G * (out * (1 - out))
    ### END SOLUTION


def tanh_vjp(G: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The vjp of tanh, from its output ``out = tanh(A)``.

    Parameters
    ----------
    G : ndarray of shape (N, K), float
        The gradient of the loss with respect to ``out``.
    out : ndarray of shape (N, K), float
        The tanh's *output*, not its input.

    Returns
    -------
    dA : ndarray of shape (N, K)
    """
    G, out = _as_value("G", G), _as_value("out", out)
    _require_same_shape("G", G, out, "out")
    ### BEGIN SOLUTION
    return G * (1 - out * out)
    ### END SOLUTION


def softmax_cross_entropy_vjp(g, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The vjp of the mean cross-entropy of ``logits`` against labels ``y``.

    Parameters
    ----------
    g : float
        The gradient of the final result with respect to the loss (1.0 when the loss is the
        result; a Python float or a 0-d array).
    logits : ndarray of shape (N, C), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).

    Returns
    -------
    dlogits : ndarray of shape (N, C), the dtype of ``logits``
    """
    logits = as_float_matrix("logits", logits)
    y = as_labels("y", y, logits.shape[0], logits.shape[1])
    if np.ndim(g) != 0:
        raise ValueError(f"g must be one number (the loss is a scalar), got shape {np.shape(g)}")
    ### BEGIN SOLUTION
    G = np.exp(logits - logits.max(axis=1, keepdims=True))  # softmax, stable
    G /= G.sum(axis=1, keepdims=True)
    G[np.arange(logits.shape[0]), y] -= 1  # S - I_y
    G *= g / logits.shape[0]  # in place: keeps the logits' dtype whatever g's is
    return G
    ### END SOLUTION


# ------------------------------------------------------------------------ operations


def matmul(a: Node, b: Node) -> Node:
    """``a @ b`` for (N, M) and (M, K) matrices."""
    a, b = _require_node("a", a), _require_node("b", b)
    if a.value.ndim != 2 or b.value.ndim != 2 or a.value.shape[1] != b.value.shape[0]:
        raise ValueError(f"matmul needs (N, M) @ (M, K), got {a.value.shape} @ {b.value.shape}")
    return Node(a.value @ b.value, (a, b), "matmul", lambda G: matmul_vjp(G, a.value, b.value))


def add(a: Node, b: Node) -> Node:
    """``a + b``: two matrices of one shape, or a matrix (N, K) plus a bias row (K,)."""
    a, b = _require_node("a", a), _require_node("b", b)
    sa, sb = a.value.shape, b.value.shape
    if a.value.ndim != 2 or sb not in (sa, sa[1:]):
        raise ValueError(f"add needs a (N, K) and b (N, K) or a bias row (K,), got {sa} and {sb}")
    return Node(a.value + b.value, (a, b), "add", lambda G: add_vjp(G, sa, sb))


def relu(a: Node) -> Node:
    """``max(a, 0)`` elementwise."""
    a = _require_node("a", a)
    return Node(np.maximum(a.value, 0), (a,), "relu", lambda G: (relu_vjp(G, a.value),))


def sigmoid(a: Node) -> Node:
    """The logistic sigmoid, elementwise; its vjp uses the output it stores."""
    a = _require_node("a", a)
    # as nnlib.sigmoid computes it: exp(-|A|) never overflows (see the note on imports)
    E = np.exp(-np.abs(a.value))
    out = np.where(a.value >= 0, 1 / (1 + E), E / (1 + E)).astype(a.value.dtype, copy=False)
    return Node(out, (a,), "sigmoid", lambda G: (sigmoid_vjp(G, out),))


def tanh(a: Node) -> Node:
    """tanh, elementwise; its vjp uses the output it stores."""
    a = _require_node("a", a)
    out = np.tanh(a.value)
    return Node(out, (a,), "tanh", lambda G: (tanh_vjp(G, out),))


def softmax_cross_entropy(logits: Node, y: np.ndarray) -> Node:
    """The mean cross-entropy of ``logits`` (N, C) against integer labels ``y`` (N,): a 0-d node.

    ``y`` is data, not a node: no gradient flows to the labels.
    """
    logits = _require_node("logits", logits)
    Z = as_float_matrix("logits", logits.value)
    y = as_labels("y", y, Z.shape[0], Z.shape[1])
    top = Z.max(axis=1, keepdims=True)  # subtracted before exp, which would overflow
    log_probs = Z - top - np.log(np.exp(Z - top).sum(axis=1, keepdims=True))
    loss = np.asarray(-np.mean(log_probs[np.arange(len(y)), y]), dtype=Z.dtype)
    return Node(
        loss, (logits,), "softmax_cross_entropy", lambda g: (softmax_cross_entropy_vjp(g, Z, y),)
    )


# ------------------------------------------------------------------------ the backward pass


def topological_order(loss: Node) -> list[Node]:
    """Every node ``loss`` depends on (itself included), each after all of its parents.

    Parameters
    ----------
    loss : Node

    Returns
    -------
    order : list of Node
        Each node once (a node used twice is listed once), leaves early, ``loss`` last.
    """
    _require_node("loss", loss)
    ### BEGIN SOLUTION
    order, seen = [], set()

    def visit(node):  # depth first: a node joins the list after its parents
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(loss)
    return order
    ### END SOLUTION


def backward(loss: Node) -> None:
    """Fill ``.grad`` of every node ``loss`` depends on with the gradient of ``loss``.

    Each call starts afresh (every ``.grad`` of the graph is reset first), so calling it
    twice gives the same gradients, not twice them.

    Parameters
    ----------
    loss : Node
        A node whose value is a 0-d array (one number); its own gradient is 1.

    Returns
    -------
    None
        The gradients are in the nodes: ``node.grad`` has the shape and dtype of
        ``node.value``.
    """
    _require_node("loss", loss)
    if np.ndim(loss.value) != 0:
        raise ValueError(
            f"backward starts from a scalar loss (a 0-d value), got shape {np.shape(loss.value)}"
        )
    ### BEGIN SOLUTION
    order = topological_order(loss)
    for node in order:
        node.grad = None
    loss.grad = np.ones_like(loss.value)
    for node in reversed(order):  # a node comes after every node that uses it
        if not node.parents:
            continue
        for parent, g in zip(node.parents, node.vjp(node.grad), strict=True):
            # a parent used twice gets the sum; never +=, which would write into an array
            # that a vjp may have handed to another node too
            parent.grad = g if parent.grad is None else parent.grad + g
    ### END SOLUTION


# ------------------------------------------------------------------------ the MLP on the tape

_OPS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}


def mlp_gradients_autodiff(
    X: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray], activation: str = "relu"
) -> list[np.ndarray]:
    """The gradients of :func:`nnlib.mlp_gradients`, computed by recording the forward pass.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    weights : list of ndarray
        ``[W_1, ..., W_L]``.
    activation : {"relu", "sigmoid", "tanh"}, default "relu"

    Returns
    -------
    grads : list of ndarray, shaped like ``weights``
    """
    from .mlp import _validate_weights

    X = as_float_matrix("X", X)
    weights = _validate_weights(X, weights)
    as_labels("y", y, X.shape[0], weights[-1].shape[1])
    if activation not in _OPS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_OPS)}")
    sigma = _OPS[activation]
    Ws = [variable(W) for W in weights]
    Z = variable(X)
    for W in Ws[:-1]:
        Z = sigma(matmul(Z, W))
    loss = softmax_cross_entropy(matmul(Z, Ws[-1]), y)
    backward(loss)
    return [W.grad for W in Ws]
