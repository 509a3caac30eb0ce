"""``make self-study``, run as the README gives it: a workspace to do the exercises in, and the
readable solutions beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnlib.tasks import NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "self-study"


@pytest.fixture(scope="module")
def self_study():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make self-study" in readme, "the README should give the self-study command"
    run = subprocess.run(
        ["make", "self-study"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return OUT


def _sources(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells)


def test_workspace_has_the_student_notebooks_and_the_stubbed_library(self_study):
    workspace = self_study / "workspace"
    for name in NOTEBOOKS:
        student = workspace / "notebooks" / name / f"{name}.ipynb"
        assert student.is_file(), f"missing {student}"
        assert _sources(student) == _sources(ROOT / "notebooks" / name / f"{name}.ipynb"), (
            f"{name}: the workspace should hold the released student notebook"
        )
    for name in ("README.md", "pyproject.toml"):
        assert (workspace / name).is_file()
    losses = (workspace / "src" / "nnlib" / "losses.py").read_text(encoding="utf-8")
    assert "NotImplementedError" in losses and "BEGIN SOLUTION" not in losses
    # The stubbed library imports, and a student task says it is not written yet.
    probe = subprocess.run(
        [sys.executable, "-c", "import numpy as np, nnlib; nnlib.softmax(np.zeros((2, 3)))"],
        cwd=workspace,
        env={**os.environ, "PYTHONPATH": str(workspace / "src")},
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "NotImplementedError" in probe.stderr, probe.stderr[-500:]
    assert (
        str(workspace / "src" / "nnlib")
        in subprocess.run(
            [sys.executable, "-c", "import nnlib; print(nnlib.__file__)"],
            cwd=workspace,
            env={**os.environ, "PYTHONPATH": str(workspace / "src")},
            capture_output=True,
            text=True,
        ).stdout
    ), "the probe must have used the workspace's nnlib"


def test_solutions_are_readable_and_complete(self_study):
    solutions = self_study / "solutions"
    for name in NOTEBOOKS:
        text = _sources(solutions / name / f"{name}.ipynb")
        assert "### BEGIN" not in text and "### END" not in text, f"{name}: marker lines left"
        source = _sources(ROOT / "solutions" / name / f"{name}.ipynb")
        assert "YOUR ANSWER HERE" not in text
        assert len(text) > 0.9 * len(source), f"{name}: solution content missing"
    reference = (solutions / "nnlib" / "losses.py").read_text(encoding="utf-8")
    assert "NotImplementedError" not in reference.split("def softmax(", 1)[1].split("\ndef ")[0]
    assert "BEGIN SOLUTION" not in reference
    readme = (self_study / "README.md").read_text(encoding="utf-8")
    assert "workspace/" in readme and "solutions/" in readme
    assert f"({NOTEBOOKS[0][:2]} → {NOTEBOOKS[-1][:2]})" in readme, "the README names the range"
