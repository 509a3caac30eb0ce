"""Write ``src/nnlib/check_data.npz``: the visible checks' inputs, reference outputs and mistakes.

    python -m autograder.check_data            # after changing the reference or a mutant

The visible checks (:mod:`nnlib.checks`) ship to students, so they cannot compute right answers
themselves. This instructor-side build runs the reference ``nnlib`` on the checks' small fixed
inputs, and every program of :data:`autograder.grader.mutants.VARIANTS` (one usual mistake
each) on the same inputs, and stores the arrays. ``tests/test_mistakes.py`` fails when the
committed file is stale.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np

import nnlib
from autograder.grader.cases import GRAPHS, make_graph
from autograder.grader.mutants import VARIANTS
from nnlib import checks
from nnlib.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "src" / "nnlib" / "check_data.npz"

N, D, H, C = checks.N, checks.D, checks.H, checks.C
LR = 0.5
SEED = 20261126


def _rng(task: str) -> np.random.Generator:
    return np.random.default_rng([SEED, *(ord(c) for c in task)])


def _problem(rng, hidden=()):
    X = rng.normal(size=(N, D))
    y = rng.permutation(np.arange(N) % C)  # every class present
    sizes = [D, *hidden, C]
    weights = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in pairwise(sizes)]
    return X, y, weights


def _with_zeros(Z):
    Z.reshape(-1)[::5] = 0.0  # exact zeros, where relu_grad's convention shows
    return Z


def inputs(task: str) -> list[tuple[str, list, dict]]:
    """The checks' cases of ``task``: ``[(case, args, kwargs), ...]``, float64."""
    rng = _rng(task)
    if task in AUTODIFF_INPUTS:
        return AUTODIFF_INPUTS[task](rng)
    if task in ("softmax", "log_softmax"):
        big = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]])
        return [("main", [3 * rng.normal(size=(N, C))], {}), ("large", [big], {})]
    if task == "softmax_loss":
        big = (np.array([[1e4, 0.0], [0.0, 1e4]]), np.array([1, 1]))
        return [
            ("main", [3 * rng.normal(size=(N, C)), rng.integers(0, C, N)], {}),
            ("large", list(big), {}),
        ]
    if task.startswith("softmax_loss_grad"):
        big = [np.array([[1e4, 0.0, -1e4]]), np.array([0])]
        return [
            ("main", [2 * rng.normal(size=(N, C)), rng.integers(0, C, N)], {}),
            ("large", big, {}),
        ]
    if task.startswith("softmax_regression_grad"):
        X, y, (theta,) = _problem(rng)
        return [("main", [X, y, theta], {})]
    if task == "radial_features":
        return [("main", [rng.normal(size=(N, 2))], {})]
    if task == "random_relu_features":
        return [("main", [rng.normal(size=(N, D)), rng.normal(size=(D, H))], {})]
    if task in ("relu", "relu_grad"):
        return [("main", [_with_zeros(rng.normal(size=(N, H)))], {})]
    if task.startswith("nn_gradients"):
        X, y, (W1, W2) = _problem(rng, [H])
        return [("main", [X, y, W1, W2], {})]
    if task in ("mlp_forward", "mlp_backward", "mlp_gradients_naive"):
        X, y, weights = _problem(rng, [H, 3])
        R = rng.normal(size=(N, C))  # a stand-in for dlogits: backward is linear in it
        cases = []
        for activation in ("relu", "tanh"):
            if task == "mlp_forward":
                args = [X, weights, activation]
            elif task == "mlp_backward":
                args = [R, nnlib.mlp_forward(X, weights, activation)[1], weights]
            else:
                args = [X, y, weights, activation]
            cases.append((activation, args, {}))
        return cases
    hidden = {"softmax_regression_epoch": (), "nn_epoch": [H], "mlp_epoch": [H, 3]}[task]
    X, y, weights = _problem(rng, hidden)
    params = [weights] if task == "mlp_epoch" else weights
    # a partial last batch (7 = 3 + 3 + 1), and N a multiple of batch (6 = 3 + 3)
    return [
        ("partial", [X, y, *params], {"lr": LR, "batch": 3}),
        ("multiple", [X[:6], y[:6], *params], {"lr": LR, "batch": 3}),
    ]


# ------------------------------------------------------------------------ notebook 06


def graph(kind: str, rng, n: int = 3) -> checks.Graph:
    """A made-up graph of ``cases.GRAPHS`` for ``backward`` and ``topological_order``."""
    return make_graph(GRAPHS[kind], rng, n, 4)


def _with_zeros_like_g(rng, shape):
    return _with_zeros(rng.normal(size=shape))


AUTODIFF_INPUTS = {
    "matmul_vjp": lambda rng: [
        ("main", [rng.normal(size=(N, C)), rng.normal(size=(N, D)), rng.normal(size=(D, C))], {})
    ],
    "add_vjp": lambda rng: [
        ("bias", [rng.normal(size=(N, H)), (N, H), (H,)], {}),
        ("same_shape", [rng.normal(size=(N, H)), (N, H), (N, H)], {}),
    ],
    "relu_vjp": lambda rng: [
        ("main", [rng.normal(size=(N, H)), _with_zeros_like_g(rng, (N, H))], {})
    ],
    "sigmoid_vjp": lambda rng: [
        ("main", [rng.normal(size=(N, H)), nnlib.sigmoid(rng.normal(size=(N, H)))], {})
    ],
    "tanh_vjp": lambda rng: [
        ("main", [rng.normal(size=(N, H)), np.tanh(rng.normal(size=(N, H)))], {})
    ],
    "softmax_cross_entropy_vjp": lambda rng: [
        ("main", [1.0, 2 * rng.normal(size=(N, C)), rng.integers(0, C, N)], {}),
        ("scaled", [0.25, 2 * rng.normal(size=(N, C)), rng.integers(0, C, N)], {}),
        ("large", [1.0, np.array([[1e4, 0.0, -1e4]]), np.array([0])], {}),
    ],
    "topological_order": lambda rng: [
        (k, [graph(k, rng)], {}) for k in ("diamond", "twice", "chain")
    ],
    "backward": lambda rng: [(k, [graph(k, rng)], {}) for k in ("diamond", "twice", "chain")],
    "mlp_gradients_checkpointed": lambda rng: _checkpointed_inputs(rng),
    "nn_gradients_bias": lambda rng: [
        ("main", [*_problem(rng, [H])[:2], *_bias_params(rng)], {}),
    ],
}


def _bias_params(rng):
    W1 = rng.normal(size=(D, H)) / np.sqrt(D)
    W2 = rng.normal(size=(H, C)) / np.sqrt(H)
    return [W1, 0.5 * rng.normal(size=H), W2, 0.5 * rng.normal(size=C)]


def _checkpointed_inputs(rng):
    # Five layers of equal hidden width: segments of 2 + 2 + 1 layers for every=2; every=7
    # keeps only X. Equal widths let a checkpoint taken one layer off still run, so the
    # check can name that mistake.
    X, y, weights = _problem(rng, [H, H, H, H])
    return [
        ("relu_every_2", [X, y, weights, "relu", 2], {}),
        ("tanh_every_3", [X, y, weights, "tanh", 3], {}),
        ("tanh_every_7", [X, y, weights, "tanh", 7], {}),
    ]


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, nnlib.MLPCache):
        return nnlib.MLPCache(_copy(value.inputs), _copy(value.preactivations), value.activation)
    if isinstance(value, checks.Graph):
        return value.astype(np.float64)
    return value


def _encode(value, prefix: str, arrays: dict):
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return ["array"]
    if isinstance(value, list):
        for i, v in enumerate(value):
            arrays[f"{prefix}.{i}"] = v
        return ["list", len(value)]
    if isinstance(value, nnlib.MLPCache):
        for i, v in enumerate(value.inputs):
            arrays[f"{prefix}.inputs.{i}"] = v
        for i, v in enumerate(value.preactivations):
            arrays[f"{prefix}.pre.{i}"] = v
        return ["cache", len(value.inputs), len(value.preactivations), value.activation]
    if isinstance(value, checks.Graph):
        for k, v in enumerate(value.values):
            arrays[f"{prefix}.v{k}"] = v
        for k, maps in enumerate(value.maps):
            for j, M in enumerate(maps):
                arrays[f"{prefix}.m{k}.{j}"] = M
        return ["graph", value.names, value.kinds, [list(p) for p in value.parents]]
    if isinstance(value, tuple):
        return ["tuple", list(value)]
    return ["value", value]


def _outputs(task: str, fn, args: list, kwargs: dict) -> dict[str, np.ndarray]:
    if isinstance(args[0], checks.Graph):
        return {k: np.asarray(v) for k, v in checks.graph_outputs(task, fn, args[0]).items()}
    copies = [_copy(a) for a in args]
    result = fn(*copies, **_copy(kwargs))
    return {k: np.asarray(v) for k, v in checks.outputs_of(task, result, copies).items()}


def build() -> dict[str, np.ndarray]:
    """Every array of the data file, by key."""
    arrays: dict[str, np.ndarray] = {}
    for task in TASKS:
        name = task.function
        cases = inputs(name)
        arrays[f"{name}/cases"] = np.array(json.dumps([c for c, _, _ in cases]))
        for case, args, kwargs in cases:
            prefix = f"{name}/{case}"
            spec = [_encode(a, f"{prefix}/in/a{k}", arrays) for k, a in enumerate(args)]
            expected = _outputs(name, getattr(nnlib, name), args, kwargs)
            for out, value in expected.items():
                arrays[f"{prefix}/out/{out}"] = value
            stored = []
            for mistake, mutant in VARIANTS.get(name, {}).items():
                try:
                    with np.errstate(all="ignore"):
                        wrong = _outputs(name, mutant, args, kwargs)
                except Exception:
                    continue
                differs = {
                    out: value
                    for out, value in wrong.items()
                    if value.shape != expected[out].shape
                    or not np.array_equal(value, expected[out])
                }
                for out, value in differs.items():
                    arrays[f"{prefix}/mistake/{mistake}/{out}"] = value
                if differs:
                    stored.append(mistake)
            meta = {"args": spec, "kwargs": kwargs, "outputs": list(expected), "mistakes": stored}
            arrays[f"{prefix}/spec"] = np.array(json.dumps(meta))
    return arrays


def write(path: Path = TARGET) -> Path:
    """Build the data and write it to ``path`` (compressed, deterministic)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **build())
    path.write_bytes(buffer.getvalue())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the visible checks' data file.")
    parser.add_argument("--out", type=Path, default=TARGET, help=f"default {TARGET}")
    args = parser.parse_args(argv)
    write(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
