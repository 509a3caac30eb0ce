"""Merge nbgrader's exported grades with the library grades into one class CSV.

    nbgrader export --to nbgrader_grades.csv          # in the nbgrader course folder
    nnlib-merge-grades nbgrader_grades.csv build/grades/grades.csv --out class_grades.csv

nbgrader's CSV has one row per (assignment, student) with ``student_id``, names, e-mail,
``score`` (after late penalties) and ``max_score``; the library CSV (``nnlib-grade``) has one
row per student with ``library_score`` and ``library_max``. A library submission's id is its
folder or zip name, so name submission folders by nbgrader student id. The class CSV has
one row per student present in either file: names, each notebook's score, the notebook
total, the library score and the grand total, plus a ``missing`` column naming what a
student did not hand in (counted as zero).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

NBGRADER_COLUMNS = {"assignment", "student_id", "score", "max_score"}
LIBRARY_COLUMNS = {"student", "library_score", "library_max"}


class MergeError(ValueError):
    """An input CSV is missing or does not have the expected columns."""


def _read(path: Path, required: set, what: str) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise MergeError(f"{what} CSV not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise MergeError(
                f"{path} does not look like the {what} CSV: missing column(s) {sorted(missing)}"
            )
        return list(reader)


def _number(value: str, where: str) -> float:
    try:
        return float(value) if value not in ("", None) else 0.0
    except ValueError as exc:
        raise MergeError(f"{where}: not a number: {value!r}") from exc


def merge(nbgrader_csv: Path, library_csv: Path) -> str:
    """The merged class CSV as text (rows sorted by student id)."""
    nb_rows = _read(nbgrader_csv, NBGRADER_COLUMNS, "nbgrader export")
    lib_rows = _read(library_csv, LIBRARY_COLUMNS, "library grades")
    assignments = sorted({row["assignment"] for row in nb_rows})
    maxima, students, library = {}, {}, {}
    for row in nb_rows:
        sid = row["student_id"]
        info = students.setdefault(sid, {"scores": {}})
        for key in ("first_name", "last_name", "email"):
            if row.get(key):
                info[key] = row[key]
        where = f"{nbgrader_csv}: {sid}/{row['assignment']}"
        info["scores"][row["assignment"]] = _number(row["score"], where)
        maxima[row["assignment"]] = _number(row["max_score"], where)
    library_max = 0.0
    for row in lib_rows:
        sid = row["student"]
        students.setdefault(sid, {"scores": {}})
        library[sid] = _number(row["library_score"], f"{library_csv}: {sid}")
        library_max = max(library_max, _number(row["library_max"], f"{library_csv}: {sid}"))
    notebook_max = sum(maxima.values())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "student_id",
            "first_name",
            "last_name",
            "email",
            *assignments,
            "notebooks_score",
            "notebooks_max",
            "library_score",
            "library_max",
            "total",
            "total_max",
            "missing",
        ]
    )
    for sid in sorted(students):
        info = students[sid]
        scores = [info["scores"].get(a, 0.0) for a in assignments]
        missing = [a for a in assignments if a not in info["scores"]]
        if sid not in library:
            missing.append("library")
        lib = library.get(sid, 0.0)
        writer.writerow(
            [
                sid,
                info.get("first_name", ""),
                info.get("last_name", ""),
                info.get("email", ""),
                *(f"{s:g}" for s in scores),
                f"{sum(scores):g}",
                f"{notebook_max:g}",
                f"{lib:g}",
                f"{library_max:g}",
                f"{sum(scores) + lib:g}",
                f"{notebook_max + library_max:g}",
                " ".join(missing),
            ]
        )
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nnlib-merge-grades",
        description="Merge `nbgrader export` grades with nnlib-grade's grades.csv into one "
        "class CSV (one row per student).",
    )
    parser.add_argument("nbgrader_csv", type=Path, help="the CSV written by `nbgrader export`")
    parser.add_argument("library_csv", type=Path, help="grades.csv written by nnlib-grade")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("build/class_grades.csv"),
        help="merged CSV to write (default: build/class_grades.csv)",
    )
    args = parser.parse_args(argv)
    try:
        text = merge(args.nbgrader_csv, args.library_csv)
    except MergeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from autograder.grader.report import atomic_write

    atomic_write(args.out, text)
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
