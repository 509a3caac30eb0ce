"""Main job, last step: grade the sample corpus and check every sample gets its score.

Builds the sample submissions of ``autograder/samples`` (the reference, the stubs, a partial
solution and the broken and adversarial ones) under ``build/samples/``, grades them all with
the library grader, prints each score next to the one it deserves, and exits 1 if any differs.
Run with ``make course`` or ``python scripts/grade_samples.py [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

from autograder.grader.cli import grade_folder
from autograder.grader.corpus import build_corpus, default_placeholders


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("build/samples"), help="work folder")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once")
    parser.add_argument("--seed", type=int, default=None, help="hidden inputs' seed (fresh)")
    args = parser.parse_args(argv)

    if args.root.exists():
        shutil.rmtree(args.root)  # a fresh corpus every run: the attacks must find it intact
    subs, out, decoy = args.root / "submissions", args.root / "grades", args.root / "decoy"
    decoy.mkdir(parents=True)
    samples = build_corpus(subs, default_placeholders(subs, out, decoy))
    done, failed = grade_folder(subs, out, jobs=args.jobs, echo=lambda line: None, seed=args.seed)
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}

    wrong = []
    print(f"\n{'sample':<24}{'score':>9}{'expected':>10}  what it is")
    for sample in samples:
        row = rows.get(sample.student)
        score = float(row["library_score"]) if row else None
        ok = (
            score is not None
            and abs(score - sample.expected_score) < 1e-9
            and sample.expected_status in row["status"]
        )
        if not ok:
            wrong.append(sample.name)
        shown = "—" if score is None else f"{score:.2f}"
        mark = "" if ok else "   <-- MISMATCH"
        print(
            f"{sample.name:<24}{shown:>9}{sample.expected_score:>10.2f}  {sample.description}{mark}"
        )
    print(f"\n{done} graded, {failed} failed; records and feedback in {out}")
    if wrong or failed:
        print(f"samples without their expected score: {wrong}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
