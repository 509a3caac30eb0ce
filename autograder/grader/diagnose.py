"""Name the likely mistake: compare a wrong output with the usual wrong variants.

Each variant recomputes a task's output the way a typical mistake would (off by the batch
size, sign flipped, transposed, ReLU mask missing or applied wrongly, normalized over the
wrong axis, one-hot labels misused, ...). The first variant that matches the student's array
becomes the feedback, so a student reads "N times too large: ..." rather than "mismatch".
"""

from __future__ import annotations

import numpy as np

import nnlib

from .cases import Case, run_reference

LOOSE_RTOL, LOOSE_ATOL = 1e-3, 1e-4


def close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    """Shape-exact, NaN-aware closeness in float64."""
    if got.shape != want.shape:
        return False
    g, w = got.astype(np.float64), want.astype(np.float64)
    return bool(np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=False))


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _one_hot_variants(S, y):
    n = S.shape[0]
    wrong_columns = S.copy()
    wrong_columns[:, y] -= 1
    return [
        ("forgot to subtract the one-hot labels: the gradient is (S - I_y) / N, not S / N", S / n),
        (
            "subtracted the label values themselves (S - y[:, None]) instead of a one-hot matrix "
            "I_y; subtract 1 only at (i, y_i)",
            (S - y[:, None]) / n,
        ),
        (
            "subtracted 1 in the labels' columns of every row (G[:, y] -= 1); subtract it only at "
            "(i, y_i): G[np.arange(N), y] -= 1",
            wrong_columns / n,
        ),
    ]


def _logit_grad_variants(case):
    Z, y = case.args[0], case.args[1]
    return {f"return: {m}": {"return": v} for m, v in _one_hot_variants(_softmax(Z), y)}


def _theta_grad_variants(case):
    X, y, theta = case.args
    Z = X @ theta
    out = {f"return: {m}": {"return": X.T @ v} for m, v in _one_hot_variants(_softmax(Z), y)}
    I_y = np.eye(theta.shape[1])[y]
    out["return: used the logits X theta where the softmax probabilities belong"] = {
        "return": X.T @ (Z - I_y) / X.shape[0]
    }
    return out


def _two_layer_variants(case):
    X, y, W1, W2 = case.args
    Z1 = X @ W1
    A1 = np.maximum(Z1, 0)
    G2 = _softmax(A1 @ W2)
    G2[np.arange(X.shape[0]), y] -= 1
    G2 /= X.shape[0]
    back = G2 @ W2.T
    return {
        "dW1: the ReLU mask is missing; multiply by 1[X W1 > 0] before X^T": {
            "return.0": X.T @ back
        },
        "dW1: multiplied by the activation A1 = ReLU(X W1) instead of the 0/1 mask 1[X W1 > 0]": {
            "return.0": X.T @ (back * A1)
        },
        "dW2: used the pre-activation X W1 instead of A1 = ReLU(X W1)": {"return.1": Z1.T @ G2},
    }


def _mlp_backward_reference(dlogits, inputs, preactivations, weights, activation, at_output):
    sigma = nnlib.get_activation(activation)
    grads, G = [None] * len(weights), dlogits
    for i in range(len(weights) - 1, -1, -1):
        grads[i] = inputs[i].T @ G
        if i > 0:
            where = inputs[i] if at_output else preactivations[i - 1]
            G = (G @ weights[i].T) * sigma.derivative(where)
    return {f"return.{i}": g for i, g in enumerate(grads)}


def _mlp_backward_variants(case):
    dlogits, cache, weights = case.args
    return {
        "σ' evaluated at the layer's output σ(U) instead of at its input U (the "
        "pre-activation kept in the cache)": _mlp_backward_reference(
            dlogits, cache.inputs, cache.preactivations, weights, cache.activation, True
        )
    }


def _mlp_naive_variants(case):
    X, y, weights, activation = case.args
    logits, cache = nnlib.mlp_forward(X, weights, activation)
    dlogits = nnlib.softmax_loss_grad(logits, y)
    return {
        "σ' evaluated at the layer's output σ(U) instead of at its input U": (
            _mlp_backward_reference(
                dlogits, cache.inputs, cache.preactivations, weights, activation, True
            )
        )
    }


def _mlp_forward_variants(case):
    X, weights, activation = case.args
    logits, cache = nnlib.mlp_forward(X, weights, activation)
    sigma = nnlib.get_activation(activation)
    wrong_cache = {f"return.1.1.{i}": cache.inputs[i + 1] for i in range(len(cache.preactivations))}
    return {
        "logits: applied the activation to the last layer too; the logits are linear": {
            "return.0": sigma.forward(logits)
        },
        "cache: stored the activations σ(U) where the pre-activations U belong": wrong_cache,
    }


def _epoch_variants(function):
    def variants(case):
        X, batch = case.args[0], case.kwargs["batch"]
        kept = X.shape[0] - X.shape[0] % batch
        out = {}
        if kept not in (0, X.shape[0]):
            short = Case(
                case.name,
                case.label,
                [a for a in case.args],
                dict(case.kwargs),
                inplace=case.inplace,
            )
            short.args = [X[:kept], case.args[1][:kept], *case.args[2:]]
            out["dropped the last, partial minibatch; it must be included"] = short
        whole = Case(
            case.name,
            case.label,
            case.args,
            {**case.kwargs, "batch": X.shape[0]},
            inplace=case.inplace,
        )
        if batch != X.shape[0]:
            out["took one step on the whole data set; step once per minibatch of size batch"] = (
                whole
            )
        out["moved along the gradient (sign flipped): subtract lr * gradient"] = Case(
            case.name,
            case.label,
            case.args,
            {**case.kwargs, "lr": -case.kwargs["lr"]},
            inplace=case.inplace,
        )
        return {m: run_reference(function, c) for m, c in out.items()}

    return variants


def _relu_grad_variants(case):
    (Z,) = case.args
    return {
        "derivative 1 at Z == 0 (Z >= 0); the course takes 0 at exactly 0 (Z > 0)": {
            "return": (Z >= 0).astype(Z.dtype)
        },
        "returned ReLU(Z) itself, not its derivative 1[Z > 0]": {"return": np.maximum(Z, 0)},
    }


def _simple(**named):
    def variants(case):
        return {m: {"return": f(*case.args)} for m, f in named.items()}

    return variants


def _softmax_axis0(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


_SPECIFIC = {
    "softmax": _simple(
        **{
            "normalized over the columns (axis=0); each row must sum to one": _softmax_axis0,
            "forgot to divide by the row sums": lambda Z: np.exp(Z - Z.max(axis=1, keepdims=True)),
        }
    ),
    "log_softmax": _simple(
        **{
            "forgot to subtract the log-sum-exp of each row": lambda Z: Z - Z.max(1, keepdims=True),
            "returned the softmax, not its log": _softmax,
        }
    ),
    "softmax_loss_grad": _logit_grad_variants,
    "softmax_loss_grad_naive": _logit_grad_variants,
    "softmax_regression_grad": _theta_grad_variants,
    "softmax_regression_grad_naive": _theta_grad_variants,
    "radial_features": _simple(
        **{
            "appended the radius sqrt(x² + y²) instead of its square": lambda X: np.concatenate(
                [X, np.sqrt((X * X).sum(1, keepdims=True))], axis=1
            ),
        }
    ),
    "random_relu_features": _simple(**{"forgot the ReLU: returned X W": lambda X, W: X @ W}),
    "relu": _simple(**{"returned the 0/1 mask (that is relu_grad)": lambda Z: (Z > 0) * 1.0}),
    "relu_grad": _relu_grad_variants,
    "nn_gradients": _two_layer_variants,
    "nn_gradients_naive": _two_layer_variants,
    "mlp_forward": _mlp_forward_variants,
    "mlp_backward": _mlp_backward_variants,
    "mlp_gradients_naive": _mlp_naive_variants,
    "softmax_regression_epoch": _epoch_variants("softmax_regression_epoch"),
    "nn_epoch": _epoch_variants("nn_epoch"),
    "mlp_epoch": _epoch_variants("mlp_epoch"),
}

_GRADIENT_TASKS = {
    "softmax_loss",
    "softmax_loss_grad",
    "softmax_loss_grad_naive",
    "softmax_regression_grad",
    "softmax_regression_grad_naive",
    "nn_gradients",
    "nn_gradients_naive",
    "mlp_backward",
    "mlp_gradients_naive",
}


def _generic(function: str, case: Case, key: str, want: np.ndarray, got: np.ndarray):
    if (
        got.shape == want.T.shape
        and got.shape != want.shape
        and close(got, want.T, LOOSE_RTOL, LOOSE_ATOL)
    ):
        return f"{key} is transposed: expected shape {want.shape}, got {got.shape}"
    if got.shape != want.shape:
        return None
    if close(got, -want, LOOSE_RTOL, LOOSE_ATOL):
        return f"{key} has the sign flipped"
    n = case.batch
    if function in _GRADIENT_TASKS and n > 1:
        if close(got, want * n, LOOSE_RTOL, LOOSE_ATOL):
            return (
                f"{key} is N = {n} times too large: the loss is a mean over the batch, divide by N"
            )
        if close(got, want / n, LOOSE_RTOL, LOOSE_ATOL):
            return f"{key} is divided by N = {n} once too often"
    return None


def likely_mistakes(function: str, case: Case, got: dict) -> list[str]:
    """Messages naming the likely mistake for each wrong output of a case (maybe none)."""
    messages, specific = [], None
    for key, want in case.expected.items():
        have = got.get(key)
        if not isinstance(have, np.ndarray) or close(have, want, LOOSE_RTOL, LOOSE_ATOL):
            continue
        message = _generic(function, case, key, want, have)
        if message is None and function in _SPECIFIC:
            if specific is None:
                try:
                    specific = _SPECIFIC[function](case)
                except (ValueError, TypeError, IndexError):
                    specific = {}
            for text, outputs in specific.items():
                if key in outputs and close(have, outputs[key], LOOSE_RTOL, LOOSE_ATOL):
                    message = text if ":" in text.split(" ")[0] else f"{key}: {text}"
                    break
        if message and message not in messages:
            messages.append(message)
    return messages
