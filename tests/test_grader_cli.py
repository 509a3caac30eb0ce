"""nnlib-grade's command line: where it writes by default, and how it fails when it cannot run."""

from pathlib import Path

from autograder.grader import cli
from autograder.grader.sandbox import SandboxError


def test_default_output_is_the_folder_make_clean_keeps(monkeypatch, tmp_path):
    seen = {}

    def fake_grade_folder(folder, out, *args, **kwargs):
        seen["out"] = out
        return 0, 0

    monkeypatch.setattr(cli, "grade_folder", fake_grade_folder)
    assert cli.main([str(tmp_path)]) == 0
    assert seen["out"] == Path("grading/library"), (
        "nnlib-grade must write where the Makefile and README do (grading/library), a folder "
        f"make clean keeps; it wrote to {seen['out']}"
    )


def test_a_sandbox_that_cannot_start_is_a_grader_error_not_a_traceback(
    monkeypatch, tmp_path, capsys
):
    def no_sandbox(*args, **kwargs):
        raise SandboxError("sandbox mode 'uid' needs root; use 'plain'")

    monkeypatch.setattr(cli, "grade_folder", no_sandbox)
    assert cli.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "grader error: the sandbox cannot start" in err and "needs root" in err, err
    assert not (tmp_path / "out").exists(), "a grader that cannot start writes no records"


def test_the_readme_nnlib_grade_command_runs_as_written(tmp_path):
    """The README's direct call of the grader, run as written from a kit-like folder."""
    import re
    import shutil
    import subprocess
    import sys

    from autograder.student_copy import make_student_copy

    root = Path(__file__).resolve().parent.parent
    readme = " ".join((root / "README.md").read_text().split())
    found = re.search(
        r"`(\.venv/bin/nnlib-grade submissions --out grading/library --jobs 2)`", readme
    )
    assert found, "the README no longer gives `.venv/bin/nnlib-grade submissions --out ...`"
    command = found.group(1)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    make_student_copy(
        root / "src" / "nnlib", tmp_path / "submissions" / "untouched" / "src" / "nnlib"
    )
    shutil.copytree(
        root / "src" / "nnlib",
        tmp_path / "submissions" / "model" / "src" / "nnlib",
        ignore=shutil.ignore_patterns("__pycache__", "fast"),
    )
    run = subprocess.run(command.split(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{command} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    rows = (tmp_path / "grading" / "library" / "grades.csv").read_text().splitlines()
    by_id = {row.split(",")[0]: row.split(",") for row in rows[1:]}
    assert set(by_id) == {"model", "untouched"}, rows
    assert float(by_id["model"][1]) == float(by_id["model"][2]) > 0, rows
    assert float(by_id["untouched"][1]) == 0, rows


def test_an_unexpected_error_grading_one_student_never_stops_a_one_job_run(monkeypatch, tmp_path):
    # --jobs 1 grades in this process: whatever grading one submission raises must cost that
    # student a "grader error" row (graded again next run), as with --jobs 2, never the class.
    for sid in ("alice", "bob", "carol"):
        (tmp_path / "subs" / sid).mkdir(parents=True)

    class FakeGrader:
        def __init__(self, *args, **kwargs):
            pass

        def grade(self, path):
            if path.name == "bob":
                raise ValueError("Maximum allowed dimension exceeded")
            return {
                "student": path.name,
                "score": 1.0,
                "max_score": 2.0,
                "tasks": [],
                "sandbox": "fake",
                "grader_version": "",
                "status": "graded",
            }

        def close(self):
            pass

    monkeypatch.setattr(cli, "Grader", FakeGrader)
    graded, failed = cli.grade_folder(tmp_path / "subs", tmp_path / "out", jobs=1, echo=lambda s: 0)
    assert (graded, failed) == (2, 1), "one student's error stopped the others' grading"
    rows = (tmp_path / "out" / "grades.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["alice", "bob", "carol"]
    assert rows[2].split(",")[3].startswith("grader error:"), rows[2]


def test_names_in_a_submission_never_reach_the_terminal_raw(tmp_path):
    # A member name is the student's text: an escape sequence in it, echoed as is, would
    # rewrite the instructor's terminal (clear it, print a fake "alice: 192 / 192" line).
    import stat
    import zipfile

    (tmp_path / "subs").mkdir()
    with zipfile.ZipFile(tmp_path / "subs" / "mallory.zip", "w") as archive:
        info = zipfile.ZipInfo("\x1b[2J\x1b[Halice: 192 / 192\r")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    lines = []
    cli.grade_folder(tmp_path / "subs", tmp_path / "out", jobs=1, mode="plain", echo=lines.append)
    shown = "\n".join(lines)
    assert "mallory: 0 / " in shown, shown
    assert "\x1b" not in shown and "\r" not in shown, (
        f"a name from the submission reached the terminal with its control characters: {shown!r}"
    )
