"""Main job, step 1: train the course's three models on the bundled digits and report.

Prints a table (model, epochs, train error, test error, seconds) and writes the learning
curves to ``build/digits_learning_curves.png``. Run with ``make course`` or directly:
``python scripts/train_digits.py [--out build] [--no-progress]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a file, not a window: this runs on machines without a display

import matplotlib.pyplot as plt
import numpy as np

import nnlib
from nnlib.plotting import plot_learning_curves

# Settings measured to reach the course's targets on the fixed split (seed 0) in seconds.
RUNS = {
    "softmax regression": (nnlib.train_softmax, dict(epochs=100, lr=0.2, batch=10)),
    "two-layer net (H=200)": (nnlib.train_nn, dict(hidden=200, epochs=50, lr=0.1, batch=20)),
    "3-layer MLP (200-100)": (
        nnlib.train_mlp,
        dict(hidden=(200, 100), epochs=50, lr=0.05, batch=20),
    ),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build"), help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)

    data = nnlib.load_digits()
    print(f"digits: {len(data.y_train)} train / {len(data.y_test)} test images, 8x8 pixels")
    histories, rows = {}, []
    for name, (train, kwargs) in RUNS.items():
        extra = {} if train is nnlib.train_softmax else {"rng": np.random.default_rng(0)}
        _, history = train(*data, progress=not args.no_progress, **kwargs, **extra)
        histories[name] = history
        rows.append(
            (name, kwargs["epochs"], history.train_err[-1], history.test_err[-1], history.seconds)
        )

    print(f"\n{'model':<24}{'epochs':>7}{'train err':>11}{'test err':>10}{'seconds':>9}")
    for name, epochs, train_err, test_err, seconds in rows:
        print(f"{name:<24}{epochs:>7}{train_err:>10.2%}{test_err:>10.2%}{seconds:>9.2f}")

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_learning_curves(histories, ax=ax)
    ax.set_title("bundled digits: error per epoch")
    path = args.out / "digits_learning_curves.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"\nlearning curves written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
