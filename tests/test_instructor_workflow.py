"""The README's instructor commands, run as written on a fresh copy of the kit and a class of five.

The commands are taken from the bash block of the README's "Instructors" section (each one is
a ``make`` target, run from the kit root), in a copy of every file git knows (committed or
not) with the project's ``.venv`` reached through symlinks. The class, built from the bundle
that ``make release`` writes:

- ``alice``: complete (the reference library, every solution notebook), a folder;
- ``bob``: a library bug in ``softmax``, notebook 01 solved, a folder;
- ``carol``: notebook 02 only, no library, a folder;
- ``dave``: the bundle untouched, zipped as released (``student/`` inside);
- ``erin``: the reference library and notebook 03, zipped inside a folder ``my-work/``.

Then carol resubmits notebook 02 (unanswered this time, later) and the same commands regrade
her and nobody else; a second release keeps every grade, and ``make clean`` keeps the term.
Commands that would write an empty result fail, naming the folder.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _kit_copy import VENV, copy_kit, make_env

from nnlib.tasks import NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT = 1800  # seconds for one make command (the class's autograde is the longest)

pytestmark = pytest.mark.slow


def instructor_commands(readme: str) -> list[str]:
    """The command lines of the bash blocks in the README's "Instructors" section."""
    section = readme.split("\n## Instructors", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def make(kit: Path, command: str, ok: bool = True) -> subprocess.CompletedProcess:
    words = command.split()
    assert words[0] == "make", (
        f"an instructor command of the README is not a make target: {command}"
    )
    result = subprocess.run(
        words, cwd=kit, env=make_env(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    output = f"$ {command}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    if ok:
        assert result.returncode == 0, output
    else:
        assert result.returncode != 0, f"expected a failure:\n{output}"
    result.output = output
    return result


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def solution(name: str) -> Path:
    return ROOT / "solutions" / name / f"{name}.ipynb"


def build_class(kit: Path) -> Path:
    bundle = kit / "build" / "student"
    subs = kit / "submissions"
    subs.mkdir()
    reference = ROOT / "src" / "nnlib"

    def solved_library(folder: Path) -> None:
        shutil.rmtree(folder / "src" / "nnlib")
        shutil.copytree(
            reference, folder / "src" / "nnlib", ignore=shutil.ignore_patterns("__pycache__")
        )

    alice = subs / "alice"
    shutil.copytree(bundle, alice)
    solved_library(alice)
    for name in NOTEBOOKS:
        shutil.copyfile(solution(name), alice / "notebooks" / name / f"{name}.ipynb")

    bob = subs / "bob"
    shutil.copytree(bundle, bob)
    solved_library(bob)
    losses = bob / "src" / "nnlib" / "losses.py"
    text = losses.read_text()
    bug = re.sub(
        r"(def softmax\(.*?\n(?:.*\n)*?\s+)return (\w+)", r"\1return \2 * 0.5", text, count=1
    )
    assert bug != text, "could not plant the softmax bug"
    losses.write_text(bug)
    for name in NOTEBOOKS[1:]:
        shutil.rmtree(bob / "notebooks" / name)
    shutil.copyfile(
        solution(NOTEBOOKS[0]), bob / "notebooks" / NOTEBOOKS[0] / f"{NOTEBOOKS[0]}.ipynb"
    )

    carol = subs / "carol" / "notebooks" / NOTEBOOKS[1]
    carol.mkdir(parents=True)
    shutil.copyfile(solution(NOTEBOOKS[1]), carol / f"{NOTEBOOKS[1]}.ipynb")

    shutil.copyfile(kit / "build" / "student.zip", subs / "dave.zip")

    with zipfile.ZipFile(subs / "erin.zip", "w") as archive:
        for path in sorted(reference.glob("*.py")):
            archive.write(path, f"my-work/src/nnlib/{path.name}")
        archive.write(solution(NOTEBOOKS[2]), f"my-work/notebooks/{NOTEBOOKS[2]}.ipynb")
    return subs


def code_scores(kit: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """``{(student, notebook): (autograded score, autograded maximum)}`` from the gradebook."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{kit / 'grading' / 'gradebook.db'}"
    with Gradebook(url, "manual-neural-networks") as gb:
        return {
            (sub.student.id, nb.name): (float(nb.code_score), float(nb.max_code_score))
            for assignment in gb.assignments
            for sub in assignment.submissions
            for nb in sub.notebooks
        }


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    if not (VENV / "bin" / "python").exists():
        pytest.fail(f"{VENV} not found: run `make .venv/.installed` (or `make test`) first")
    return copy_kit(tmp_path_factory.mktemp("fresh") / "kit")


@pytest.mark.from_scratch
def test_the_readme_instructor_commands_grade_a_class_of_five(kit):
    commands = instructor_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    targets = [c.split()[1] for c in commands]
    assert targets == [
        "release",
        "collect",
        "grade",
        "grade-notebooks",
        "formgrader",
        "export",
        "merge",
    ], f"the README's instructor commands changed: {commands}"
    run = {c.split()[1]: c for c in commands}
    assert "SUBMISSIONS=submissions" in run["collect"] and "SUBMISSIONS=submissions" in run["grade"]

    # ---- release: the bundle and a gradebook that knows every assignment
    make(kit, run["release"])
    assert (kit / "build" / "student.zip").is_file()
    assert (kit / "build" / "student" / "submit.py").is_file()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{kit / 'grading' / 'gradebook.db'}", "manual-neural-networks") as gb:
        assert sorted(a.name for a in gb.assignments) == sorted(NOTEBOOKS)

    # ---- before anything is collected, nothing writes an empty result
    failed = make(kit, run["grade-notebooks"], ok=False)
    assert "nothing to grade in" in failed.output and "grading/submitted" in failed.output
    failed = make(kit, run["export"], ok=False)
    assert "holds no graded submission" in failed.output and "gradebook.db" in failed.output

    # ---- collect, grade the library, autograde the notebooks
    subs = build_class(kit)
    make(kit, run["collect"])
    collected = {r["student_id"]: r for r in rows(kit / "grading" / "submissions.csv")}
    assert sorted(collected) == ["alice", "bob", "carol", "dave", "erin"]
    assert collected["alice"]["notebooks"].split() == list(NOTEBOOKS)
    assert collected["dave"]["notebooks"].split() == list(NOTEBOOKS)  # inside student/
    assert collected["erin"]["notebooks"].split() == [NOTEBOOKS[2]]  # inside my-work/
    assert collected["bob"]["notebooks"].split() == [NOTEBOOKS[0]]
    assert all(r["status"] == "collected" and r["submitted_at"] for r in collected.values())
    stamp = kit / "grading" / "submitted" / "carol" / NOTEBOOKS[1] / "timestamp.txt"
    assert stamp.read_text().strip() == collected["carol"]["submitted_at"]

    make(kit, run["grade"])
    library = {r["student"]: r for r in rows(kit / "grading" / "library" / "grades.csv")}
    full = library["alice"]["library_max"]
    assert library["alice"]["library_score"] == full and library["erin"]["library_score"] == full
    assert 0 < float(library["bob"]["library_score"]) < float(full)
    assert float(library["dave"]["library_score"]) == 0
    assert library["carol"]["status"].startswith("error"), library["carol"]

    graded = make(kit, run["grade-notebooks"])
    backups = list((kit / "grading" / "backups").glob("gradebook-*.db"))
    assert len(backups) == 1 and f"gradebook as it was: {backups[0]}" in graded.output
    # alice and dave hand in every notebook, bob, carol and erin one each
    graded_count = 2 * len(NOTEBOOKS) + 3
    assert f"autograding 5 students ({graded_count} notebooks)" in graded.output, graded.output
    assert "quick mode (NNLIB_QUICK=1" in graded.output, "make grade-notebooks grades quick"
    scores = code_scores(kit)
    for name in NOTEBOOKS:
        score, maximum = scores[("alice", name)]
        assert maximum > 0 and score == maximum, f"alice's {name}: {score} of {maximum}"
        assert scores[("dave", name)][0] == 0, f"dave's untouched {name} scored"
    assert scores[("bob", NOTEBOOKS[0])][0] == scores[("bob", NOTEBOOKS[0])][1]
    assert scores[("carol", NOTEBOOKS[1])][0] == scores[("carol", NOTEBOOKS[1])][1] > 0
    assert scores[("erin", NOTEBOOKS[2])][0] == scores[("erin", NOTEBOOKS[2])][1] > 0
    assert ("carol", NOTEBOOKS[0]) not in scores
    autograded = kit / "grading" / "autograded" / "alice" / NOTEBOOKS[0]
    assert (autograded / f"{NOTEBOOKS[0]}.ipynb").is_file()
    # the formgrader shows the quick run: notebook 02's sweep over 3 feature counts, not 8
    sweep = kit / "grading" / "autograded" / "alice" / NOTEBOOKS[1] / f"{NOTEBOOKS[1]}.ipynb"
    printed = re.findall(r"H = +\d+: validation error", sweep.read_text(encoding="utf-8"))
    assert len(printed) == 3, f"alice's autograded 02 should show the quick sweep: {printed}"

    # ---- a second run has nothing to do
    again = make(kit, run["grade-notebooks"])
    assert "autograding 0 students" in again.output, again.output

    # ---- export and merge
    make(kit, run["export"])
    export = rows(kit / "grading" / "nbgrader_grades.csv")
    assert len(export) == 5 * len(NOTEBOOKS)
    by_key = {(r["student_id"], r["assignment"]): r for r in export}
    assert by_key[("alice", NOTEBOOKS[0])]["status"] == "needs manual grading"
    assert by_key[("carol", NOTEBOOKS[0])]["status"] == "not submitted"
    assert by_key[("carol", NOTEBOOKS[1])]["timestamp"].startswith(
        collected["carol"]["submitted_at"][:19]
    )
    make(kit, run["merge"])
    merged = {r["student_id"]: r for r in rows(kit / "grading" / "class_grades.csv")}
    assert sorted(merged) == ["alice", "bob", "carol", "dave", "erin"]
    assert merged["alice"]["missing"] == ""
    assert merged["alice"]["library_score"] == full
    assert merged["alice"]["submitted_at"] == collected["alice"]["submitted_at"]
    assert merged["carol"]["missing"].split() == [n for n in NOTEBOOKS if n != NOTEBOOKS[1]] + [
        "library"
    ]
    assert "library: error" in merged["carol"]["status"], merged["carol"]
    assert merged["dave"]["missing"] == "" and float(merged["dave"]["total"]) == 0
    for sid in merged:
        assert float(merged[sid]["total"]) == pytest.approx(
            float(merged[sid]["notebooks_score"]) + float(merged[sid]["library_score"])
        )

    # ---- carol resubmits notebook 02, unanswered, a day later: the same commands regrade her
    resubmitted = subs / "carol" / "notebooks" / NOTEBOOKS[1] / f"{NOTEBOOKS[1]}.ipynb"
    released = kit / "notebooks" / NOTEBOOKS[1] / f"{NOTEBOOKS[1]}.ipynb"
    shutil.copyfile(released, resubmitted)
    later = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    os.utime(resubmitted, (later, later))
    make(kit, run["collect"])
    regraded = make(kit, run["grade-notebooks"])
    assert "autograding 1 students (1 notebooks)" in regraded.output, regraded.output
    assert code_scores(kit)[("carol", NOTEBOOKS[1])][0] == 0
    assert code_scores(kit)[("alice", NOTEBOOKS[1])] == scores[("alice", NOTEBOOKS[1])]
    make(kit, run["export"])
    make(kit, run["merge"])
    merged = {r["student_id"]: r for r in rows(kit / "grading" / "class_grades.csv")}
    assert merged["carol"]["submitted_at"] == "2030-01-02T03:04:05+00:00"
    assert float(merged["carol"]["notebooks_score"]) == 0

    # ---- releasing again (a fixed typo, a new hidden test) keeps every grade
    before = code_scores(kit)
    make(kit, run["release"])
    assert code_scores(kit) == before

    # ---- make clean keeps the term
    make(kit, "make clean")
    assert (kit / "grading" / "gradebook.db").is_file()
    assert (kit / "grading" / "class_grades.csv").is_file()
    assert not (kit / "build").exists() or not any((kit / "build").iterdir())


def test_nbgrader_run_from_the_kit_root_reads_the_course_configuration(kit):
    code = (
        "from nbgrader.apps.autogradeapp import AutogradeApp\n"
        "app = AutogradeApp()\n"
        "app.initialize([])\n"
        "print(app.config.Execute.timeout, app.coursedir.root, sorted(app.coursedir.ignore))\n"
    )
    result = subprocess.run(
        [str(kit / ".venv" / "bin" / "python"), "-c", code],
        cwd=kit,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    timeout, root, ignore = result.stdout.split(" ", 2)
    assert timeout == "120", f"the per-cell timeout is {timeout}: nbgrader_config.py not read"
    assert Path(root) == kit / "grading"
    assert "'nnlib'" in ignore


def test_commands_run_elsewhere_fail_naming_the_folder(kit, tmp_path):
    python = str(kit / ".venv" / "bin" / "python")
    env = {**os.environ, "PYTHONPATH": str(kit)}
    for command in (["export"], ["grade"]):
        result = subprocess.run(
            [python, "-m", "autograder.notebook_grading", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0
        assert f"no gradebook at {tmp_path / 'grading' / 'gradebook.db'}" in result.stderr, (
            result.stderr
        )
    assert not (tmp_path / "grading").exists(), "a command created an empty course folder"
    (tmp_path / "empty.csv").write_text(
        "assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
        "late_submission_penalty,score,max_score\n"
    )
    (tmp_path / "lib.csv").write_text("student,library_score,library_max,status\na,1,2,graded\n")
    result = subprocess.run(
        [python, "-m", "autograder.merge", "empty.csv", "lib.csv", "--out", "class.csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "empty.csv holds no grades" in result.stderr
    assert not (tmp_path / "class.csv").exists()


def test_make_formgrader_allows_root_only_when_run_as_root(tmp_path):
    """``jupyter lab`` refuses to start as root without ``--allow-root``: CI and servers run
    as root, instructors on a laptop do not. Checked with ``make -n`` (nothing started)."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    for name in ("Makefile", "pyproject.toml"):
        shutil.copyfile(ROOT / name, folder / name)
        (folder / name).chmod(0o644)
    users = [[]]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        users.append(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    for prefix in users:
        dry = subprocess.run(
            [*prefix, "make", "-n", "formgrader", "PORT=9999"],
            cwd=folder,
            env=make_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert dry.returncode == 0, dry.stderr
        root = os.geteuid() == 0 and not prefix
        assert ("--allow-root" in dry.stdout) == root, dry.stdout
        assert "jupyter lab --LabApp.default_url=/formgrader" in dry.stdout
        assert "--port=9999" in dry.stdout


def _dry_run(folder: Path, *words: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-n", *words],
        cwd=folder,
        env=make_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_quick_mode_is_the_default_and_quick_0_grades_at_full_size(tmp_path):
    """``make grade-notebooks`` and ``make bench-notebooks`` run quick; ``QUICK=0`` passes
    ``--full``; any other value stops make with a message. Checked with ``make -n``."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").touch()  # newer than pyproject.toml: no install
    for target in ("grade-notebooks", "bench-notebooks"):
        quick = _dry_run(tmp_path, target)
        assert quick.returncode == 0 and "--full" not in quick.stdout, quick.stdout + quick.stderr
        full = _dry_run(tmp_path, target, "QUICK=0")
        assert full.returncode == 0 and "--full" in full.stdout, full.stdout + full.stderr
        typo = _dry_run(tmp_path, target, "QUICK=yes")
        assert typo.returncode != 0 and "QUICK=yes is not understood" in typo.stderr, typo.stderr


def test_grade_notebooks_passes_jobs_and_force_as_the_readme_says(tmp_path):
    """The README's ``JOBS=n`` and ``FORCE=1`` of ``make grade-notebooks`` reach the grading
    command as ``--jobs n`` and ``--force``; without them, every core and no force. Checked
    with ``make -n``."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "(`JOBS=n`)" in readme and "`FORCE=1` regrades everyone" in readme
    for name in ("Makefile", "pyproject.toml"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").touch()  # newer than pyproject.toml: no install
    given = _dry_run(tmp_path, "grade-notebooks", "JOBS=3", "FORCE=1")
    assert given.returncode == 0, given.stdout + given.stderr
    assert "--jobs 3 --force" in given.stdout, given.stdout
    default = _dry_run(tmp_path, "grade-notebooks")
    assert default.returncode == 0, default.stdout + default.stderr
    cores = len(os.sched_getaffinity(0))  # what nproc counts
    assert f"--jobs {cores}" in default.stdout, default.stdout
    assert "--force" not in default.stdout, default.stdout


def test_the_grading_kernels_get_the_mode_whatever_the_shell_says(monkeypatch):
    from autograder import notebook_grading

    monkeypatch.setenv("NNLIB_QUICK", "0")
    assert notebook_grading.worker_env(1, quick=True)["NNLIB_QUICK"] == "1"
    monkeypatch.setenv("NNLIB_QUICK", "1")
    assert notebook_grading.worker_env(1, quick=False)["NNLIB_QUICK"] == "0"
    seen = {}
    monkeypatch.setattr(notebook_grading, "grade", lambda *a, **kw: seen.update(kw) or {})
    assert notebook_grading.main(["grade", "--full"]) == 0 and seen["quick"] is False
    assert notebook_grading.main(["grade"]) == 0 and seen["quick"] is True


def test_grading_kernels_draw_figures_once_and_reload_nothing(tmp_path):
    """The kernels of ``make grade-notebooks`` read ``autograder/grading_kernel``: the notebooks'
    ``%autoreload 3`` is accepted and reloads nothing, figures are drawn once with titles at a
    fixed height, and no history is written. Outside grading nothing of this applies."""
    import nbformat
    from nbclient import NotebookClient

    from autograder import notebook_grading

    probe = (
        "%load_ext autoreload\n%autoreload 3\n%matplotlib inline\n"
        "import sys, matplotlib\nfrom matplotlib_inline.config import InlineBackend\n"
        "print(sys.modules['autoreload'].__file__)\n"
        "print('IPython.extensions.autoreload' in sys.modules)\n"
        "print(InlineBackend.instance().print_figure_kwargs)\n"
        "print(matplotlib.rcParams['axes.titley'], get_ipython().history_manager.enabled)\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    env = notebook_grading.worker_env(1, True, notebook_grading.grading_ipython_dir(tmp_path))
    NotebookClient(nb, timeout=120, kernel_name="python3", shutdown_kernel="immediate").execute(
        env=env, cwd=str(tmp_path)
    )
    lines = "".join(o.get("text", "") for o in nb.cells[0].outputs).splitlines()
    assert lines[0] == str(notebook_grading.GRADING_KERNEL / "autoreload.py"), lines
    assert lines[1:] == ["False", "{'bbox_inches': None}", "1.0 False"], (
        "grading kernels: IPython's autoreload never loaded, figures not trimmed, fixed title "
        f"height, no history; got {lines[1:]}"
    )


def test_bench_notebooks_names_an_unknown_notebook(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_notebooks", ROOT / "scripts" / "bench_notebooks.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit) as stop:
        bench.main(["--notebooks", "01", "07"])
    assert stop.value.code == 2
    assert "no notebook numbered 07" in capsys.readouterr().err
