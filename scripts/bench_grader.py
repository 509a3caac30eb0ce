"""Benchmark the library grader: seconds per submission with 1 and 2 parallel jobs.

    .venv/bin/python scripts/bench_grader.py [--copies 20] [--jobs 1 2]

Grades the sample corpus (autograder/samples, including the infinite loop and the crashes)
plus N copies of the reference solution, once per job count, and prints seconds per
submission for the whole set and for the reference copies alone. Not a test: timings depend
on the machine. Target: under 2 s per submission on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.grader.cli import grade_folder
from autograder.grader.corpus import build_corpus, default_placeholders


def _timed(folder: Path, out: Path, jobs: int) -> float:
    started = time.perf_counter()
    grade_folder(folder, out, jobs=jobs, force=True, echo=lambda *a: None)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="copies of the reference")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        tmp = Path(tmp)
        everything, refs, decoy = tmp / "all", tmp / "references", tmp / "decoy"
        decoy.mkdir()
        # Built in place, never copied: the corpus holds links, a FIFO and very deep folders.
        samples = build_corpus(everything, default_placeholders(everything, tmp / "out", decoy))
        refs.mkdir()
        for i in range(args.copies):
            shutil.copytree(everything / "reference", refs / f"reference_{i:03d}")
            shutil.copytree(everything / "reference", everything / f"reference_{i:03d}")
        n_all, n_refs = len(samples) + args.copies, args.copies
        print(f"{len(samples)} corpus samples + {args.copies} reference copies")
        print(f"{'jobs':>4}  {'all: s/submission':>18}  {'references: s/submission':>25}")
        for jobs in args.jobs:
            t_all = _timed(everything, tmp / f"out-all-{jobs}", jobs)
            t_refs = _timed(refs, tmp / f"out-refs-{jobs}", jobs)
            print(f"{jobs:>4}  {t_all / n_all:>18.2f}  {t_refs / n_refs:>25.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
