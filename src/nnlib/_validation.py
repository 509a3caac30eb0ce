"""Input validation shared by the public functions of ``nnlib``.

Every public entry point validates its arguments once, here, so that a wrong shape or dtype
fails with a message that names the argument, the expected and the actual value, instead of a
broadcasting surprise deep inside numpy.
"""

from __future__ import annotations

import numpy as np


def as_float_matrix(name: str, value, *, ndim: int = 2, allow_empty: bool = False) -> np.ndarray:
    """Return ``value`` as a floating ndarray of ``ndim`` dimensions, or raise.

    Raises
    ------
    TypeError
        If ``value`` is not an ndarray or its dtype is not floating point.
    ValueError
        If it has the wrong number of dimensions or (unless ``allow_empty``) no elements.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64), got {value.dtype}; "
            f"convert it with {name}.astype(np.float32)"
        )
    if value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {value.shape} ({value.ndim}-D)")
    if not allow_empty and value.size == 0:
        raise ValueError(f"{name} is empty (shape {value.shape}); it needs at least one entry")
    return value


def as_labels(name: str, y, n: int, num_classes: int | None = None) -> np.ndarray:
    """Return integer labels ``y`` of shape (n,), each in [0, num_classes), or raise."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray of integer labels, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the {n} rows, got {y.shape}")
    if num_classes is not None and n > 0:
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name} must lie in [0, {num_classes}) for {num_classes} classes, "
                f"found values from {low} to {high}"
            )
    return y


def require_shape(name: str, value: np.ndarray, expected: tuple) -> None:
    """Raise ``ValueError`` unless ``value.shape`` equals ``expected`` (``None`` matches any)."""
    ok = len(value.shape) == len(expected) and all(
        e is None or e == a for e, a in zip(expected, value.shape, strict=True)
    )
    if not ok:
        shown = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {shown}, got {value.shape}")


def require_same_dtype(**arrays: np.ndarray) -> None:
    """Raise ``TypeError`` when the given float arrays do not share one dtype.

    Mixing float32 data with float64 weights would silently upcast every product; an epoch
    updates weights in place, so it insists on one precision.
    """
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n} is {d}" for n, d in dtypes.items())
        raise TypeError(f"arrays must share one float dtype: {listed}")


def require_positive_int(name: str, value) -> int:
    """Return ``value`` if it is a positive integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def require_writable(name: str, value: np.ndarray) -> None:
    """Raise unless ``value`` can be updated in place (an epoch writes into its weights)."""
    if not value.flags.writeable:
        raise ValueError(f"{name} is read-only, but the epoch updates it in place")
