"""Input validation shared by the public functions of ``nnlib``.

Every public entry point validates its arguments once, here, so that a wrong shape or dtype
fails with a message that names the argument, the expected and the actual value, instead of a
broadcasting surprise deep inside numpy.

Float dtypes may differ between arguments, as they may in numpy: float32 data with float64
weights (what ``np.random.randn(...).astype(np.float32) / np.sqrt(n)`` gives under NumPy 2)
computes in float64 by numpy's promotion, and an epoch updates each weight in its own dtype.
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
        if np.issubdtype(value.dtype, np.integer) or value.dtype == bool:
            hint = (
                f"convert it first: {name}.astype(np.float32) / 255 for pixels 0-255 "
                f"(what parse_mnist returns), {name}.astype(np.float32) for other numbers"
            )
        else:
            hint = f"convert it with {name}.astype(np.float32)"
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64), got {value.dtype}; {hint}"
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


def require_positive_int(name: str, value) -> int:
    """Return ``value`` if it is a positive integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def require_learning_rate(value, name: str = "lr") -> float:
    """Return the learning rate ``value`` as a Python float, or raise.

    A Python float keeps float32 arithmetic in float32 (NumPy 2 promotes ``np.float64(0.1) *``
    a float32 array to float64). ``True``, strings, ``None``, NaN and infinities are refused.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} (the learning rate) must be a real number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} (the learning rate) must be finite, got {value}")
    return float(value)


def require_positive_float(name: str, value) -> float:
    """Return ``value`` as a Python float if it is a positive finite real number, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def require_float_dtype(name: str, dtype) -> np.dtype:
    """Return ``dtype`` as a numpy dtype if it is a floating type (float32, float64), else raise."""
    try:
        found = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"{name} must be a numpy float dtype such as np.float32, got {dtype!r}"
        ) from exc
    if not np.issubdtype(found, np.floating):
        raise TypeError(
            f"{name} must be a float dtype (np.float32 or np.float64), got {found}: "
            "weights of another dtype would be rounded or cast at every step"
        )
    return found


def require_writable(name: str, value: np.ndarray) -> None:
    """Raise unless ``value`` can be updated in place (an epoch writes into its weights)."""
    if not value.flags.writeable:
        raise ValueError(f"{name} is read-only, but the epoch updates it in place")


def require_apart(data_name: str, data: np.ndarray, **weights: np.ndarray) -> None:
    """Raise unless every weight array is apart from ``data`` in memory.

    An epoch updates its weights in place while it reads the data; a weight that is a view of
    the data would change the examples still to come.
    """
    for name, W in weights.items():
        if np.may_share_memory(W, data):
            raise ValueError(
                f"{name} shares memory with {data_name}: the epoch updates {name} in place "
                f"while it reads {data_name}; pass a copy ({name}.copy())"
            )
