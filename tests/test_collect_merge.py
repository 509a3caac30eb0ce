"""``make collect`` and ``make merge`` on small hand-made inputs (the whole term runs in
tests/test_instructor_workflow.py): where notebooks go, each submission's time and status, and
a class CSV in which nothing that could not be graded passes for a plain zero."""

import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _kit_copy import ROOT, copy_kit, make_env

from autograder.collect import CollectError, collect, read_timestamps
from autograder.merge import MergeError, merge
from nnlib.tasks import TASKS

LIB = sum(task.points for task in TASKS)  # the library's maximum, as the grader writes it

NB = "01_linear_classifiers"
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_collect_puts_notebooks_where_nbgrader_autograde_looks(tmp_path):
    subs = tmp_path / "subs"
    nb = _write(
        subs / "alice" / "notebooks" / "01_linear_classifiers" / "01_linear_classifiers.ipynb",
        NOTEBOOK,
    )
    helper = _write(nb.parent / "helper.py", "import os")
    when = datetime(2026, 11, 20, 23, 59, 30, tzinfo=UTC)
    os.utime(helper, (when.timestamp() - 60, when.timestamp() - 60))
    os.utime(nb, (when.timestamp(), when.timestamp()))  # the newest file gives the time
    with zipfile.ZipFile(subs / "bob.zip", "w") as archive:
        archive.writestr("bundle/notebooks/04_backprop/04_backprop.ipynb", NOTEBOOK)
        archive.writestr("bundle/src/nnlib/losses.py", "x = 1")
    report = {item.student: item for item in collect(subs, tmp_path / "course")}
    assert report["alice"].notebooks == ["01_linear_classifiers"]
    assert report["bob"].notebooks == ["04_backprop"]
    assert report["alice"].submitted_at == when
    assert report["alice"].time_from == "newest file in the folder"
    assert report["bob"].time_from == "zip file time"
    submitted = tmp_path / "course" / "submitted"
    assert sorted(str(p.relative_to(submitted)) for p in submitted.rglob("*.ipynb")) == [
        "alice/01_linear_classifiers/01_linear_classifiers.ipynb",
        "bob/04_backprop/04_backprop.ipynb",
    ]
    stamp = submitted / "alice" / "01_linear_classifiers" / "timestamp.txt"
    assert stamp.read_text().strip() == "2026-11-20T23:59:30+00:00"
    assert not list(submitted.rglob("*.py")), "a .py file of a submission was collected"


def test_collect_gives_every_submission_a_status_and_time(tmp_path):
    subs = tmp_path / "subs"
    _write(subs / "carol" / "src" / "nnlib" / "losses.py", "x = 1")  # library only
    _write(subs / "dave" / "01_linear_classifiers.ipynb", "not json")
    (subs / "erin.zip").write_bytes(b"PK\x03\x04 not really a zip")
    times = _write(
        tmp_path / "times.csv", "student_id,timestamp\ncarol,2026-11-21T08:00:00+01:00\n"
    )
    report = {i.student: i for i in collect(subs, tmp_path / "course", read_timestamps(times))}
    assert report["carol"].status == "no notebooks"
    assert report["carol"].submitted_at == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    assert report["carol"].time_from == "timestamps CSV"
    assert report["dave"].status.startswith("error: 01_linear_classifiers.ipynb is not a readable")
    assert report["erin"].status.startswith("error: erin.zip is not a readable zip")
    manifest = (tmp_path / "course" / "submissions.csv").read_text().splitlines()
    assert manifest[0] == "student_id,source,submitted_at,time_from,notebooks,status"
    assert manifest[1].startswith("carol,carol,2026-11-21T07:00:00+00:00,timestamps CSV,,")
    assert len(manifest) == 4


def test_collect_lists_the_ids_it_cannot_take_with_the_reason(tmp_path):
    """An id the grader refuses (two entries with one id, a link) is listed in the manifest
    with why, as the README says, not left out without a word."""
    subs = tmp_path / "subs"
    _write(subs / "alice" / "notebooks" / NB / f"{NB}.ipynb", NOTEBOOK)
    _write(subs / "dup" / "notebooks" / NB / f"{NB}.ipynb", NOTEBOOK)
    with zipfile.ZipFile(subs / "dup.zip", "w") as archive:
        archive.writestr(f"notebooks/{NB}/{NB}.ipynb", NOTEBOOK)
    (subs / "link").symlink_to(subs / "alice")
    report = {i.student: i for i in collect(subs, tmp_path / "course")}
    assert sorted(report) == ["alice", "dup", "link"]
    assert report["dup"].status.startswith("error: two entries share the id 'dup'")
    assert report["link"].status == "error: link is a symbolic link; links are not followed"
    assert not report["dup"].notebooks and not report["link"].notebooks
    manifest = (tmp_path / "course" / "submissions.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in manifest[1:]] == ["alice", "dup", "link"]
    assert sorted(p.name for p in (tmp_path / "course" / "submitted").iterdir()) == ["alice"]


def test_collect_refuses_an_empty_folder_and_a_bad_time(tmp_path):
    (tmp_path / "subs").mkdir()
    with pytest.raises(CollectError, match="no submissions in"):
        collect(tmp_path / "subs", tmp_path / "course")
    assert not (tmp_path / "course").exists()
    bad = _write(tmp_path / "t.csv", "student_id,timestamp\nalice,yesterday\n")
    with pytest.raises(CollectError, match=r"t.csv line 2: not a time: 'yesterday'"):
        read_timestamps(bad)


def test_make_collect_with_timestamps_as_the_readme_gives_it(tmp_path):
    """``make collect SUBMISSIONS=dir TIMESTAMPS=times.csv``, the README's form, run in a fresh
    copy of the kit: the CSV's time, not the file's, becomes the hand-in time."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "`make collect SUBMISSIONS=dir`" in readme and "`TIMESTAMPS=times.csv`" in readme, (
        "the README no longer gives `make collect SUBMISSIONS=dir` with `TIMESTAMPS=times.csv`"
    )
    kit = copy_kit(tmp_path / "kit")
    _write(kit / "subs" / "alice" / "notebooks" / NB / f"{NB}.ipynb", NOTEBOOK)
    _write(kit / "times.csv", "student_id,timestamp\nalice,2026-11-21T08:00:00+01:00\n")
    run = subprocess.run(
        ["make", "collect", "SUBMISSIONS=subs", "TIMESTAMPS=times.csv"],
        cwd=kit,
        env=make_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    stamp = kit / "grading" / "submitted" / "alice" / NB / "timestamp.txt"
    assert stamp.read_text().strip() == "2026-11-21T07:00:00+00:00"
    manifest = (kit / "grading" / "submissions.csv").read_text().splitlines()
    assert manifest[1].startswith("alice,alice,2026-11-21T07:00:00+00:00,timestamps CSV,"), manifest


def test_collect_never_follows_a_link_to_another_students_notebook(tmp_path):
    # Unzipping a student's zip restores its symbolic links: one that points into a
    # classmate's folder (or at the solutions) must not be collected as the student's work.
    subs = tmp_path / "subs"
    name = "01_linear_classifiers"
    _write(subs / "alice" / "notebooks" / name / f"{name}.ipynb", NOTEBOOK)
    link = subs / "mallory" / "notebooks" / name / f"{name}.ipynb"
    link.parent.mkdir(parents=True)
    link.symlink_to(Path("..", "..", "..", "alice", "notebooks", name, f"{name}.ipynb"))
    report = {item.student: item for item in collect(subs, tmp_path / "course")}
    assert report["alice"].notebooks == [name]
    assert report["mallory"].notebooks == [], (
        "collect followed a symbolic link in mallory's folder and took alice's notebook as "
        "mallory's: only regular files of the submission itself may be collected"
    )
    assert not (tmp_path / "course" / "submitted" / "mallory").exists()


def test_one_hostile_notebook_or_zip_never_stops_the_collect_of_the_class(tmp_path):
    subs = tmp_path / "subs"
    name = "01_linear_classifiers"
    _write(subs / "amy" / "notebooks" / name / f"{name}.ipynb", NOTEBOOK)
    # JSON nested far deeper than the parser's recursion limit
    _write(subs / "deep" / "notebooks" / name / f"{name}.ipynb", "[" * 100_000)
    # a member the zip module cannot extract (here: an unsupported compression method)
    with zipfile.ZipFile(subs / "odd.zip", "w") as archive:
        archive.writestr(f"notebooks/{name}/{name}.ipynb", NOTEBOOK)
    data = bytearray((subs / "odd.zip").read_bytes())
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # method field of both headers -> 99
        at = data.find(header)
        offset = 8 if header == b"PK\x03\x04" else 10
        data[at + offset : at + offset + 2] = (99).to_bytes(2, "little")
    (subs / "odd.zip").write_bytes(bytes(data))
    report = {item.student: item for item in collect(subs, tmp_path / "course")}
    assert report["amy"].status == "collected", "one bad submission stopped the others"
    assert report["deep"].status.startswith(f"error: {name}.ipynb is not a readable notebook")
    assert report["odd"].status.startswith("error: odd.zip is not a readable zip")


# ----------------------------------------------------------------------------- merge

NOTEBOOKS_CSV = """assignment,duedate,timestamp,student_id,last_name,first_name,email,\
raw_score,late_submission_penalty,score,max_score,status
01_linear_classifiers,,2026-11-20 10:00:00,alice,Liddell,Alice,a@x.org,9.0,0.0,9.0,10.0,graded
01_linear_classifiers,,,bob,Builder,Bob,,0,0,0,10.0,not submitted
02_nonlinear_features,,2026-11-21 10:00:00,alice,Liddell,Alice,a@x.org,4.5,0.5,4.0,5.0,\
needs manual grading
02_nonlinear_features,,,bob,Builder,Bob,,0,0,0,5.0,error: a cell timed out
"""
LIBRARY_CSV = f"""student,library_score,library_max,status,softmax
alice,130.5,{LIB},graded,5
carol,0,{LIB},error: no nnlib package in carol,0
dan,12,{LIB},graded,5
"""
SUBMISSIONS_CSV = """student_id,source,submitted_at,time_from,notebooks,status
alice,alice.zip,2026-11-21T10:00:00+00:00,zip file time,01_linear_classifiers,collected
carol,carol,2026-11-22T09:00:00+00:00,newest file in the folder,,no notebooks
"""


def test_merge_joins_notebooks_library_times_and_statuses(tmp_path):
    _write(tmp_path / "nb.csv", NOTEBOOKS_CSV)
    _write(tmp_path / "lib.csv", LIBRARY_CSV)
    _write(tmp_path / "subs.csv", SUBMISSIONS_CSV)
    lines = merge(tmp_path / "nb.csv", tmp_path / "lib.csv", tmp_path / "subs.csv").splitlines()
    assert lines[0] == (
        "student_id,first_name,last_name,email,01_linear_classifiers,02_nonlinear_features,"
        "notebooks_score,notebooks_max,library_score,library_max,total,total_max,"
        "submitted_at,missing,status"
    )
    assert lines[1] == (
        f"alice,Alice,Liddell,a@x.org,9,4,13,15,130.5,{LIB},143.5,{LIB + 15},"
        "2026-11-21T10:00:00+00:00,,"
        "02_nonlinear_features: needs manual grading"
    )
    assert lines[2] == (
        f"bob,Bob,Builder,,0,0,0,15,0,{LIB},0,{LIB + 15},,01_linear_classifiers "
        "02_nonlinear_features "
        "library,01_linear_classifiers: not submitted; 02_nonlinear_features: error: a cell "
        "timed out; library: not submitted"
    )
    # a library the grader could not grade is missing, with the grader's reason
    assert lines[3] == (
        f"carol,,,,0,0,0,15,0,{LIB},0,{LIB + 15},2026-11-22T09:00:00+00:00,01_linear_classifiers "
        "02_nonlinear_features library,library: error: no nnlib package in carol; "
        "collect: no notebooks"
    )
    assert lines[4].startswith(f"dan,,,,0,0,0,15,12,{LIB},12,{LIB + 15},,01_linear_classifiers ")


def test_merge_reads_nbgrader_own_export(tmp_path):
    """``nbgrader export`` has no status: no timestamp and no score means not submitted."""
    own = "\n".join(line.rsplit(",", 1)[0] for line in NOTEBOOKS_CSV.splitlines()[:3]) + "\n"
    _write(tmp_path / "nb.csv", own)
    _write(tmp_path / "lib.csv", LIBRARY_CSV)
    lines = merge(tmp_path / "nb.csv", tmp_path / "lib.csv").splitlines()
    assert lines[0].endswith("total,total_max,submitted_at,missing,status")
    bob = next(line for line in lines if line.startswith("bob,"))
    assert ",01_linear_classifiers library," in bob


def test_merge_refuses_a_wrong_or_empty_file(tmp_path):
    _write(tmp_path / "lib.csv", LIBRARY_CSV)
    with pytest.raises(MergeError, match="not found"):
        merge(tmp_path / "missing.csv", tmp_path / "lib.csv")
    with pytest.raises(MergeError, match="missing column"):
        merge(tmp_path / "lib.csv", tmp_path / "lib.csv")
    _write(tmp_path / "empty.csv", NOTEBOOKS_CSV[: NOTEBOOKS_CSV.index("\n01_") + 1])
    with pytest.raises(MergeError, match=r"empty.csv holds no grades \(only a header\)"):
        merge(tmp_path / "empty.csv", tmp_path / "lib.csv")
    _write(tmp_path / "nb.csv", NOTEBOOKS_CSV)
    _write(tmp_path / "nolib.csv", LIBRARY_CSV.split("\n")[0] + "\n")
    with pytest.raises(MergeError, match=r"nolib\.csv holds no grades"):
        merge(tmp_path / "nb.csv", tmp_path / "nolib.csv")


# ------------------------------------------------------- notebook grades into the gradebook


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch):
    """nbgrader sets up a new gradebook with the "alembic" command beside this Python."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def _gradebook(path, student=None, auto=None, manual=None, when=None):
    """A gradebook with one assignment ``a`` (notebook ``a``: code cell ``c``, written ``w``)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{path}", "manual-neural-networks") as gb:
        gb.add_assignment("a")
        gb.add_notebook("a", "a")
        gb.add_grade_cell("c", "a", "a", max_score=3, cell_type="code")
        gb.add_grade_cell("w", "a", "a", max_score=2, cell_type="markdown")
        gb.add_solution_cell("w", "a", "a")
        if student:
            gb.add_student(student)
            gb.add_submission("a", student, timestamp=when)
            code = gb.find_grade("c", "a", "a", student)
            code.auto_score = auto
            written = gb.find_grade("w", "a", "a", student)
            written.manual_score = manual
            gb.find_comment("w", "a", "a", student).manual_comment = "kept" if manual else None
            gb.db.commit()
    return path


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
def test_a_regraded_student_keeps_the_manual_score_and_gets_the_new_automatic_one(tmp_path):
    from nbgrader.api import Gradebook

    from autograder.notebook_grading import Result, merge_result

    course = tmp_path / "course"
    course.mkdir()
    _gradebook(course / "gradebook.db", "ann", auto=3, manual=1.5, when="2026-11-20 10:00:00")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    _gradebook(scratch / "gradebook.db", "ann", auto=0, manual=None, when="2026-11-22 09:00:00")
    graded = scratch / "autograded" / "ann" / "a" / "a.ipynb"
    graded.parent.mkdir(parents=True)
    graded.write_text("{}")
    merge_result(course, Result("ann", ["a"], scratch, done=["a"]))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "manual-neural-networks") as gb:
        sub = gb.find_submission("a", "ann")
        assert str(sub.timestamp) == "2026-11-22 09:00:00", "the resubmission's time"
        code = gb.find_grade("c", "a", "a", "ann")
        written = gb.find_grade("w", "a", "a", "ann")
        assert code.auto_score == 0, "the new automatic score replaces the old one"
        assert written.manual_score == 1.5, "a manual score must survive a regrade"
        assert written.needs_manual_grade, "a kept manual score is flagged for review"
        assert gb.find_comment("w", "a", "a", "ann").manual_comment == "kept"
        assert sub.score == 1.5
    assert (course / "autograded" / "ann" / "a" / "a.ipynb").read_text() == "{}"


def test_export_refuses_a_gradebook_without_a_graded_submission(tmp_path):
    from autograder.notebook_grading import GradingError, export

    course = tmp_path / "course"
    course.mkdir()
    _gradebook(course / "gradebook.db")
    with pytest.raises(GradingError, match="holds no graded submission"):
        export(course)
    assert not (course / "nbgrader_grades.csv").exists()


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
def test_each_grading_run_first_keeps_a_copy_of_the_gradebook(tmp_path):
    from nbgrader.api import Gradebook

    from autograder.notebook_grading import backup_gradebook

    course = tmp_path / "course"
    course.mkdir()
    _gradebook(course / "gradebook.db", "ann", auto=3)
    copies = [backup_gradebook(course, keep=2) for _ in range(3)]
    assert sorted((course / "backups").iterdir()) == copies[1:], "the newest two are kept"
    with Gradebook(f"sqlite:///{copies[-1]}", "manual-neural-networks") as gb:
        assert gb.find_grade("c", "a", "a", "ann").auto_score == 3
