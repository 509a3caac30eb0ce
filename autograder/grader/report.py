"""Write what grading produced: a JSON record and Markdown feedback per student, a class CSV.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``),
so an interrupted run leaves either the old file or the new one, never half of one. A
student's record is the last file written for them: its presence marks them as done.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from nnlib.tasks import TASKS, TASKS_BY_FUNCTION

RECORD, FEEDBACK, CSV_NAME = "result.json", "feedback.md", "grades.csv"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        # A file name that is not UTF-8 (kept by Python as lone surrogates) is written as
        # "?", never allowed to stop the run.
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def record_path(out_dir: Path, student: str) -> Path:
    """Where a student's JSON record lives."""
    return Path(out_dir) / student / RECORD


def load_record(out_dir: Path, student: str) -> dict | None:
    """A student's finished record, or ``None`` if there is none (or it is unreadable)."""
    try:
        return json.loads(record_path(out_dir, student).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def status(record: dict) -> str:
    """``graded``, or why the submission was not graded: ``error: ...`` (the submission's
    fault) or ``grader error: ...`` (graded again on the next run); the ``status`` column of
    the class CSV."""
    if record.get("status"):
        return record["status"]
    return "error: " + record["error"] if record.get("error") else "graded"


def feedback_markdown(record: dict) -> str:
    """The student-facing feedback of one record."""
    lines = [f"# Library grade for {record['student']}", ""]
    if record.get("error"):
        lines += [
            f"**Score: {record['score']:g} / {record['max_score']:g}** — not graded",
            "",
            f"Your submission could not be graded: {record['error']}",
            "",
        ]
        if record.get("grader_error"):
            lines += [
                "This is a problem of the grader, not of your code; it will be graded again.",
                "",
            ]
        lines += [f"- {note}" for note in record.get("submission_notes", [])]
        return "\n".join(lines) + "\n"
    lines += [f"**Score: {record['score']:g} / {record['max_score']:g}**", ""]
    if record.get("submission_notes"):
        lines += [f"Graded `{record.get('package', 'nnlib')}/`. Not graded:", ""]
        lines += [f"- {note}" for note in record["submission_notes"]] + [""]
    lines += ["| task | notebook | score |", "|---|---|---|"]
    for task in record["tasks"]:
        notebook = TASKS_BY_FUNCTION[task["function"]].notebook
        mark = "" if task["score"] == task["points"] else " ✗"
        lines.append(
            f"| `{task['function']}` | {notebook} | {task['score']:g} / {task['points']:g}{mark} |"
        )
    lines.append("")
    for task in record["tasks"]:
        failed = [c for c in task["checks"] if not c["passed"]]
        if not failed and not task["notes"]:
            continue
        lines += [f"## `{task['function']}` — {task['score']:g} / {task['points']:g}", ""]
        seen = set()
        for check in failed:
            message = f": {check['message']}" if check["message"] else ""
            if check["message"] and check["message"] in seen:
                message = ": (same as above)"
            seen.add(check["message"])
            lines.append(f"- ✗ {check['name']}{message}")
        for note in task["notes"]:
            lines.append(f"- {note}")
        lines.append("")
    if record.get("output"):
        lines += ["## What your code printed", "", record["output"], ""]
    lines += [
        "",
        f"_Graded in a sandbox ({record['sandbox']}), grader version "
        f"{record['grader_version']}, hidden inputs drawn afresh for this run. Run a "
        "task's visible tests with `pytest -m task_<function>`._",
        "",
    ]
    return "\n".join(lines)


def write_record(out_dir: Path, record: dict) -> None:
    """Write a student's feedback, then their record (the record marks them as done)."""
    folder = Path(out_dir) / record["student"]
    atomic_write(folder / FEEDBACK, feedback_markdown(record))
    atomic_write(folder / RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")


def load_records(out_dir: Path) -> list[dict]:
    """Every finished record under ``out_dir``, sorted by student."""
    records = []
    for path in sorted(Path(out_dir).glob(f"*/{RECORD}")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: r["student"])


def grades_csv(records: list[dict]) -> str:
    """The class CSV: one row per student, the total, the status and every task's score.

    A record needs only ``student``, ``score``, ``max_score`` and ``tasks`` (possibly empty);
    the status column is :func:`status` of the record."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["student", "library_score", "library_max", "status", *(t.function for t in TASKS)]
    )
    for record in records:
        scores = {t["function"]: t["score"] for t in record.get("tasks", [])}
        writer.writerow(
            [
                record["student"],
                f"{record['score']:g}",
                f"{record['max_score']:g}",
                status(record),
                *(f"{scores.get(t.function, 0.0):g}" for t in TASKS),
            ]
        )
    return buffer.getvalue()


def write_csv(out_dir: Path, extra: list[dict] = ()) -> Path:
    """Rewrite ``grades.csv`` from every record in ``out_dir`` and the ``extra`` records of
    students that have no folder there (an id that cannot name one)."""
    path = Path(out_dir) / CSV_NAME
    records = sorted([*load_records(out_dir), *extra], key=lambda r: r["student"])
    atomic_write(path, grades_csv(records))
    return path
