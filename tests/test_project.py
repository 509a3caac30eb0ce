"""The project's own files agree with each other: dependencies, README, CI, Makefile."""

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _requirement_names(requirements) -> dict[str, str]:
    """Map a normalized distribution name to its full requirement string."""
    out = {}
    for req in requirements:
        name = re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0]
        out[name.lower().replace("_", "-")] = req.replace(" ", "")
    return out


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirement_names(project["dependencies"] + project["optional-dependencies"]["dev"])
    conda, in_dependencies = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if not line.startswith(" "):
            in_dependencies = line.startswith("dependencies:")
            continue
        match = re.match(r"^\s{2}- ([A-Za-z0-9_.\-]+.*)$", line)
        if in_dependencies and match and not match.group(1).startswith(("python", "pip")):
            conda.append(match.group(1).split("#")[0].strip())
    listed = _requirement_names(conda)
    assert listed == wanted, (
        "environment.yml and pyproject.toml disagree; "
        f"only in pyproject: {sorted(set(wanted.items()) - set(listed.items()))}, "
        f"only in environment.yml: {sorted(set(listed.items()) - set(wanted.items()))}"
    )


def test_readme_first_screen_gives_the_two_commands():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:25])
    for command in ("make course", "make test"):
        assert command in first_screen, f"the README's first screen must show `{command}`"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call `make test`, as the README says"
    assert re.search(r"^make test-from-scratch$", ci, re.M), (
        ".ci/run must also run the from-scratch tests, which `make test` leaves out"
    )


def test_the_readme_one_task_test_command_runs_as_written():
    """The README's command for one student task's tests selects that task's tests and passes."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"`(\.venv/bin/pytest -m task_\w+)`", readme)
    assert len(found) == 1, f"expected one `.venv/bin/pytest -m task_...` command: {found}"
    words = shlex.split(found[0])
    run = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=600)
    tail = run.stdout[-2000:] + run.stderr[-2000:]
    assert run.returncode == 0, f"`{found[0]}` failed in {ROOT}:\n{tail}"
    counts = re.search(r"(\d+) passed, (\d+) deselected", run.stdout)
    assert counts and int(counts[1]) > 0 and int(counts[2]) > 0, (
        f"`{found[0]}` should run that task's tests and deselect the rest:\n{tail}"
    )


def test_make_help_lists_every_target():
    makefile = (ROOT / "Makefile").read_text()
    documented = set(re.findall(r"^([a-zA-Z_-]+):.*## ", makefile, re.M))
    phony = set(" ".join(re.findall(r"^\.PHONY:(.*)$", makefile, re.M)).split())
    assert phony <= documented, f"targets without a `## help` text: {sorted(phony - documented)}"
    help_text = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for target in documented:
        assert re.search(rf"^{target}\s", help_text, re.M), f"`make help` does not list {target}"


def test_make_lint_runs_as_the_readme_gives_it():
    """``make lint``, which the README gives, runs ruff's check and format check on the kit and
    passes."""
    assert "`make lint` runs ruff" in (ROOT / "README.md").read_text(encoding="utf-8")
    run = subprocess.run(["make", "lint"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"`make lint` failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "ruff check" in run.stdout and "ruff format --check" in run.stdout, run.stdout
