"""Programs with one usual mistake each: how the grader and the checks' data recognise it.

Instructor side only (they are built from the reference ``nnlib``, so they never ship). Each
mutant has the signature of the task function it imitates and makes exactly the mistake of
the catalogue entry (:mod:`nnlib.mistakes`) it is filed under:

- :data:`VARIANTS`: run by the grader's diagnosis on every hidden case whose output is wrong,
  and by ``autograder/check_data.py`` on the visible checks' fixed inputs (their outputs are
  stored in ``nnlib/check_data.npz``, so the checks need no solution code);
- :data:`EXAMPLES`: one program for each entry that is recognised by a relation or a symptom
  rather than by a variant (``tests/test_mistakes.py`` runs every mutant of both tables through
  the visible check and the grader, and each must be named by both).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import nnlib


def _like(value, template: np.ndarray):
    """Cast an array (or each array of a tuple/list) to ``template``'s dtype."""
    if isinstance(value, np.ndarray):
        return value.astype(template.dtype, copy=False)
    if isinstance(value, tuple):
        return tuple(_like(v, template) for v in value)
    if isinstance(value, list):
        return [_like(v, template) for v in value]
    return value


def _rows(y):
    return np.arange(len(y)), np.asarray(y)


# ------------------------------------------------------------------------- softmax family


def _exp_no_shift(Z):
    with np.errstate(over="ignore", invalid="ignore"):
        E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)


def _softmax_over_columns(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def _log_of_softmax(Z):
    with np.errstate(divide="ignore"):
        return np.log(nnlib.softmax(Z))


def _loss_no_shift(Z, y):
    with np.errstate(all="ignore"):
        return float(-np.mean(np.log(_exp_no_shift(Z)[_rows(y)])))


def _logit_grad(how: str) -> Callable:
    def grad(Z, y):
        S = _exp_no_shift(Z) if how == "overflow_large_logits" else nnlib.softmax(Z)
        S = S.astype(np.float64)
        n = len(y)
        if how == "forgot_one_hot":
            G = S
        elif how == "subtracted_label_values":
            G = S - np.asarray(y)[:, None]
        elif how == "subtracted_label_columns":
            G = S.copy()
            G[:, y] -= 1
        else:  # overflow_large_logits: right formula, unstable softmax
            G = S.copy()
            G[_rows(y)] -= 1
        return _like(G / n, Z)

    return grad


def _theta_grad(how: str) -> Callable:
    def grad(X, y, theta):
        Z = X @ theta
        if how == "logits_for_probabilities":
            G = (Z - np.eye(theta.shape[1])[y]) / len(y)
        else:
            G = _logit_grad(how)(Z, y)
        return _like(X.T @ G, X)

    return grad


# ------------------------------------------------------------------------- two layers


def _nn_grad(how: str) -> Callable:
    def grad(X, y, W1, W2):
        U = X @ W1
        A = np.maximum(U, 0)
        G2 = nnlib.softmax_loss_grad(A @ W2, y)
        back = G2 @ W2.T
        dW2 = A.T @ G2
        if how == "relu_mask_missing":
            dW1 = X.T @ back
        elif how == "relu_mask_is_activation":
            dW1 = X.T @ (back * A)
        elif how == "relu_mask_from_wrong_array":
            dW1 = X.T @ (back * nnlib.relu_grad(back))
        else:  # preactivation_for_activation
            dW1, dW2 = X.T @ (back * (U > 0)), U.T @ G2
        return _like((dW1, dW2), X)

    return grad


# ------------------------------------------------------------------------- L layers


def _backward_sigma_at_output(dlogits, cache, weights):
    sigma = nnlib.get_activation(cache.activation)
    grads, G = [None] * len(weights), dlogits
    for i in range(len(weights) - 1, -1, -1):
        grads[i] = cache.inputs[i].T @ G
        if i > 0:
            G = (G @ weights[i].T) * sigma.derivative(cache.inputs[i])  # the output, not U
    return _like(grads, dlogits)


def _naive_sigma_at_output(X, y, weights, activation="relu"):
    logits, cache = nnlib.mlp_forward(X, weights, activation)
    return _backward_sigma_at_output(nnlib.softmax_loss_grad(logits, y), cache, weights)


def _forward_activation_on_logits(X, weights, activation="relu"):
    logits, cache = nnlib.mlp_forward(X, weights, activation)
    return nnlib.get_activation(activation).forward(logits), cache


def _forward_caches_activations(X, weights, activation="relu"):
    logits, cache = nnlib.mlp_forward(X, weights, activation)
    return logits, nnlib.MLPCache(cache.inputs, list(cache.inputs[1:]), activation)


# ------------------------------------------------------------------------- epochs


def _gradients(function: str) -> Callable:
    """``(Xb, yb, params, kwargs) -> list of gradients`` from the reference helper."""
    if function == "softmax_regression_epoch":
        return lambda X, y, p, kw: [nnlib.softmax_regression_grad(X, y, p[0])]
    if function == "nn_epoch":
        return lambda X, y, p, kw: list(nnlib.nn_gradients(X, y, *p))
    return lambda X, y, p, kw: nnlib.mlp_gradients(X, y, p, kw.get("activation", "relu"))


def _epoch(function: str, how: str) -> Callable:
    gradients = _gradients(function)

    def epoch(X, y, *params, lr=0.1, batch=100, **kwargs):
        params = list(params[0]) if function == "mlp_epoch" else list(params)
        n = X.shape[0]
        if how == "not_in_place":
            return None  # W = W - lr * dW rebinds a local name: the caller's arrays never change
        if how == "one_step_on_all_data":
            batch = n
        if how == "update_sign_flipped":
            lr = -lr
        if how == "empty_last_batch":
            starts = [b * batch for b in range(n // batch + 1)]
        elif how == "skipped_last_batch":
            starts = range(0, n - batch + 1, batch)
        else:
            starts = range(0, n, batch)
        for start in starts:
            Xb, yb = X[start : start + batch], y[start : start + batch]
            if how == "updated_before_backprop_done":
                _update_while_backpropagating(function, Xb, yb, params, lr, kwargs)
                continue
            for W, g in zip(params, gradients(Xb, yb, params, kwargs), strict=True):
                W -= lr * g

    return epoch


def _update_while_backpropagating(function, X, y, params, lr, kwargs):
    """Each weight updated as soon as its gradient is known; lower layers see the new one."""
    if function == "nn_epoch":
        W1, W2 = params
        U = X @ W1
        A = np.maximum(U, 0)
        G2 = nnlib.softmax_loss_grad(A @ W2, y)
        W2 -= lr * (A.T @ G2)
        G1 = (G2 @ W2.T) * (U > 0)  # uses the W2 just updated
        W1 -= lr * (X.T @ G1)
        return
    activation = kwargs.get("activation", "relu")
    sigma = nnlib.get_activation(activation)
    logits, cache = nnlib.mlp_forward(X, params, activation)
    G = nnlib.softmax_loss_grad(logits, y)
    for i in range(len(params) - 1, -1, -1):
        params[i] -= lr * (cache.inputs[i].T @ G)
        if i > 0:
            G = (G @ params[i].T) * sigma.derivative(cache.preactivations[i - 1])


_EPOCH_MISTAKES = (
    "not_in_place",
    "skipped_last_batch",
    "one_step_on_all_data",
    "update_sign_flipped",
)


def _epoch_variants(function: str) -> dict[str, Callable]:
    names = [*_EPOCH_MISTAKES, "empty_last_batch"]
    if function != "softmax_regression_epoch":
        names.append("updated_before_backprop_done")
    return {name: _epoch(function, name) for name in names}


# ------------------------------------------------------------------------- autodiff


def _sce_vjp(how: str) -> Callable:
    def vjp(g, logits, y):
        G = _logit_grad(how)(logits, y)
        return G if how == "ignored_upstream_gradient" else _like(g * G, logits)

    return vjp


def _graph_order(loss):
    order, seen = [], set()

    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            for parent in node.parents:
                visit(parent)
            order.append(node)

    visit(loss)
    return order


def _backward(how: str) -> Callable:
    def backward(loss):
        order = _graph_order(loss)
        for node in order:
            node.grad = None
        loss.grad = np.ones_like(loss.value)
        if how == "backward_before_all_contributions":
            _push(loss)
            return
        for node in reversed(order):
            if not node.parents:
                continue
            for parent, g in zip(node.parents, node.vjp(node.grad), strict=True):
                if parent.grad is None or how == "backward_overwrites":
                    parent.grad = g
                elif how == "backward_accumulates_in_place":
                    parent.grad += g
                else:
                    parent.grad = parent.grad + g

    return backward


def _push(node):
    """Depth first from the loss: each parent passes on its whole gradient so far, at once."""
    if not node.parents:
        return
    for parent, g in zip(node.parents, node.vjp(node.grad), strict=True):
        parent.grad = g if parent.grad is None else parent.grad + g
        _push(parent)


def _order_mutant(how: str) -> Callable:
    def order(loss):
        if how == "topo_listed_twice":  # no memory of visited nodes
            out = []

            def visit(node):
                for parent in node.parents:
                    visit(parent)
                out.append(node)

            visit(loss)
            return out
        if how == "topo_reversed":
            return _graph_order(loss)[::-1]
        if how == "topo_missing_nodes":  # stops at the loss's own parents
            return [*dict.fromkeys(loss.parents), loss]
        # breadth first from the loss, then reversed: wrong when a node is reached twice
        out, frontier = [], [loss]
        while frontier:
            node = frontier.pop(0)
            if node not in out:
                out.append(node)
            frontier += node.parents
        return out[::-1]

    return order


def _checkpoint_wrong_start(X, y, weights, activation="relu", every=1):
    """Each checkpoint is stored before the layer below it runs: one layer too early."""
    sigma = nnlib.get_activation(activation)
    L = len(weights)
    checkpoints, Z = {0: X}, X
    for i, W in enumerate(weights[:-1]):
        if (i + 1) % every == 0:
            checkpoints[i + 1] = Z  # the mistake: Z is still layer i's input
        Z = sigma.forward(Z @ W)
    G = nnlib.softmax_loss_grad(Z @ weights[-1], y)
    grads = [None] * L
    for start in range(((L - 1) // every) * every, -1, -every):
        stop = min(start + every, L)
        inputs, pre, Z = [], [], checkpoints[start]
        for i in range(start, stop):
            inputs.append(Z)
            if i < L - 1:
                pre.append(Z @ weights[i])
                Z = sigma.forward(pre[-1])
        for i in range(stop - 1, start - 1, -1):
            if i < L - 1:
                G = G * sigma.derivative(pre[i - start])
            grads[i] = inputs[i - start].T @ G
            if i > 0:
                G = G @ weights[i].T
    return grads


def _checkpoint_sigma_at_output(X, y, weights, activation="relu", every=1):
    logits, cache = nnlib.mlp_forward(X, weights, activation)
    return _backward_sigma_at_output(nnlib.softmax_loss_grad(logits, y), cache, weights)


def _bias_grads(how: str) -> Callable:
    def grads(X, y, W1, b1, W2, b2):
        U = X @ W1 + b1
        A = np.maximum(U, 0)
        G3 = nnlib.softmax_loss_grad(A @ W2 + b2, y)
        G2 = G3 @ W2.T if how == "bias_relu_mask_missing" else (G3 @ W2.T) * (U > 0)
        if how == "bias_not_summed":
            return _like((X.T @ G2, G2, A.T @ G3, G3), X)
        if how == "bias_averaged":
            return _like((X.T @ G2, G2.mean(axis=0), A.T @ G3, G3.mean(axis=0)), X)
        return _like((X.T @ G2, G2.sum(axis=0), A.T @ G3, G3.sum(axis=0)), X)

    return grads


def _add_vjp(how: str) -> Callable:
    def vjp(G, a_shape, b_shape):
        if tuple(b_shape) == tuple(a_shape):
            return G, G
        return G, (G if how == "bias_not_summed" else G.mean(axis=0))

    return vjp


def _sigmoid(A):
    return nnlib.sigmoid(A)


def _same(fns: dict, *functions: str) -> dict:
    return dict.fromkeys(functions, fns)


#: ``VARIANTS[function][mistake]``: a program with that mistake, same signature as ``function``.
VARIANTS: dict[str, dict[str, Callable]] = {
    "softmax": {
        "overflow_large_logits": _exp_no_shift,
        "softmax_over_columns": _softmax_over_columns,
        "softmax_not_normalized": lambda Z: np.exp(Z - Z.max(axis=1, keepdims=True)),
    },
    "log_softmax": {
        "log_of_softmax": _log_of_softmax,
        "log_softmax_no_logsumexp": lambda Z: Z - Z.max(axis=1, keepdims=True),
        "log_softmax_is_softmax": lambda Z: nnlib.softmax(Z),
    },
    "softmax_loss": {"overflow_large_logits": _loss_no_shift},
    **_same(
        {
            name: _logit_grad(name)
            for name in (
                "overflow_large_logits",
                "forgot_one_hot",
                "subtracted_label_values",
                "subtracted_label_columns",
            )
        },
        "softmax_loss_grad",
        "softmax_loss_grad_naive",
    ),
    **_same(
        {
            name: _theta_grad(name)
            for name in (
                "forgot_one_hot",
                "subtracted_label_values",
                "subtracted_label_columns",
                "logits_for_probabilities",
            )
        },
        "softmax_regression_grad",
        "softmax_regression_grad_naive",
    ),
    **_same(
        {
            name: _nn_grad(name)
            for name in (
                "relu_mask_missing",
                "relu_mask_is_activation",
                "relu_mask_from_wrong_array",
                "preactivation_for_activation",
            )
        },
        "nn_gradients",
        "nn_gradients_naive",
    ),
    "mlp_forward": {
        "activation_on_logits": _forward_activation_on_logits,
        "activations_cached_as_preactivations": _forward_caches_activations,
    },
    "mlp_backward": {"sigma_at_output": _backward_sigma_at_output},
    "mlp_gradients_naive": {"sigma_at_output": _naive_sigma_at_output},
    "relu": {"relu_is_mask": lambda Z: (Z > 0).astype(Z.dtype)},
    "relu_grad": {
        "relu_grad_one_at_zero": lambda Z: (Z >= 0).astype(Z.dtype),
        "relu_grad_is_relu": lambda Z: np.maximum(Z, 0),
        "relu_grad_inverted": lambda Z: (Z <= 0).astype(Z.dtype),
    },
    "radial_features": {
        "radius_not_squared": lambda X: np.concatenate(
            [X, np.sqrt((X * X).sum(axis=1, keepdims=True))], axis=1
        )
    },
    "random_relu_features": {"features_without_relu": lambda X, W: X @ W},
    **{f: _epoch_variants(f) for f in ("softmax_regression_epoch", "nn_epoch", "mlp_epoch")},
    "add_vjp": {name: _add_vjp(name) for name in ("bias_not_summed", "bias_averaged")},
    "relu_vjp": {
        "ignored_upstream_gradient": lambda G, A: (A > 0).astype(A.dtype),
        "relu_vjp_mask_from_G": lambda G, A: G * (G > 0),
        "relu_grad_one_at_zero": lambda G, A: G * (A >= 0),
    },
    "sigmoid_vjp": {
        "ignored_upstream_gradient": lambda G, out: out * (1 - out),
        "vjp_from_input": lambda G, out: G * _sigmoid(out) * (1 - _sigmoid(out)),
    },
    "tanh_vjp": {
        "ignored_upstream_gradient": lambda G, out: 1 - out * out,
        "vjp_from_input": lambda G, out: G * (1 - np.tanh(out) ** 2),
    },
    "softmax_cross_entropy_vjp": {
        name: _sce_vjp(name)
        for name in (
            "overflow_large_logits",
            "forgot_one_hot",
            "subtracted_label_values",
            "subtracted_label_columns",
            "ignored_upstream_gradient",
        )
    },
    "topological_order": {
        name: _order_mutant(name)
        for name in (
            "topo_listed_twice",
            "topo_reversed",
            "topo_missing_nodes",
            "topo_parent_after_child",
        )
    },
    "backward": {
        name: _backward(name)
        for name in (
            "backward_overwrites",
            "backward_accumulates_in_place",
            "backward_before_all_contributions",
        )
    },
    "mlp_gradients_checkpointed": {
        "checkpoint_wrong_start": _checkpoint_wrong_start,
        "sigma_at_output": _checkpoint_sigma_at_output,
    },
    "nn_gradients_bias": {
        name: _bias_grads(name)
        for name in ("bias_not_summed", "bias_averaged", "bias_relu_mask_missing")
    },
}


def _in_place_relu(Z):
    return np.maximum(Z, 0, out=Z)


#: ``EXAMPLES[mistake] = (function, program)`` for entries recognised by a relation or a symptom.
EXAMPLES: dict[str, tuple[str, Callable]] = {
    "float64_upcast": ("relu_grad", lambda Z: np.where(Z > 0, 1.0, 0.0)),
    "bool_output": ("relu_grad", lambda Z: Z > 0),
    "transposed": (
        "softmax_regression_grad",
        lambda X, y, t: nnlib.softmax_regression_grad(X, y, t).T,
    ),
    "summed_not_averaged": (
        "softmax_loss_grad",
        lambda Z, y: len(y) * nnlib.softmax_loss_grad(Z, y),
    ),
    "divided_twice": (
        "nn_gradients",
        lambda X, y, W1, W2: tuple(g / len(y) for g in nnlib.nn_gradients(X, y, W1, W2)),
    ),
    "sign_flipped": (
        "softmax_regression_grad",
        lambda X, y, t: -nnlib.softmax_regression_grad(X, y, t),
    ),
    "loss_sign_flipped": ("softmax_loss", lambda Z, y: -nnlib.softmax_loss(Z, y)),
    "loss_not_scalar": (
        "softmax_loss",
        lambda Z, y: -nnlib.log_softmax(Z)[np.arange(len(y)), y],
    ),
    "modified_input": ("relu", _in_place_relu),
    "outputs_swapped": ("matmul_vjp", lambda G, A, B: nnlib.matmul_vjp(G, A, B)[::-1]),
    "topo_not_nodes": (
        "topological_order",
        lambda loss: [node.value for node in nnlib.topological_order(loss)],
    ),
}

#: Entries the grader cannot see, and why (the tests exempt them from "named by the grader").
CHECK_ONLY: dict[str, str] = {
    "modified_input": (
        "the grader passes each call its own copies, and a relu that also overwrites its "
        "input still returns the right values; only the visible check looks at the input after "
        "the call"
    ),
}
