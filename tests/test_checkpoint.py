"""Backward passes without the whole cache: recomputation and checkpointing (notebook 06).

Both must give ``nnlib.mlp_gradients`` exactly enough (1e-12 relative in float64) for every
checkpoint spacing, and keep less memory than the cache when the network is deep.
"""

import numpy as np
import pytest
from strategies import describe, ref_weight_grads, rel_err

import nnlib


def _problem(depth, dtype=np.float64, seed=0, n=7, width=6):
    rng = np.random.default_rng(seed)
    sizes = [5, *[width] * (depth - 1), 3]
    X = rng.normal(size=(n, 5)).astype(dtype)
    return X, rng.integers(0, 3, n), nnlib.init_mlp(sizes, rng, dtype=dtype)


def _assert_equal_grads(got, want, tol, what):
    assert len(got) == len(want), f"{what}: {len(got)} gradients for {len(want)} layers"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape, f"{what}: dW{i + 1} {describe(g, w)}"
        assert rel_err(g, w) <= tol, f"{what}: dW{i + 1} {describe(g, w)}"


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [1, 2, 5])
def test_recompute_equals_mlp_gradients(activation, depth):
    X, y, weights = _problem(depth, seed=depth)
    want = nnlib.mlp_gradients(X, y, weights, activation)
    got = nnlib.mlp_gradients_recompute(X, y, weights, activation)
    _assert_equal_grads(got, want, 1e-12, f"recompute, {depth} layers, {activation}")


@pytest.mark.task_mlp_gradients_checkpointed
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [1, 2, 4, 7])
def test_checkpointed_equals_mlp_gradients_for_every_spacing(activation, depth):
    X, y, weights = _problem(depth, seed=depth + 100)
    want = nnlib.mlp_gradients(X, y, weights, activation)
    for every in range(1, depth + 3):  # every >= L keeps only X
        got = nnlib.mlp_gradients_checkpointed(X, y, weights, activation, every=every)
        _assert_equal_grads(got, want, 1e-12, f"every={every}, {depth} layers, {activation}")


@pytest.mark.task_mlp_gradients_checkpointed
def test_checkpointed_keeps_float32_and_matches_the_independent_reference():
    X, y, weights = _problem(4, dtype=np.float32, seed=3)
    got = nnlib.mlp_gradients_checkpointed(X, y, weights, "tanh", every=2)
    want = ref_weight_grads(X, y, weights, "tanh")
    for g in got:
        assert g.dtype == np.float32, f"float32 in, {g.dtype} out"
    _assert_equal_grads(got, want, 1e-5, "float32, every=2")


@pytest.mark.task_mlp_gradients_checkpointed
def test_checkpointing_near_sqrt_depth_keeps_less_than_the_cache():
    # Deep and wide enough that the layer inputs dominate the working memory: every=1 keeps
    # 36 layer inputs, every=6 keeps 6 checkpoints plus one segment's 6 inputs and 6
    # pre-activations, recompute a few arrays whatever the depth.
    X, y, weights = _problem(36, seed=5, n=200, width=40)

    def peak(every):
        return nnlib.peak_allocation_bytes(
            nnlib.mlp_gradients_checkpointed, X, y, weights, "relu", every
        )

    cached, sqrt_depth, recompute = (
        peak(1),
        peak(6),
        nnlib.peak_allocation_bytes(nnlib.mlp_gradients_recompute, X, y, weights, "relu"),
    )
    assert sqrt_depth < 0.7 * cached, f"every=6 peak {sqrt_depth} B, every=1 peak {cached} B"
    assert recompute < sqrt_depth, f"recompute peak {recompute} B, every=6 peak {sqrt_depth} B"


@pytest.mark.parametrize(
    ("every", "error"),
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_every_must_be_a_positive_integer(every, error):
    X, y, weights = _problem(3)
    with pytest.raises(error, match="every must be a positive integer"):
        nnlib.mlp_gradients_checkpointed(X, y, weights, "relu", every=every)


def test_bad_inputs_name_the_array():
    X, y, weights = _problem(2)
    with pytest.raises(ValueError, match=r"weights\[1\] must have"):
        nnlib.mlp_gradients_checkpointed(X, y, [weights[0], weights[0]], "relu", every=1)
    with pytest.raises(ValueError, match="y must have shape"):
        nnlib.mlp_gradients_recompute(X, y[:-1], weights)
    with pytest.raises(ValueError, match="unknown activation"):
        nnlib.mlp_gradients_recompute(X, y, weights, "gelu")
