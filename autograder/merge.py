"""Merge the notebook grades with the library grades into one class CSV.

    make merge      # grading/nbgrader_grades.csv + grading/library/grades.csv + the collect times
    nnlib-merge-grades NOTEBOOKS_CSV LIBRARY_CSV [--submissions grading/submissions.csv]
                       [--out grading/class_grades.csv]

The notebook CSV has one row per (assignment, student) with ``student_id``, names, e-mail,
``timestamp``, ``score`` (after late penalties) and ``max_score``: ``make export`` writes it
with a ``status`` column (``graded``, ``needs manual grading``, ``not submitted``, ``error:
...``); ``nbgrader export``'s file works too, where a row without a timestamp and with a zero
score counts as not submitted. The library CSV (``nnlib-grade``) has one row per student with
``library_score``, ``library_max`` and ``status`` (``graded``, ``error: ...`` or ``grader
error: ...``; any but ``graded`` counts the library as missing). A library submission's id
is its folder or zip name, so name submission folders by nbgrader student id. The
submissions CSV (``make collect``) gives each submission's time and collect status.

The class CSV has one row per student present in any file: names, each notebook's score, the
notebook total, the library score and the grand total; ``submitted_at`` (the collected time,
for a late policy); ``missing``, naming every part that counts as zero because it was not
handed in or could not be graded; and ``status``, saying why for each part that was not
graded or still needs manual grading. An empty notebook or library CSV is refused: it would
give every student zero.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

NBGRADER_COLUMNS = {"assignment", "student_id", "score", "max_score"}
LIBRARY_COLUMNS = {"student", "library_score", "library_max"}
SUBMISSIONS_COLUMNS = {"student_id", "submitted_at", "status"}


class MergeError(ValueError):
    """An input CSV is missing or does not have the expected columns."""


def _read(path: Path, required: set, what: str, allow_empty: bool = False) -> list[dict]:
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
        rows = list(reader)
    if not rows and not allow_empty:
        raise MergeError(
            f"{path} holds no grades (only a header): merging it would give every student zero; "
            "grade first (make grade-notebooks, make export / make grade)"
        )
    return rows


def _notebook_status(row: dict) -> str:
    """``graded``, ``needs manual grading``, ``not submitted`` or ``error: ...`` of a row."""
    status = (row.get("status") or "").strip()
    if status:
        return status
    # nbgrader's own export: a submission has a timestamp (collect writes one) or a score
    if not (row.get("timestamp") or "").strip() and _number(row.get("raw_score") or "0", "") == 0:
        return "not submitted"
    return "graded"


def _number(value: str, where: str) -> float:
    try:
        return float(value) if value not in ("", None) else 0.0
    except ValueError as exc:
        raise MergeError(f"{where}: not a number: {value!r}") from exc


def merge(nbgrader_csv: Path, library_csv: Path, submissions_csv: Path | None = None) -> str:
    """The merged class CSV as text (rows sorted by student id)."""
    nb_rows = _read(nbgrader_csv, NBGRADER_COLUMNS, "notebook grades (make export)")
    lib_rows = _read(library_csv, LIBRARY_COLUMNS, "library grades")
    collected = {}
    if submissions_csv is not None:
        for row in _read(submissions_csv, SUBMISSIONS_COLUMNS, "submissions (make collect)"):
            collected[row["student_id"]] = row
    assignments = sorted({row["assignment"] for row in nb_rows})
    maxima, students, library = {}, {}, {}
    for row in nb_rows:
        sid = row["student_id"]
        info = students.setdefault(sid, {"scores": {}, "notes": []})
        for key in ("first_name", "last_name", "email"):
            if row.get(key):
                info[key] = row[key]
        where = f"{nbgrader_csv}: {sid}/{row['assignment']}"
        maxima[row["assignment"]] = _number(row["max_score"], where)
        status = _notebook_status(row)
        if status in ("graded", "needs manual grading") or "earlier grading" in status:
            info["scores"][row["assignment"]] = _number(row["score"], where)
        if status != "graded":
            info["notes"].append(f"{row['assignment']}: {status}")
    library_max = 0.0
    for row in lib_rows:
        sid = row["student"]
        info = students.setdefault(sid, {"scores": {}, "notes": []})
        library_max = max(library_max, _number(row["library_max"], f"{library_csv}: {sid}"))
        status = (row.get("status") or "graded").strip()
        if status == "graded":
            library[sid] = _number(row["library_score"], f"{library_csv}: {sid}")
        else:
            info["notes"].append(f"library: {status}")
    for sid, row in collected.items():
        info = students.setdefault(sid, {"scores": {}, "notes": []})
        if row["status"] not in ("collected", ""):
            info["notes"].append(f"collect: {row['status']}")
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
            "submitted_at",
            "missing",
            "status",
        ]
    )
    for sid in sorted(students):
        info = students[sid]
        scores = [info["scores"].get(a, 0.0) for a in assignments]
        missing = [a for a in assignments if a not in info["scores"]]
        if sid not in library:
            missing.append("library")
            if not any(n.startswith("library:") for n in info["notes"]):
                info["notes"].append("library: not submitted")
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
                collected.get(sid, {}).get("submitted_at", ""),
                " ".join(missing),
                "; ".join(info["notes"]),
            ]
        )
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nnlib-merge-grades",
        description="Merge the notebook grades (make export, or nbgrader export) with "
        "nnlib-grade's grades.csv into one class CSV (one row per student).",
    )
    parser.add_argument("nbgrader_csv", type=Path, help="the CSV written by `make export`")
    parser.add_argument("library_csv", type=Path, help="grades.csv written by nnlib-grade")
    parser.add_argument(
        "--submissions",
        type=Path,
        help="submissions.csv written by `make collect` (times and collect statuses)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("grading/class_grades.csv"),
        help="merged CSV to write (default: grading/class_grades.csv)",
    )
    args = parser.parse_args(argv)
    try:
        text = merge(args.nbgrader_csv, args.library_csv, args.submissions)
    except MergeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from autograder.grader.report import atomic_write

    atomic_write(args.out, text)
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
