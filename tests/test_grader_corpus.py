"""The sample corpus: every submission graded together (two jobs) gets exactly its score.

The corpus (autograder/samples) holds the reference, the stubs, a partial solution and the
broken and adversarial submissions; each sample.toml states the score it deserves and a
phrase its feedback must contain. Grading them side by side also shows that no submission
changes another's grade, and that the attacks reached nothing outside their sandbox.
"""

import csv
import json
import os

import pytest

from autograder.grader.cli import grade_folder
from autograder.grader.corpus import build_corpus, default_placeholders, load_samples

SAMPLES = load_samples()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    subs, out, decoy = root / "submissions", root / "out", root / "decoy"
    decoy.mkdir()
    (decoy / "precious.txt").write_text("must survive")
    build_corpus(subs, default_placeholders(subs, out, decoy))
    before = sorted(p.relative_to(subs) for p in subs.rglob("*"))
    lines = []
    done, failed = grade_folder(subs, out, jobs=2, task_seconds=2.0, echo=lines.append)
    return {
        "subs": subs,
        "out": out,
        "decoy": decoy,
        "before": before,
        "done": done,
        "failed": failed,
        "log": lines,
    }


def _record(graded, name):
    return json.loads((graded["out"] / name / "result.json").read_text())


def test_every_sample_was_graded(graded):
    assert graded["failed"] == 0, graded["log"]
    assert graded["done"] == len(SAMPLES) >= 18


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_sample_gets_its_expected_score_and_feedback(graded, sample):
    record = _record(graded, sample.name)
    assert record["score"] == pytest.approx(sample.expected_score, abs=1e-9), (
        f"{sample.name} ({sample.description}) scored {record['score']}, "
        f"expected {sample.expected_score}"
    )
    feedback = (graded["out"] / sample.name / "feedback.md").read_text()
    assert sample.feedback in feedback, f"{sample.name}: feedback lacks {sample.feedback!r}"
    assert len(feedback) < 64_000, "captured output must be capped"


def test_attacks_changed_nothing_outside_their_sandbox(graded):
    subs, out = graded["subs"], graded["out"]
    assert (graded["decoy"] / "precious.txt").read_text() == "must survive"
    assert sorted(p.relative_to(subs) for p in subs.rglob("*")) == graded["before"]
    allowed = {"result.json", "feedback.md"}
    for path in out.rglob("*"):
        if path.is_file() and path.name != "grades.csv":
            assert path.name in allowed and path.parent.parent == out, f"stray file {path}"
    fake = _record(graded, "write_output")
    assert fake["score"] == 0 and len(fake["tasks"]) == 19


def test_grades_csv_has_one_row_per_sample(graded):
    with open(graded["out"] / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == {s.name for s in SAMPLES}
    for sample in SAMPLES:
        assert float(rows[sample.name]["library_score"]) == pytest.approx(sample.expected_score)


@pytest.mark.skipif(os.geteuid() != 0, reason="the namespace sandbox needs root")
def test_root_grading_used_the_namespace_sandbox(graded):
    assert {_record(graded, s.name)["sandbox"] for s in SAMPLES} == {"namespace"}


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
