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
}

#: Entries the grader cannot see, and why (the tests exempt them from "named by the grader").
CHECK_ONLY: dict[str, str] = {
    "modified_input": (
        "the grader passes each call its own copies, and a relu that also overwrites its "
        "input still returns the right values; only the visible check looks at the input after "
        "the call"
    ),
}
