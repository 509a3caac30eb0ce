"""Initial weights scaled to the layer's fan-in and fan-out, chosen by the activation.

Why scale at all: entry ``k`` of ``z = a W`` sums ``d_in`` products, so with independent zero-mean
weights of variance ``v`` its variance is ``d_in * v * E[a^2]``. Unless ``v`` is about ``1/d_in``
the activations grow or shrink by a constant factor per layer, geometrically with depth; the
backward pass multiplies by ``W^T`` and sums ``d_out`` terms, so it wants ``v`` near ``1/d_out``.

- **He** (Kaiming) for ReLU: ``v = 2 / d_in``. ReLU zeroes about half of its inputs, which halves
  ``E[a^2]``; the factor 2 gives it back.
- **Xavier** (Glorot) for tanh and the sigmoid: ``v = 2 / (d_in + d_out)``, a compromise between
  the forward (``1/d_in``) and the backward (``1/d_out``) condition for an activation with slope
  about 1 at 0. tanh has slope 1 there; the sigmoid has slope 1/4, so Xavier still lets sigmoid
  gradients shrink with depth (notebook 04 shows by how much).

The last layer (the logits) gets the rule of the network's activation too: one rule per network
keeps ``init_weights(sizes, rng, "relu")`` equal, draw for draw, to :func:`nnlib.mlp.init_mlp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from ._validation import require_float_dtype, require_positive_int


def he_std(d_in: int, d_out: int) -> float:
    """Standard deviation of He initialization, ``sqrt(2 / d_in)`` (ReLU)."""
    d_in = require_positive_int("d_in", d_in)
    require_positive_int("d_out", d_out)
    return float(np.sqrt(2.0 / d_in))


def xavier_std(d_in: int, d_out: int) -> float:
    """Standard deviation of Xavier initialization, ``sqrt(2 / (d_in + d_out))`` (tanh, sigmoid)."""
    d_in = require_positive_int("d_in", d_in)
    d_out = require_positive_int("d_out", d_out)
    return float(np.sqrt(2.0 / (d_in + d_out)))


#: The initialization that suits each activation of :data:`nnlib.ACTIVATIONS`.
INIT_FOR_ACTIVATION = {"relu": he_std, "tanh": xavier_std, "sigmoid": xavier_std}


def init_weights(
    layer_sizes: Sequence[int],
    rng: np.random.Generator,
    activation: str = "relu",
    dtype=np.float32,
) -> list[np.ndarray]:
    """Gaussian weights for an MLP, scaled for its activation (He for ReLU, else Xavier).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[D, H_1, ..., H_{L-1}, C]``; at least two entries.
    rng : numpy.random.Generator
    activation : {"relu", "tanh", "sigmoid"}, default "relu"
    dtype : numpy float dtype, default float32

    Returns
    -------
    weights : list of L ndarrays
        ``weights[i]`` has shape (layer_sizes[i], layer_sizes[i+1]) (the course's ``W_{i+1}``).
        For ``"relu"`` the same numbers as :func:`nnlib.mlp.init_mlp` with the same ``rng``.
    """
    if activation not in INIT_FOR_ACTIVATION:
        raise ValueError(
            f"activation must be one of {', '.join(INIT_FOR_ACTIVATION)}, got {activation!r}"
        )
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs at least [D, C], got {list(layer_sizes)}")
    sizes = [require_positive_int(f"layer_sizes[{i}]", s) for i, s in enumerate(layer_sizes)]
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    dtype = require_float_dtype("dtype", dtype)
    std = INIT_FOR_ACTIVATION[activation]
    return [
        (rng.standard_normal((d_in, d_out)) * std(d_in, d_out)).astype(dtype)
        for d_in, d_out in pairwise(sizes)
    ]
