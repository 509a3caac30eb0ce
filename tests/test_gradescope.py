"""The Gradescope export: the zip's layout, run_autograder in a fake /autograder, the schema.
(The merge of the notebook and library grades is tested in tests/test_collect_merge.py.)"""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

from autograder.grader.corpus import build_sample, load_samples
from autograder.gradescope import build_zip

SAMPLES = {s.name: s for s in load_samples()}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    return build_zip(tmp_path_factory.mktemp("gs") / "autograder.zip")


def test_zip_has_setup_and_run_autograder_at_its_root(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= names
    assert "src/nnlib/losses.py" in names and "autograder/grader/runner.py" in names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any(n.startswith("autograder/samples") for n in names)


def _gradescope_root(tmp_path, autograder_zip, sample):
    root = tmp_path / "autograder"
    (root / "results").mkdir(parents=True)
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    built = build_sample(SAMPLES[sample], tmp_path / "built", {})
    shutil.copytree(built, root / "submission")
    return root


def _run_autograder(root):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GRADESCOPE_ROOT=str(root), GRADESCOPE_PYTHON=sys.executable)
    return subprocess.run(
        ["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("sample", ["partial", "os_exit_in_function"])
def test_run_autograder_writes_valid_results(tmp_path, autograder_zip, sample):
    root = _gradescope_root(tmp_path, autograder_zip, sample)
    result = _run_autograder(root)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert isinstance(data["score"], float)
    assert data["score"] == pytest.approx(SAMPLES[sample].expected_score)
    assert len(data["tests"]) == 19
    for test in data["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["output"], str)
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(data["score"], abs=0.05)


def test_run_autograder_explains_an_empty_submission(tmp_path, autograder_zip):
    root = _gradescope_root(tmp_path, autograder_zip, "stubs")
    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    result = _run_autograder(root)
    assert result.returncode == 0, result.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0.0
    assert "no nnlib package" in data["tests"][0]["output"]
