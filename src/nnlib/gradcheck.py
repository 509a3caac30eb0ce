"""Numerical gradients by central differences, and a checker that reports the worst entries.

The numerical gradient is computed in float64 whatever the input dtype: a float32 loss has
about 7 significant digits, too few to difference reliably.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._validation import require_positive_float


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of a scalar function of an array.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; called ``2 * x.size`` times on float64 copies of ``x``.
    x : ndarray of any shape, float
        The point at which to differentiate; not modified.
    eps : float, default 1e-5
        Step size.

    Returns
    -------
    grad : ndarray of the shape of ``x``, float64
        ``(f(x + eps e_k) - f(x - eps e_k)) / (2 eps)`` for every entry k.
    """
    _require_float_array("x", x)
    if not callable(f):
        raise TypeError(f"f must be a function of x that returns the loss, got {type(f).__name__}")
    eps = require_positive_float("eps", eps)
    point = x.astype(np.float64)  # a copy: the caller's array is never touched
    grad = np.zeros_like(point)
    flat, gflat = point.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + eps
        f_plus = _scalar_loss(f(point))
        flat[k] = saved - eps
        f_minus = _scalar_loss(f(point))
        flat[k] = saved
        gflat[k] = (f_plus - f_minus) / (2 * eps)
    return grad


def _require_float_array(name: str, value) -> None:
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
        shown = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        raise TypeError(f"{name} must be a floating ndarray, got {shown}")


def _scalar_loss(value) -> float:
    """``value``, what ``f`` returned, as a float, or a TypeError that says what it was."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise TypeError(
                f"f must return one number (the loss), but it returned an array of shape "
                f"{value.shape}; sum or average it inside f"
            )
        value = value.reshape(())  # float() of a 1-element 1-D array is deprecated in numpy 2
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"f must return one number (the loss), but it returned {type(value).__name__}"
        ) from None


def _real_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, or a TypeError naming ``name`` if it is not real numbers."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":  # bool, signed, unsigned, float
        raise TypeError(
            f"{name} must hold real numbers (an int or float array), got dtype {array.dtype}"
            + (
                " (complex: compare the real and imaginary parts apart)"
                if array.dtype.kind == "c"
                else ""
            )
        )
    return array.astype(np.float64, copy=False)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error ``||a - b|| / max(||a|| + ||b||, tiny)`` in float64; 0 means equal.

    ``a`` and ``b`` are arrays (or nested lists) of real numbers of one shape. Complex values
    are refused rather than compared by their real parts alone.
    """
    a, b = _real_array("a", a), _real_array("b", b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    denom = max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)
    return float(np.linalg.norm(a - b) / denom)


class GradientCheck(NamedTuple):
    """Result of :func:`check_gradient`.

    Attributes
    ----------
    ok : bool
        Whether ``rel_error <= tol``.
    rel_error : float
        Relative error between the analytic and the numerical gradient.
    tol : float
    worst : list of (index, analytic, numerical)
        The entries that disagree most, worst first.
    """

    ok: bool
    rel_error: float
    tol: float
    worst: list

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        lines = [
            f"gradient check {verdict}: relative error {self.rel_error:.2e} (tol {self.tol:g})"
        ]
        for index, analytic, numeric in self.worst:
            lines.append(f"  at {index}: analytic {analytic:+.6g}, numerical {numeric:+.6g}")
        return "\n".join(lines)


def check_gradient(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic: np.ndarray,
    tol: float = 1e-4,
    eps: float = 1e-5,
    n_worst: int = 3,
) -> GradientCheck:
    """Compare an analytic gradient of ``f`` at ``x`` with the numerical one.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, evaluated in float64.
    x : ndarray of any shape, float
    analytic : ndarray of the shape of ``x``
        The gradient to check.
    tol : float, default 1e-4
        Largest acceptable relative error (float32 gradients reach about 1e-6).
    eps : float, default 1e-5
    n_worst : int, default 3
        How many of the most different entries to report.

    Returns
    -------
    GradientCheck
    """
    _require_float_array("x", x)
    tol = require_positive_float("tol", tol)
    if isinstance(n_worst, bool) or not isinstance(n_worst, int | np.integer) or n_worst < 0:
        raise ValueError(f"n_worst must be a non-negative integer, got {n_worst!r}")
    analytic = _real_array("analytic", analytic)
    if analytic.shape != x.shape:
        raise ValueError(f"analytic gradient has shape {analytic.shape}, but x has {x.shape}")
    numeric = numerical_gradient(f, x, eps)
    err = relative_error(analytic, numeric)
    diff = np.abs(analytic.astype(np.float64) - numeric).reshape(-1)
    order = np.argsort(diff)[::-1][:n_worst]
    worst = [
        (
            np.unravel_index(k, x.shape),
            float(analytic.reshape(-1)[k]),
            float(numeric.reshape(-1)[k]),
        )
        for k in order
    ]
    worst = [(tuple(int(i) for i in idx), a, n) for idx, a, n in worst]
    return GradientCheck(bool(err <= tol), err, tol, worst)
