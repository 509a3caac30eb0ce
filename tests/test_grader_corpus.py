"""The sample corpus: every submission graded together (two jobs) gets exactly its score.

The corpus (autograder/samples) holds the reference, the stubs, a partial solution and the
broken and adversarial submissions; each sample.toml states the score it deserves and a
phrase its feedback must contain. Grading them side by side also shows that no submission
changes another's grade, and that the attacks reached nothing outside their sandbox.
"""

import csv
import json
import os

import numpy as np
import pytest

from autograder.grader.cases import task_specs
from autograder.grader.cli import grade_folder
from autograder.grader.corpus import build_corpus, default_placeholders, load_samples
from autograder.grader.submission import id_problem
from nnlib.tasks import TASKS

SAMPLES = load_samples()
WITH_RECORD = [s for s in SAMPLES if id_problem(s.student) is None]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    subs, out, decoy = root / "submissions", root / "out", root / "decoy"
    decoy.mkdir()
    (decoy / "precious.txt").write_text("must survive")
    build_corpus(subs, default_placeholders(subs, out, decoy))
    before = _tree(subs)
    lines = []
    done, failed = grade_folder(subs, out, jobs=2, task_seconds=2.0, echo=lines.append)
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {
        "rows": rows,
        "subs": subs,
        "out": out,
        "decoy": decoy,
        "before": before,
        "done": done,
        "failed": failed,
        "log": lines,
    }


def _tree(folder):
    """Every path under ``folder`` without following links or descending very deep."""
    found = []
    for dirpath, dirs, files in os.walk(folder):
        if dirpath.count(os.sep) - str(folder).count(os.sep) > 12:
            dirs[:] = []
        found += [os.path.relpath(os.path.join(dirpath, n), folder) for n in dirs + files]
    return sorted(found)


def _record(graded, name):
    return json.loads((graded["out"] / name / "result.json").read_text())


def test_every_sample_was_graded(graded):
    assert graded["failed"] == 0, graded["log"]
    refused = [s for s in SAMPLES if s.also_zip or id_problem(s.student)]
    assert len(refused) >= 2 and graded["done"] == len(SAMPLES) - len(refused), graded["log"]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_sample_gets_its_expected_score_and_feedback(graded, sample):
    row = graded["rows"][sample.student]
    assert float(row["library_score"]) == pytest.approx(sample.expected_score, abs=1e-9), (
        f"{sample.name} ({sample.description}) scored {row['library_score']}, "
        f"expected {sample.expected_score}"
    )
    assert sample.expected_status in row["status"], row["status"]
    if sample.expected_status:
        assert row["status"].startswith("error: "), "a submission not graded must say so"
    if sample in WITH_RECORD:
        feedback = (graded["out"] / sample.student / "feedback.md").read_text()
        assert sample.feedback in feedback, f"{sample.name}: feedback lacks {sample.feedback!r}"
        assert not sample.absent or sample.absent not in feedback, f"{sample.absent!r} leaked"
        assert len(feedback) < 64_000, "captured output must be capped"
        assert _record(graded, sample.student)["score"] == float(row["library_score"])


def test_hidden_inputs_do_not_reach_the_feedback(graded):
    """prints_inputs prints and raises with every input: regenerate the inputs from the
    record's seed and look for any of their values in what the student reads."""
    record = _record(graded, "prints_inputs")
    feedback = (graded["out"] / "prints_inputs" / "feedback.md").read_text()
    assert "INPUT" not in feedback and "INPUT" in record["printed"]
    values = set()
    for spec in task_specs(record["seed"]):
        if spec.task.function in ("softmax", "relu", "relu_grad", "radial_features"):
            for case in spec.cases:
                for x in np.asarray(case.args[0]).ravel():
                    values |= {repr(float(x)), f"{float(x):.4f}", str(round(float(x) * 1e6))}
                values.add(case.args[0].tobytes().hex()[:12])
    leaked = sorted(v for v in values if len(v.lstrip("-")) >= 4 and v in feedback)
    assert not leaked, f"hidden inputs echoed in feedback.md: {leaked[:5]}"


def test_grading_seeds_are_fresh_and_recorded(graded):
    seeds = {_record(graded, s.student).get("seed") for s in WITH_RECORD}
    seeds.discard(None)
    assert len(seeds) == 1, "one run, one seed, kept in every graded record"
    from autograder.grader.cases import SEED

    assert seeds != {SEED}, "grading must not use the fixed seed the tests use"


def test_a_resumed_run_grades_nobody_again_and_does_not_crash(graded):
    lines = []
    done, failed = grade_folder(graded["subs"], graded["out"], jobs=1, echo=lines.append)
    assert (done, failed) == (0, 0), lines
    assert any("two entries share the id 'id_collision'" in line for line in lines), lines
    with open(graded["out"] / "grades.csv", newline="") as f:
        assert {row["student"] for row in csv.DictReader(f)} == {s.student for s in SAMPLES}


def test_attacks_changed_nothing_outside_their_sandbox(graded):
    subs, out = graded["subs"], graded["out"]
    assert (graded["decoy"] / "precious.txt").read_text() == "must survive"
    assert _tree(subs) == graded["before"]
    allowed = {"result.json", "feedback.md"}
    for path in out.rglob("*"):
        if path.is_file() and path.name != "grades.csv":
            assert path.name in allowed and path.parent.parent == out, f"stray file {path}"
    fake = _record(graded, "write_output")
    assert fake["score"] == 0 and len(fake["tasks"]) == len(TASKS)


def test_grades_csv_has_one_row_per_sample(graded):
    with open(graded["out"] / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == {s.student for s in SAMPLES}
    for sample in SAMPLES:
        assert float(rows[sample.student]["library_score"]) == pytest.approx(sample.expected_score)


@pytest.mark.skipif(os.geteuid() != 0, reason="the namespace sandbox needs root")
def test_root_grading_used_the_namespace_sandbox(graded):
    graded_here = [s for s in WITH_RECORD if not s.expected_status]
    assert {_record(graded, s.student)["sandbox"] for s in graded_here} == {"namespace"}


def test_no_process_of_a_sandbox_user_survives(graded):
    from autograder.grader.sandbox import UID_BASE

    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
        except FileNotFoundError:
            continue
        if UID_BASE <= uid < UID_BASE + 64:
            survivors.append(pid)
    assert not survivors, f"sandbox processes left behind (fork bomb?): {survivors}"
