"""The library grader piece by piece: submissions, the sandbox, diagnosis, records, resume."""

import json
import os
import shutil
import zipfile

import numpy as np
import pytest

from autograder.grader.cases import Case, task_specs
from autograder.grader.cli import grade_folder, main
from autograder.grader.corpus import REFERENCE_SRC, Sample, build_sample, load_samples
from autograder.grader.diagnose import likely_mistakes
from autograder.grader.grade import Grader
from autograder.grader.report import atomic_write, grades_csv
from autograder.grader.submission import SubmissionError, copy_package, list_submissions
from nnlib.checks import Graph
from nnlib.tasks import TASKS

LIBRARY_MAX = sum(task.points for task in TASKS)  # the reference's score

SAMPLES = {s.name: s for s in load_samples()}


def _build(tmp_path, *names):
    subs = tmp_path / "subs"
    for name in names:
        build_sample(SAMPLES[name], subs, {})
    return subs


# ------------------------------------------------------------------------ submissions


def test_zip_and_nested_folders_are_found(tmp_path):
    subs = _build(tmp_path, "reference")
    with zipfile.ZipFile(tmp_path / "alice.zip", "w") as archive:
        for path in (subs / "reference").rglob("*.py"):
            archive.write(path, "alice-bundle/" + str(path.relative_to(subs / "reference")))
    digest_zip = copy_package(tmp_path / "alice.zip", tmp_path / "a", tmp_path / "scratch")
    digest_dir = copy_package(subs / "reference", tmp_path / "b", tmp_path / "scratch2")
    assert digest_zip == digest_dir
    assert (tmp_path / "a" / "losses.py").is_file()


def test_bad_submissions_get_a_clear_error(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"this is not a zip")
    with pytest.raises(SubmissionError, match="not a readable zip"):
        copy_package(tmp_path / "broken.zip", tmp_path / "x", tmp_path / "s")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="no nnlib package"):
        copy_package(tmp_path / "empty", tmp_path / "y", tmp_path / "s2")
    with pytest.raises(SubmissionError, match="not found"):
        list_submissions(tmp_path / "missing")


def test_cli_reports_a_missing_folder(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "submissions folder not found" in capsys.readouterr().err
    (tmp_path / "subs").mkdir()
    (tmp_path / "grades.csv").write_text("kept\n")  # a file where a folder is expected
    assert main([str(tmp_path / "subs"), "--out", str(tmp_path / "grades.csv")]) == 2
    assert "grades.csv is a file; name a folder with --out" in capsys.readouterr().err
    assert (tmp_path / "grades.csv").read_text() == "kept\n"  # a traceback from mkdir before
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0


# ------------------------------------------------------------------------ diagnosis


def _case(function, name="small"):
    spec = next(s for s in task_specs() if s.task.function == function)
    return next(c for c in spec.cases if c.name == name)


@pytest.mark.parametrize(
    ("function", "mutate", "phrase"),
    [
        ("softmax_loss_grad", lambda e, c: {"return": e["return"] * c.batch}, "times too large"),
        ("softmax_loss_grad", lambda e, c: {"return": -e["return"]}, "sign flipped"),
        ("softmax_regression_grad", lambda e, c: {"return": e["return"].T}, "transposed"),
        ("nn_gradients", None, "ReLU mask is missing"),
        ("softmax_loss_grad", "labels", "label values themselves"),
        ("mlp_backward", "at_output", "output σ(U)"),
        ("softmax_regression_epoch", "drop_last", "last, partial minibatch"),
    ],
)
def test_likely_mistake_is_named(function, mutate, phrase):
    name = (
        "partial_batch"
        if function.endswith("epoch")
        else "tanh_3_layers"
        if (function.startswith("mlp"))
        else "small"
    )
    case = _case(function, name)
    expected = case.expected
    if mutate is None:  # the ReLU mask left out of dW1
        X, y, W1, W2 = case.args
        A1 = np.maximum(X @ W1, 0)
        S = np.exp(A1 @ W2 - (A1 @ W2).max(1, keepdims=True))
        S /= S.sum(1, keepdims=True)
        S[np.arange(len(y)), y] -= 1
        got = {"return.0": X.T @ (S / len(y) @ W2.T), "return.1": expected["return.1"]}
    elif mutate == "labels":
        Z, y = case.args
        S = np.exp(Z - Z.max(1, keepdims=True))
        S /= S.sum(1, keepdims=True)
        got = {"return": ((S - y[:, None]) / len(y)).astype(Z.dtype)}
    elif mutate == "at_output":
        from autograder.grader.cases import run_reference
        from autograder.grader.mutants import VARIANTS

        got = run_reference(function, case, fn=VARIANTS[function]["sigma_at_output"])
    elif mutate == "drop_last":
        from autograder.grader.cases import run_reference
        from autograder.grader.mutants import VARIANTS

        got = run_reference(function, case, fn=VARIANTS[function]["skipped_last_batch"])
    else:
        got = mutate(expected, case)
    messages = likely_mistakes(function, case, got)
    assert any(phrase in m for m in messages), messages


def test_a_correct_output_has_no_mistake():
    case = _case("nn_gradients")
    assert likely_mistakes("nn_gradients", case, dict(case.expected)) == []


def _first_array(case):
    """The first array argument of a case (past the number g; a graph's first value)."""
    for arg in case.args:
        if isinstance(arg, Graph):
            return arg.values[0]
        if isinstance(arg, np.ndarray):
            return arg
    raise AssertionError(f"case {case.name} has no array argument")


def test_every_task_has_hidden_cases_of_shapes_the_visible_checks_do_not_use():
    from nnlib import checks

    for spec in task_specs():
        values = [c for c in spec.cases if c.kind == "values"]
        first = [_first_array(c) for c in values]
        assert any(a.shape[0] not in (checks.N, checks.D) for a in first), spec.task.function
        assert len(values) >= 3 and all(isinstance(c, Case) for c in spec.cases)


# ------------------------------------------------------------------------ sandbox


@pytest.mark.skipif(os.geteuid() != 0, reason="hiding files from the child needs root")
def test_child_sees_no_reference_output_or_other_submission(tmp_path):
    out, subs = tmp_path / "out", tmp_path / "subs"
    spy = Sample(
        "spy",
        "reports what it can see",
        "reference",
        LIBRARY_MAX,
        "",
        [
            {
                "module": "activations",
                "function": "relu",
                "code": f'''
def relu(Z):
    import os
    paths = {{"reference": "{REFERENCE_SRC}/losses.py",
             "repository": "{REFERENCE_SRC.parent.parent}", "output": "{out}",
             "submissions": "{subs}", "root_home": "/root/.bashrc",
             "grader": "{REFERENCE_SRC.parent.parent}/autograder/grader/cases.py"}}
    seen = sorted(k for k, p in paths.items() if os.path.exists(p))
    print("VISIBLE:", seen, "UID:", os.getuid(), flush=True)
    return np.maximum(Z, 0)
''',
            }
        ],
    )
    build_sample(spy, subs, {})
    out.mkdir()
    grader = Grader("namespace")
    try:
        record = grader.grade(subs / "spy")
    finally:
        grader.close()
    assert record["score"] == LIBRARY_MAX
    assert "VISIBLE: []" in record["printed"], record["printed"]
    uid = int(record["printed"].split("UID:")[1].split()[0])
    assert uid != 0


def test_plain_sandbox_grades_alike(tmp_path):
    subs = _build(tmp_path, "reference", "partial", "os_exit_in_function")
    grade_folder(subs, tmp_path / "out", jobs=1, mode="plain", echo=lambda *a: None)
    for name in ("reference", "partial", "os_exit_in_function"):
        record = json.loads((tmp_path / "out" / name / "result.json").read_text())
        assert record["sandbox"] == "plain"
        assert record["score"] == SAMPLES[name].expected_score


# ------------------------------------------------------------------------ records


def test_resume_skips_finished_and_force_regrades(tmp_path):
    subs = _build(tmp_path, "reference", "stubs")
    out, log = tmp_path / "out", []
    assert grade_folder(subs, out, echo=log.append) == (2, 0)
    first = json.loads((out / "reference" / "result.json").read_text())
    assert grade_folder(subs, out, echo=log.append) == (0, 0)  # nothing left to do
    (out / "stubs" / "result.json").unlink()  # as if interrupted before stubs finished
    assert grade_folder(subs, out, echo=log.append) == (1, 0)
    assert grade_folder(subs, out, force=True, echo=log.append) == (2, 0)
    with open(subs / "stubs" / "src" / "nnlib" / "losses.py", "a") as f:
        f.write("\n# resubmitted\n")
    assert grade_folder(subs, out, echo=log.append) == (1, 0)  # changed code is regraded
    again = json.loads((out / "reference" / "result.json").read_text())
    for record in (first, again):
        record.pop("seconds")
        record.pop("seed")  # --force graded it in a later run, on fresh hidden inputs
    assert first == again, "same submission, same record"
    assert (out / "grades.csv").read_text().count("\n") == 3


def test_output_inside_submissions_is_refused(tmp_path):
    subs = _build(tmp_path, "stubs")
    with pytest.raises(SubmissionError, match="must not lie inside"):
        grade_folder(subs, subs / "grades", echo=lambda *a: None)


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write(tmp_path / "a" / "x.json", "{}")
    atomic_write(tmp_path / "a" / "x.json", '{"b": 1}')
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.json"]


def test_error_record_in_csv():
    text = grades_csv(
        [
            {
                "student": "bob",
                "score": 0.0,
                "max_score": float(LIBRARY_MAX),
                "error": "bob.zip is not a readable zip file",
                "tasks": [],
            }
        ]
    )
    assert f"bob,0,{LIBRARY_MAX},error: bob.zip is not a readable zip file" in text


def test_reference_package_is_untouched_by_grading():
    assert "### BEGIN SOLUTION" in (REFERENCE_SRC / "losses.py").read_text()
    assert shutil.which("unshare") or os.geteuid() != 0


# ------------------------------------------------------------------------ re-runs


def test_a_changed_grader_or_reference_regrades_everyone_and_says_why(tmp_path, monkeypatch):
    import autograder.grader.cli as cli

    subs = _build(tmp_path, "reference", "stubs")
    out, log = tmp_path / "out", []
    assert grade_folder(subs, out, echo=log.append) == (2, 0)
    changed = dict(cli.grader_fingerprint(), reference="another reference")
    monkeypatch.setattr(cli, "grader_fingerprint", lambda: changed)
    log.clear()
    assert grade_folder(subs, out, echo=log.append) == (2, 0)
    assert any("2 the reference nnlib changed" in line for line in log), log
    record = json.loads((out / "stubs" / "result.json").read_text())
    record["grader_error"] = True  # as if the sandbox had failed for this student
    (out / "stubs" / "result.json").write_text(json.dumps(record))
    monkeypatch.undo()
    log.clear()
    grade_folder(subs, out, echo=log.append)
    assert any("the grader failed last time" in line for line in log), log


def test_a_record_reproduces_from_its_seed(tmp_path):
    subs = _build(tmp_path, "partial")
    grade_folder(subs, tmp_path / "a", echo=lambda *a: None)
    first = json.loads((tmp_path / "a" / "partial" / "result.json").read_text())
    grade_folder(subs, tmp_path / "b", seed=first["seed"], echo=lambda *a: None)
    again = json.loads((tmp_path / "b" / "partial" / "result.json").read_text())
    assert again["seed"] == first["seed"] and again["tasks"] == first["tasks"]


def test_answers_from_an_earlier_run_score_nothing(tmp_path):
    """The answer_table sample answers the inputs of the fixed seed SEED (as if collected
    from an earlier run): graded with that seed it scores, with a fresh one it does not."""
    from autograder.grader.cases import SEED
    from autograder.grader.corpus import default_placeholders

    subs = tmp_path / "subs"
    build_sample(SAMPLES["answer_table"], subs, default_placeholders(subs, tmp_path, tmp_path))
    grade_folder(subs, tmp_path / "old", seed=SEED, echo=lambda *a: None)
    grade_folder(subs, tmp_path / "new", echo=lambda *a: None)
    old = json.loads((tmp_path / "old" / "answer_table" / "result.json").read_text())
    new = json.loads((tmp_path / "new" / "answer_table" / "result.json").read_text())
    assert old["score"] >= 15, "the table must answer the inputs it was built from"
    assert new["score"] == 0 and new["seed"] != SEED


def _start_grading(tmp_path, count, jobs):
    import subprocess
    import sys

    subs = tmp_path / "subs"
    for i in range(count):
        sample = SAMPLES["infinite_loop"]
        build_sample(sample, subs, {})
        (subs / sample.name).rename(subs / f"student{i:02d}")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "autograder.grader.cli", str(subs), "--out", str(out)]
    argv += ["--jobs", str(jobs), "--task-seconds", "1"]
    proc = subprocess.Popen(
        argv, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    return proc, out


def _wait_for_records(out, proc, count=1, seconds=120):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.glob("*/result.json"))) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no record after {seconds} s: {proc.communicate()[0][-2000:]}")


@pytest.mark.parametrize(("jobs", "presses"), [(2, 1), (2, 2), (1, 1)])
def test_ctrl_c_stops_within_seconds_and_keeps_finished_records(tmp_path, jobs, presses):
    import signal
    import subprocess
    import time

    proc, out = _start_grading(tmp_path, 12, jobs)
    try:
        _wait_for_records(out, proc)
        pressed = time.monotonic()
        for _ in range(presses):
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            time.sleep(0.3)
        output = proc.communicate(timeout=30)[0].decode()
        seconds = time.monotonic() - pressed
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("grading did not stop after Ctrl-C") from None
    # 130: stopped by Ctrl-C; a second press while the process exits ends it by SIGINT.
    assert proc.returncode in (130, -signal.SIGINT), output
    assert "Exception in thread" not in output and "Traceback" not in output, output
    records = list(out.glob("*/result.json"))
    assert 1 <= len(records) < 12, "stopped early, keeping what was finished"
    for path in records:
        assert json.loads(path.read_text())["score"] == SAMPLES["infinite_loop"].expected_score
    rows = (out / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(records), "grades.csv is written from the finished records"
    assert seconds < 20, f"took {seconds:.1f} s to stop"


WORKER_STOPPED_INSIDE_DEL = """
import os, signal, sys, time
from autograder.grader import cli

cli._install_stop_handlers()
cli._busy = True  # grading: SIGTERM raises Stop


class Finalizer:
    def __del__(self):  # Python cannot let an exception out of here
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the handler runs here, and its Stop is dropped


try:
    Finalizer()
    time.sleep(2)
    print("kept grading")
except cli.Stop:
    print("stopped")
"""


def test_a_stop_dropped_where_exceptions_cannot_escape_still_stops_the_worker():
    # SIGTERM from the parent may land in an at-fork hook (a worker starts a child for every
    # task), where Python prints the Stop and drops it: the worker then graded on until the
    # parent killed it, leaving its sandbox behind, and the instructor saw a traceback.
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", WORKER_STOPPED_INSIDE_DEL],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.stdout.strip() == "stopped", (
        "a worker's Stop dropped inside __del__ (or an at-fork hook) must be raised again at "
        f"the next ordinary line; the worker printed {run.stdout!r} {run.stderr[-600:]!r}"
    )
    assert "Traceback" not in run.stderr, run.stderr


def test_a_grader_failure_is_recorded_as_such_and_regraded(tmp_path, monkeypatch):
    subs = _build(tmp_path, "stubs")
    out, log = tmp_path / "out", []

    def broken(self, submission):
        raise RuntimeError("the grading child failed to start")

    monkeypatch.setattr(Grader, "grade", broken)
    assert grade_folder(subs, out, echo=log.append) == (0, 1)
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[1].startswith(f"stubs,0,{LIBRARY_MAX},grader error: the grader failed"), rows
    assert "problem of the grader" in (out / "stubs" / "feedback.md").read_text()
    monkeypatch.undo()
    log.clear()
    assert grade_folder(subs, out, echo=log.append) == (1, 0)
    assert any("the grader failed last time" in line for line in log), log
