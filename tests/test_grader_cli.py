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
