"""The student bundle: nothing secret in it, it installs fresh, its tests fail only as stubs.

One fresh virtual environment per test session (installing numpy, scipy, matplotlib,
scikit-learn and pytest from the configured mirrors takes most of a minute).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from _grading_config import grader_cell_timeout

from autograder.bundle import ROOT, BundleError, build_bundle, leaked_lines, secret_lines
from autograder.student_copy import stub_message
from nnlib.tasks import NOTEBOOKS, TASKS

REFERENCE = ROOT / "src" / "nnlib"


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle")
    build_bundle(tmp / "student", zip_path=tmp / "student.zip")
    return tmp / "student"


def test_bundle_layout(bundle):
    for name in ("README.md", "pyproject.toml", "src/nnlib/__init__.py", "tests/conftest.py"):
        assert (bundle / name).is_file(), name
    assert (bundle / "notebooks").is_dir()
    notebooks = ROOT / "notebooks"
    if notebooks.is_dir():
        expected = sorted(
            p.relative_to(notebooks)
            for p in notebooks.rglob("*.ipynb")
            if ".ipynb_checkpoints" not in p.parts
        )
        assert (
            sorted(
                p.relative_to(bundle / "notebooks") for p in (bundle / "notebooks").rglob("*.ipynb")
            )
            == expected
        )
    tests = "".join(p.read_text() for p in (bundle / "tests").glob("test_*.py"))
    for task in TASKS:
        assert f"@pytest.mark.{task.marker}\n" in tests, f"no visible test for {task.function}"
        assert stub_message(task.function) in (bundle / task.path).read_text()


def test_no_solution_line_anywhere_in_the_bundle_or_its_zip(bundle, tmp_path):
    secrets = secret_lines(REFERENCE, ROOT / "solutions")
    assert len(secrets) > 50, "the secret-line extraction found suspiciously little"
    assert leaked_lines(bundle, secrets) == []
    with zipfile.ZipFile(bundle.with_suffix(".zip")) as archive:
        archive.extractall(tmp_path / "unzipped")
    assert leaked_lines(tmp_path / "unzipped", secrets) == []
    # and the check does catch a leak
    leaky = tmp_path / "leaky"
    shutil.copytree(bundle, leaky)
    line = sorted(secrets)[0]
    (leaky / "notes.txt").write_text(f"copied from the solution:\n    {line}\n")
    assert leaked_lines(leaky, secrets) == [("notes.txt", line)]


def test_a_line_a_given_function_shares_with_a_solution_is_public(tmp_path):
    """A given function may share a line with a solution block (``L = len(weights)``): the
    student's copy holds that line anyway, so it must not make the build refuse itself."""
    (tmp_path / "module.py").write_text(
        "def given(weights):\n"
        "    layer_count = len(weights)\n"
        "    return layer_count\n\n\n"
        "def mlp_gradients_checkpointed(weights):\n"  # a task of nnlib/tasks.py
        "    ### BEGIN SOLUTION\n"
        "    layer_count = len(weights)\n"
        "    return 2 * layer_count + 1\n"
        "    ### END SOLUTION\n"
    )
    secrets = secret_lines(tmp_path, None)
    assert "layer_count = len(weights)" not in secrets
    assert "return 2 * layer_count + 1" in secrets


def test_build_refuses_a_missing_reference(tmp_path):
    with pytest.raises(BundleError, match="reference package not found"):
        build_bundle(tmp_path / "b", package=tmp_path / "nothing")


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="session")
def fresh_venv(bundle, tmp_path_factory):
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    result = _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            # Not byte-compiling every installed module more than halves the install's time;
            # what the tests check (the bundle installs, its tests run) does not depend on it.
            "--no-compile",
            "-e",
            f"{bundle}[test]",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return python


@pytest.mark.from_scratch
def test_install_gives_validate_the_graders_cell_time(fresh_venv):
    # nbgrader reads nbgrader_config.json from Jupyter's config path, {prefix}/etc/jupyter
    # included: without it, Validate gives each cell nbgrader's default 30 s
    installed = fresh_venv.parent.parent / "etc" / "jupyter" / "nbgrader_config.json"
    assert installed.is_file(), "the bundle's install must put nbgrader_config.json there"
    config = json.loads(installed.read_text(encoding="utf-8"))
    assert config["Execute"]["timeout"] == grader_cell_timeout()


def _pytest(python, folder, junit, extra_env=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra_env or {})
    return _run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "tests",
        ],
        cwd=folder,
        env=env,
    )


def _cases(junit):
    return list(ET.parse(junit).getroot().iter("testcase"))


@pytest.mark.slow
@pytest.mark.from_scratch
def test_fresh_install_fails_only_with_the_stubs_messages(fresh_venv, bundle, tmp_path):
    result = _pytest(fresh_venv, bundle, tmp_path / "junit.xml")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    cases = _cases(tmp_path / "junit.xml")
    assert len(cases) == len(TASKS)
    for case in cases:
        failures = case.findall("failure") + case.findall("error")
        assert failures, f"{case.get('name')} passed against the stubs"
        text = failures[0].get("message", "") + (failures[0].text or "")
        assert "NotImplementedError" in text and "is not implemented yet" in text, (
            f"{case.get('name')} failed with something other than a stub's message:\n{text[-800:]}"
        )


@pytest.mark.slow
@pytest.mark.from_scratch
def test_reference_copied_into_the_bundle_passes_every_visible_test(fresh_venv, bundle, tmp_path):
    solved = tmp_path / "solved"
    shutil.copytree(bundle, solved)
    shutil.rmtree(solved / "src" / "nnlib")
    shutil.copytree(
        REFERENCE, solved / "src" / "nnlib", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {"PYTHONPATH": str(solved / "src")}
    which = _run(
        [str(fresh_venv), "-c", "import nnlib; print(nnlib.__file__)"], env={**os.environ, **env}
    )
    assert which.stdout.strip().startswith(str(solved)), which.stdout + which.stderr
    result = _pytest(fresh_venv, solved, tmp_path / "junit.xml", env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(_cases(tmp_path / "junit.xml")) == len(TASKS)


def test_one_task_runs_alone_by_its_marker(bundle):
    result = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "task_nn_gradients",
            "tests",
        ],
        cwd=bundle,
        env={**os.environ, "PYTHONPATH": str(bundle / "src")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = (f"1/{len(TASKS)} tests collected", "1 test collected")
    assert any(phrase in result.stdout for phrase in collected), result.stdout
    assert Path(bundle / "tests" / "test_03_two_layer_network.py").is_file()


@pytest.mark.slow
@pytest.mark.from_scratch
def test_readme_test_commands_run_as_written(fresh_venv, bundle, tmp_path):
    """The bundle README's "Run the visible tests" block, each line run as written with the
    fresh environment's ``bin`` first on PATH, in a bundle whose library is the reference: every
    command passes, the marker selects one task's test and the file one notebook's tests."""
    commands = readme_block(
        (bundle / "README.md").read_text(encoding="utf-8"), "Run the visible tests"
    )
    assert [c.split()[0] for c in commands] == ["pytest"] * 3, commands
    solved = tmp_path / "solved"
    shutil.copytree(bundle, solved)
    shutil.rmtree(solved / "src" / "nnlib")
    shutil.copytree(
        REFERENCE, solved / "src" / "nnlib", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{fresh_venv.parent}{os.pathsep}{env.get('PATH', '')}"  # as if activated
    env["PYTHONPATH"] = str(solved / "src")  # the editable install points at the stubs' copy
    passed = {}
    for command in commands:
        run = _run(command.split(), cwd=solved, env=env)
        assert run.returncode == 0, f"`{command}` failed:\n{run.stdout[-3000:]}{run.stderr}"
        counts = re.search(r"(\d+) passed(?:, (\d+) deselected)?", run.stdout)
        assert counts, run.stdout[-2000:]
        passed[command] = (int(counts[1]), int(counts[2] or 0))
    everything, marker, one_file = commands
    assert passed[everything] == (len(TASKS), 0), passed
    assert passed[marker] == (1, len(TASKS) - 1), passed
    in_file = sum(task.notebook == NOTEBOOKS[0] for task in TASKS)
    assert one_file.endswith(f"test_{NOTEBOOKS[0]}.py") and passed[one_file] == (in_file, 0), passed


# ---- the student's submit command, as the bundle's README gives it ------------------------


def readme_block(readme: str, heading: str) -> list[str]:
    """The command lines of the first code block under ``## <heading>`` (comments dropped)."""
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_submit_keeps_the_graders_limits():
    import importlib.util

    from autograder import collect
    from autograder.grader import submission

    spec = importlib.util.spec_from_file_location(
        "submit", ROOT / "autograder/student_bundle/submit.py"
    )
    submit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(submit)
    assert (
        submit.MAX_LIBRARY_FILES,
        submit.MAX_LIBRARY_FILE_BYTES,
        submit.MAX_LIBRARY_BYTES,
        submit.MAX_NOTEBOOK_BYTES,
    ) == (
        submission.MAX_FILES,
        submission.MAX_FILE_BYTES,
        submission.MAX_PACKAGE_BYTES,
        collect.MAX_NOTEBOOK_BYTES,
    ), "submit.py must refuse exactly what the library grader and make collect refuse"


def test_submit_refuses_what_the_graders_would_not_take(bundle, tmp_path):
    work = tmp_path / "jdoe"
    shutil.copytree(bundle, work)
    first, second = NOTEBOOKS[0], NOTEBOOKS[1]
    broken = work / "notebooks" / first / f"{first}.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")  # saved halfway
    heavy = work / "notebooks" / second / f"{second}.ipynb"
    nb = json.loads(heavy.read_text(encoding="utf-8"))
    nb["cells"][0]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "x" * (51 << 20)}
    ]
    nb["cells"][0]["cell_type"], nb["cells"][0]["execution_count"] = "code", 1
    heavy.write_text(json.dumps(nb), encoding="utf-8")
    data_module = work / "src" / "nnlib" / "pixels.py"
    data_module.write_text("PIXELS = " + repr(list(range(300_000))) + "\n", encoding="utf-8")

    result = _run([sys.executable, "submit.py"], cwd=work)
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (work / "submission.zip").exists(), "no zip the graders would refuse"
    err = result.stderr
    assert f"notebooks/{first}/{first}.ipynb is not a readable notebook" in err, err
    assert f"notebooks/{second}/{second}.ipynb is 51 MB, over the graders' 50 MB" in err, err
    assert "src/nnlib/pixels.py is " in err and "ignores a .py file over 1024 KB" in err, err

    # fixed as the messages say (and one notebook deleted): the zip is written, and says so
    data_module.unlink()
    shutil.copyfile(bundle / "notebooks" / second / f"{second}.ipynb", heavy)
    broken.unlink()
    result = _run([sys.executable, "submit.py"], cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"NOT in it: notebooks/{first}/{first}.ipynb (no such file)" in result.stdout


def test_submit_command_zips_exactly_what_is_graded(bundle, tmp_path):
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    commands = readme_block(readme, "Submit")
    assert commands == ["python submit.py"], f"the README's submit block changed: {commands}"
    work = tmp_path / "jdoe"
    shutil.copytree(bundle, work)
    shutil.rmtree(work / "src" / "nnlib")
    shutil.copytree(REFERENCE, work / "src" / "nnlib", ignore=shutil.ignore_patterns("__pycache__"))
    # what a student's folder holds besides their work: the README's own .venv, caches, data
    for n in range(300):
        junk = work / ".venv" / "lib" / f"pkg{n % 7}" / f"module{n}.py"
        junk.parent.mkdir(parents=True, exist_ok=True)
        junk.write_text("x = 1\n")
    (work / "src" / "nnlib" / "__pycache__").mkdir()
    (work / "src" / "nnlib" / "__pycache__" / "losses.cpython-311.pyc").write_bytes(b"\0" * 64)
    checkpoint = work / "notebooks" / "01_linear_classifiers" / ".ipynb_checkpoints"
    checkpoint.mkdir()
    (checkpoint / "01_linear_classifiers-checkpoint.ipynb").write_text("{}")
    (work / "data.bin").write_bytes(b"\0" * 100_000)

    words = commands[0].split()
    result = _run([sys.executable, *words[1:]], cwd=work)  # "python" of the student's env
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(work / "submission.zip") as archive:
        names = sorted(archive.namelist())
    expected = sorted(
        [p.relative_to(work).as_posix() for p in (work / "src" / "nnlib").rglob("*.py")]
        + [f"notebooks/{n}/{n}.ipynb" for n in NOTEBOOKS]
    )
    assert names == expected, "submission.zip must hold the library's .py files and notebooks"
    assert (work / "submission.zip").stat().st_size < 2_000_000

    # and what it holds is what the graders take: full library score, every notebook collected
    from autograder.collect import collect

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    shutil.copyfile(work / "submission.zip", class_dir / "jdoe.zip")
    grade = _run(
        [
            sys.executable,
            "-m",
            "autograder.grader.cli",
            str(class_dir),
            "--out",
            str(tmp_path / "grades"),
            "--jobs",
            "2",
        ],
        cwd=ROOT,
    )
    assert grade.returncode == 0, grade.stdout + grade.stderr
    row = (tmp_path / "grades" / "grades.csv").read_text().splitlines()[1].split(",")
    assert row[:4] == ["jdoe", row[2], row[2], "graded"], f"the reference scored {row[:4]}"
    report = collect(class_dir, tmp_path / "course")
    assert report[0].notebooks == list(NOTEBOOKS) and report[0].status == "collected"
