"""Elementwise activation functions and their derivatives, selectable by name.

Each derivative takes the *pre-activation* ``Z`` (the input of the activation), because that
is what the chain rule multiplies by: ``dL/dZ = dL/dA * sigma'(Z)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


def relu(Z: np.ndarray) -> np.ndarray:
    """Rectified linear unit, ``max(Z, 0)`` elementwise.

    Parameters
    ----------
    Z : ndarray of any shape, float
        Pre-activations.

    Returns
    -------
    A : ndarray of the same shape and dtype as ``Z``
    """
    ### BEGIN SOLUTION
    return np.maximum(Z, 0)
    ### END SOLUTION


def relu_grad(Z: np.ndarray) -> np.ndarray:
    """Derivative of ReLU at ``Z``: 1 where ``Z > 0``, else 0 (we take 0 at exactly 0).

    Parameters
    ----------
    Z : ndarray of any shape, float
        Pre-activations (the *input* of the ReLU, not its output).

    Returns
    -------
    dA_dZ : ndarray of the same shape and dtype as ``Z``
    """
    ### BEGIN SOLUTION
    return (Z > 0).astype(Z.dtype)
    ### END SOLUTION


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-Z))``, computed without overflow for large ``|Z|``."""
    # exp(-|Z|) never overflows; the two branches are the same function rewritten.
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E)).astype(Z.dtype, copy=False)


def sigmoid_grad(Z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid at ``Z``: ``s (1 - s)`` with ``s = sigmoid(Z)``."""
    S = sigmoid(Z)
    return S * (1 - S)


def tanh(Z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, elementwise."""
    return np.tanh(Z)


def tanh_grad(Z: np.ndarray) -> np.ndarray:
    """Derivative of tanh at ``Z``: ``1 - tanh(Z)**2``."""
    T = np.tanh(Z)
    return 1 - T * T


class Activation(NamedTuple):
    """An activation function together with its derivative (both take the pre-activation)."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", relu, relu_grad),
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_grad),
    "tanh": Activation("tanh", tanh, tanh_grad),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the known activations.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
