"""Benchmark of nnlib's epochs: one epoch of SGD, side by side with its matrix-multiply floor.

For softmax regression, the two-layer network and a 4-layer MLP, on MNIST-shaped synthetic
data (60,000 x 784 float32 in [0, 1], 10 classes), this times in one process, interleaved
(run 1 of every candidate, then run 2, ...), the median of several epochs after a warm-up:

- ``fast``: the tuned epochs of ``nnlib.fast`` (``softmax_regression_epoch``, ``nn_epoch``,
  ``mlp_epoch``), on the path ``nnlib.fast.status()`` reports;
- ``reference``: nnlib's own epochs, the readable reference solutions of the course (a loop
  over minibatches, each step ``W -= lr * dW`` from the gradient function);
- ``floor``: only the matrix multiplies of the epoch (``nnlib.timing.gemm_floor_epoch``), with
  ``np.matmul`` into preallocated buffers;
- ``fast-products`` (softmax regression only): the two products of the tuned epoch, bound as it
  binds them, without the softmax between them; its distance to ``fast`` is what the softmax's
  numpy calls cost;
- ``torch-hand`` / ``torch-autograd``: the same epoch in PyTorch with hand-written gradients
  (fused ``addmm_`` updates) and with autograd and ``torch.optim.SGD``, when torch is
  installed, on the same number of threads as numpy's BLAS;
- ``naive``: the loop-over-examples twins of ``nnlib.naive`` on a slice, extrapolated.

It prints a table (medians, min-max, ratios to the floor), checks the targets of the tuned
epochs, and writes ``bench.json`` and ``bench.png`` to ``--out`` (default ``build/bench``).

    python scripts/bench.py            # full sizes, a few minutes on 2 cores
    python scripts/bench.py --quick    # tiny sizes, seconds: checks that everything runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import nnlib
import nnlib.fast
from nnlib import timing
from nnlib.naive import mlp_gradients_naive, nn_gradients_naive, softmax_regression_grad_naive

# ---------------------------------------------------------------------------------------------
# The naive twins, one example at a time (nnlib.naive), driven as an epoch.


def naive_softmax_regression_epoch(X, y, theta, lr=0.1, batch=100):
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]
        theta -= lr * softmax_regression_grad_naive(X_b, y_b, theta)


def naive_nn_epoch(X, y, W1, W2, lr=0.1, batch=100):
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]
        dW1, dW2 = nn_gradients_naive(X_b, y_b, W1, W2)
        W1 -= lr * dW1
        W2 -= lr * dW2


def naive_mlp_epoch(X, y, weights, lr=0.1, batch=100):
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]
        grads = mlp_gradients_naive(X_b, y_b, weights)
        for W, dW in zip(weights, grads, strict=True):
            W -= lr * dW


def fast_softmax_products_epoch(X, theta, lr=0.1, batch=100):
    """The tuned softmax regression epoch's products alone: ``X_b theta``, then the fused
    update ``theta -= (lr / m) X_b^T G``, bound as ``nnlib.fast`` binds them, for every batch;
    ``G`` stays zero (no softmax), so ``theta`` does not change."""
    from nnlib.fast._gemm import BatchRows, Gemm

    N, C = X.shape[0], theta.shape[1]

    def bound(m):
        rows, logits, G = BatchRows(X, m), np.empty((m, C), X.dtype), np.zeros((C, m), X.dtype)
        return rows, (
            Gemm(logits, rows, theta, split_batch=True),
            Gemm(theta, rows.T, G.T, alpha=-lr / m, beta=1.0, split_batch=True),
        )

    full = bound(min(batch, N))
    for start in range(0, N, batch):
        m = min(batch, N - start)
        rows, (forward, update) = full if m == batch else bound(m)
        rows.move_to(start)
        forward()
        update()


# ---------------------------------------------------------------------------------------------
# PyTorch, optional: the same epoch for any list of ReLU layers (softmax regression is one layer).


def torch_hand_epoch(torch, X, y, weights, lr=0.1, batch=100):
    """Hand-written gradients in PyTorch, with the update fused into ``addmm_``."""
    L = len(weights)
    with torch.no_grad():
        for start in range(0, X.shape[0], batch):
            X_b, y_b = X[start : start + batch], y[start : start + batch]
            m = X_b.shape[0]
            Zs = [X_b]
            for W in weights[:-1]:
                Zs.append(torch.relu(Zs[-1] @ W))
            G = torch.softmax(Zs[-1] @ weights[-1], dim=1)
            G[torch.arange(m), y_b] -= 1
            G *= lr / m
            for i in range(L - 1, 0, -1):
                G_prev = (G @ weights[i].T).mul_(Zs[i] > 0)
                weights[i].addmm_(Zs[i].T, G, alpha=-1)
                G = G_prev
            weights[0].addmm_(X_b.T, G, alpha=-1)


def torch_autograd_epoch(torch, X, y, params, optimizer, batch=100):
    """What a PyTorch user would write: autograd, ``cross_entropy`` and ``optim.SGD``."""
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]
        h = X_b
        for W in params[:-1]:
            h = torch.relu(h @ W)
        loss = torch.nn.functional.cross_entropy(h @ params[-1], y_b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _import_torch(wanted: bool):
    if not wanted:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---------------------------------------------------------------------------------------------
# One configuration: every candidate, interleaved.

MODELS = ("softmax", "two_layer", "mlp")


def layer_sizes(model, D, C, hidden):
    if model == "softmax":
        return [D, C]
    if model == "two_layer":
        return [D, hidden, C]
    return [D, *hidden, C]


SECONDS_PER_CANDIDATE = 3.0  # at least, per configuration, when epochs are short


def bench_config(
    model, sizes, X, y, batch, *, lr, repeats, warmup, naive_rows, torch, rng, quick=False
):
    """Time every candidate for one model and batch size; return a dict for the JSON."""
    init = nnlib.init_mlp(sizes, rng, dtype=X.dtype)
    work = [W.copy() for W in init]  # the numpy candidates take turns on these

    def reset():
        for W, W0 in zip(work, init, strict=True):
            W[...] = W0
        if torch is not None:
            with torch.no_grad():
                for p, t in zip(t_params, t_init, strict=True):
                    p.copy_(t)
                for W, t in zip(t_hand, t_init, strict=True):
                    W.copy_(t)
        return ()

    fast = {
        "softmax": lambda: nnlib.fast.softmax_regression_epoch(X, y, work[0], lr, batch),
        "two_layer": lambda: nnlib.fast.nn_epoch(X, y, work[0], work[1], lr, batch),
        "mlp": lambda: nnlib.fast.mlp_epoch(X, y, work, lr, batch),
    }[model]
    reference = {
        "softmax": lambda: nnlib.softmax_regression_epoch(X, y, work[0], lr, batch),
        "two_layer": lambda: nnlib.nn_epoch(X, y, work[0], work[1], lr, batch),
        "mlp": lambda: nnlib.mlp_epoch(X, y, work, lr, batch),
    }[model]
    fns = {
        "fast": fast,
        "reference": reference,
        "floor": lambda: timing.gemm_floor_epoch(X, sizes, batch),
    }
    if model == "softmax":
        fns["fast-products"] = lambda: fast_softmax_products_epoch(X, work[0], lr, batch)
    if torch is not None:
        tX, ty = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        t_init = [torch.from_numpy(W) for W in init]
        t_hand = [t.clone() for t in t_init]
        t_params = [torch.nn.Parameter(t.clone()) for t in t_init]
        optimizer = torch.optim.SGD(t_params, lr=lr)
        fns["torch-hand"] = lambda: torch_hand_epoch(torch, tX, ty, t_hand, lr, batch)
        fns["torch-autograd"] = lambda: torch_autograd_epoch(
            torch, tX, ty, t_params, optimizer, batch
        )
    if not quick:  # short epochs are noisier: time more of them, SECONDS_PER_CANDIDATE each
        once = timing.time_callable(fns["floor"], repeats=1, warmup=0).median
        repeats = max(repeats, min(4 * repeats, math.ceil(SECONDS_PER_CANDIDATE / once)))
    # The pause lets one BLAS build's spinning threads go to sleep before the next candidate,
    # which may use another (torch's); see nnlib.timing.time_interleaved.
    timings = timing.time_interleaved(
        fns, repeats=repeats, warmup=warmup, setup=reset, pause=0.0 if quick else 0.15
    )

    # The naive loop is too slow to time on all of X: time it on a slice and scale up.
    rows = min(X.shape[0], max(naive_rows, batch))
    Xs, ys = X[:rows], y[:rows]
    naive = {
        "softmax": lambda: naive_softmax_regression_epoch(Xs, ys, work[0], lr, batch),
        "two_layer": lambda: naive_nn_epoch(Xs, ys, work[0], work[1], lr, batch),
        "mlp": lambda: naive_mlp_epoch(Xs, ys, work, lr, batch),
    }[model]
    t_naive = timing.time_callable(naive, repeats=max(1, min(repeats, 3)), warmup=0, setup=reset)
    scale = X.shape[0] / rows
    timings["naive"] = timing.Timing(
        *(v * scale for v in t_naive[:3]), tuple(t * scale for t in t_naive.times)
    )

    # Working memory of one tuned epoch on top of the data and weights (tracemalloc sees
    # numpy's buffers): a few batch-sized buffers, one label position (8 bytes) per example and
    # the transposed working copies of weights some layouts use.
    reset()
    extra = timing.peak_allocation_bytes(fast)

    floor = timings["floor"]
    result = {"model": model, "layer_sizes": sizes, "batch": batch, "candidates": {}}
    for name, t in timings.items():
        entry = {"median_s": t.median, "min_s": t.min, "max_s": t.max, "times_s": list(t.times)}
        entry["ratio_to_floor"] = t.median / floor.median
        entry["ratio_of_mins"] = t.min / floor.min  # the least disturbed runs, on a busy machine
        if name != "naive":  # interleaved: run r of each candidate against run r of the floor
            per_run = [a / b for a, b in zip(t.times, floor.times, strict=True)]
            entry["ratio_min"], entry["ratio_max"] = min(per_run), max(per_run)
        else:
            entry["extrapolated_from_rows"] = rows
        result["candidates"][name] = entry
    result["fast_extra_bytes"] = extra
    result["repeats"] = repeats
    return result


# ---------------------------------------------------------------------------------------------
# Targets (from the issue), checked on the numbers of this run.


def check_targets(results):
    """List of (target, measured, ok); skip those whose candidates were not measured."""
    checks = []

    def ratio(r, a, b):
        c = r["candidates"]
        return c[a]["median_s"] / c[b]["median_s"] if a in c and b in c else None

    for r in results:
        label = f"{r['model']} {'-'.join(map(str, r['layer_sizes']))} batch {r['batch']}"
        limit = 1.12 if r["model"] == "two_layer" else 1.15
        x = ratio(r, "fast", "floor")
        checks.append((f"{label}: fast / floor <= {limit}", x, x <= limit))
        if r["model"] != "two_layer":
            continue
        small = r["batch"] <= 100
        x = ratio(r, "fast", "torch-autograd")
        if x is not None:
            if small:
                checks.append((f"{label}: fast / torch-autograd <= 0.85", x, x <= 0.85))
            else:
                checks.append((f"{label}: fast / torch-autograd <= 1.15", x, x <= 1.15))
        x = ratio(r, "fast", "torch-hand")
        if x is not None:
            checks.append((f"{label}: fast / torch-hand <= 1.20", x, x <= 1.20))
        if small:
            x = ratio(r, "reference", "fast")
            checks.append((f"{label}: reference / fast >= 1.3", x, x >= 1.3))
    return checks


# ---------------------------------------------------------------------------------------------
# Output: table, JSON, chart.

ORDER = ("fast", "fast-products", "reference", "floor", "torch-hand", "torch-autograd", "naive")


def format_table(results):
    lines = [
        f"{'configuration':<34} {'candidate':<15} {'median ms':>10} {'min-max ms':>17} "
        f"{'x floor':>8} {'min/min':>8} {'per-run x floor':>16}"
    ]
    for r in results:
        label = f"{r['model']} {'-'.join(map(str, r['layer_sizes']))} b{r['batch']}"
        for name in ORDER:
            c = r["candidates"].get(name)
            if c is None:
                continue
            spread = f"{c['min_s'] * 1e3:.1f}-{c['max_s'] * 1e3:.1f}"
            rr = (
                f"{c['ratio_min']:.2f}-{c['ratio_max']:.2f}"
                if "ratio_min" in c
                else f"(from {c['extrapolated_from_rows']} rows)"
            )
            lines.append(
                f"{label:<34} {name:<15} {c['median_s'] * 1e3:>10.1f} {spread:>17} "
                f"{c['ratio_to_floor']:>8.2f} {c['ratio_of_mins']:>8.2f} {rr:>16}"
            )
            label = ""
    return "\n".join(lines)


def format_markdown(results):
    names = [n for n in ORDER if any(n in r["candidates"] for r in results)]
    head = "| configuration | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 1)]
    for r in results:
        label = f"{r['model']} {'-'.join(map(str, r['layer_sizes']))}, batch {r['batch']}"
        cells = []
        for n in names:
            c = r["candidates"].get(n)
            if c is None:
                cells.append("")
            elif n == "floor":
                cells.append(f"{c['median_s'] * 1e3:.0f} ms")
            else:
                cells.append(f"{c['ratio_to_floor']:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_chart(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ORDER if n != "floor" and any(n in r["candidates"] for r in results)]
    labels = [
        f"{r['model']}\n{'-'.join(map(str, r['layer_sizes']))}\nb{r['batch']}" for r in results
    ]
    fig, ax = plt.subplots(figsize=(max(9, 1.4 * len(results)), 5))
    width = 0.8 / len(names)
    x = np.arange(len(results))
    for k, n in enumerate(names):
        vals = [r["candidates"].get(n, {}).get("ratio_to_floor", np.nan) for r in results]
        ax.bar(x + (k - (len(names) - 1) / 2) * width, vals, width, label=n)
    ax.axhline(1.0, color="black", linewidth=1, label="GEMM floor")
    ax.set_yscale("log")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("epoch time / GEMM floor (log scale)")
    ax.set_title("One SGD epoch, median, as a multiple of its matrix-multiply floor")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not on Windows
        return None


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check that it runs")
    p.add_argument("--out", type=Path, default=Path("build/bench"), help="output folder")
    p.add_argument("--repeats", type=int, default=None, help="timed epochs (default 11; quick 2)")
    p.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.quick:
        N, D, C, repeats, naive_rows = 300, 32, 10, 2, 60
        hiddens, batches, mlp_hidden = (16, 24), (16, 100), [24, 16, 12]
    else:
        N, D, C, repeats, naive_rows = 60_000, 784, 10, 11, 1_000
        hiddens, batches, mlp_hidden = (100, 400), (100, 1000), [256, 128, 64]
    repeats = args.repeats or repeats
    rng = np.random.default_rng(args.seed)
    X = rng.random((N, D), dtype=np.float32)  # MNIST-shaped: float32 in [0, 1]
    y = rng.integers(0, C, size=N).astype(np.uint8)

    torch = _import_torch(not args.no_torch)
    blas = timing.blas_info()
    threads = next((d["threads"] for d in blas if d["api"] == "blas" and d["threads"]), None)
    if torch is not None and threads:
        torch.set_num_threads(threads)  # same threads as numpy's BLAS

    configs = []  # in the order of the table: wide hidden layer first
    for model in args.models:
        for h in reversed(hiddens) if model == "two_layer" else [mlp_hidden]:
            for batch in batches:
                configs.append((model, layer_sizes(model, D, C, h), batch))

    print(
        f"data: {N} x {D} float32, {C} classes; at least {repeats} timed epochs after "
        f"{args.warmup} (more when epochs are short, about {SECONDS_PER_CANDIDATE:g} s each)"
    )
    print(f"BLAS: {timing.describe_blas()}")
    status = nnlib.fast.status()
    print(status)
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    elif args.no_torch:
        print("torch: skipped (--no-torch)")
    else:
        print("torch: not installed (pip install torch==2.13.0 adds its columns)")

    load_before = _loadavg()
    started = time.perf_counter()
    results = []
    for model, sizes, batch in configs:
        r = bench_config(
            model,
            sizes,
            X,
            y,
            batch,
            lr=0.1,
            repeats=repeats,
            warmup=args.warmup,
            naive_rows=naive_rows,
            torch=torch,
            rng=rng,
            quick=args.quick,
        )
        results.append(r)
        print(f"  done {model} {sizes} batch {batch} ({r['repeats']} timed epochs)", flush=True)
    elapsed = time.perf_counter() - started

    print()
    print(format_table(results))
    checks = [] if args.quick else check_targets(results)  # tiny sizes say nothing about them
    print("\ntargets:" if checks else "\ntargets: not checked in --quick mode")
    for text, value, ok in checks:
        shown = "n/a" if value is None else f"{value:.3f}"
        print(f"  [{'ok' if ok else 'MISSED'}] {text}: {shown}")
    load = _loadavg()
    print(f"load average (1 min) before / after: {load_before} / {load}  (other work slows BLAS)")
    rss = timing.peak_rss_bytes()
    data_mb = X.nbytes / 2**20
    extra = max(r["fast_extra_bytes"] for r in results) / 2**20
    print(f"\npeak RSS of this process: {rss / 2**20:.0f} MiB (data {data_mb:.0f} MiB)")
    print(
        f"largest working memory of one nnlib.fast epoch beyond data and weights: {extra:.2f} MiB"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    doc = {
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "quick": args.quick,
        "data": {"N": N, "D": D, "C": C, "dtype": "float32"},
        "repeats": repeats,
        "warmup": args.warmup,
        "elapsed_s": elapsed,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": None if torch is None else torch.__version__,
            "blas": blas,
            "nnlib_fast": str(status),
            "peak_rss_bytes": rss,
            "load_average_before_after": [load_before, load],
        },
        "results": results,
        "targets": [{"target": t, "measured": v, "ok": ok} for t, v, ok in checks],
        "markdown": format_markdown(results),
    }
    (args.out / "bench.json").write_text(json.dumps(doc, indent=1))
    write_chart(results, args.out / "bench.png")
    print(f"\nwrote {args.out / 'bench.json'} and {args.out / 'bench.png'} in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
