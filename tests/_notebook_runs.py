"""The expensive runs behind tests/test_notebooks.py and tests/test_book.py, done once per session.

Executing notebooks dominates the cost, so the runs below start together, as the session starts
(``tests/conftest.py``, which also runs the two modules that need them last), and the two test
modules share the results (:func:`course_runs` caches them in this module, which both import):

- the book: ``scripts/build_book.py`` executes every solution notebook (a subprocess);
- ``nbgrader validate`` of every solution notebook (a subprocess);
- ``nbgrader autograde`` of two submissions in two scratch course folders (two subprocesses): one
  equal to the solutions, one equal to the released student notebooks, in the grading kernels
  of ``make grade-notebooks`` (``autograder/grading_kernel``);
- the released notebooks, executed here against the student copy of ``nnlib`` (every solution
  block replaced by its stub), to see where and how they fail.

Every run is in quick mode (``NNLIB_QUICK=1``, as ``make grade-notebooks`` grades): the experiments
shrink, every check and hidden test runs as it is. The full-size run of every solution notebook is
``make book`` (part of ``make course`` and of ``make test-browser``, both run by ``.ci/run``), which
fails when any cell raises: at full size the book takes about as long as the rest of these runs
together, more than the default suite's ten minutes can hold on a shared 2-core machine.
Kernels run with one BLAS thread each, so that four of them share two cores without thrashing.
nbgrader starts as the grader starts it (:data:`nnlib.presubmit.NBGRADER`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import build_book  # noqa: E402
import release_notebooks  # noqa: E402

from autograder import notebook_grading  # noqa: E402
from autograder.student_copy import make_student_copy  # noqa: E402
from nnlib.presubmit import NBGRADER  # noqa: E402
from nnlib.quick import QUICK_ENV  # noqa: E402
from nnlib.tasks import NOTEBOOKS  # noqa: E402

__all__ = [
    "NOTEBOOKS",
    "ROOT",
    "build_book",
    "course_runs",
    "release_notebooks",
]

CONFIG = (ROOT / "autograder" / "nbgrader_config.py").with_suffix("")
TIMEOUT = 900  # seconds for any one background run; a hang fails the tests instead of blocking
COURSE_ID = "manual-neural-networks"


def quiet_env(**extra: str) -> dict:
    """The environment for kernels and nbgrader: one BLAS thread each, the venv on PATH, and
    quick mode (``NNLIB_QUICK=1``) unless ``extra`` says otherwise."""
    env = dict(os.environ)
    env[QUICK_ENV] = "1"
    # nbgrader runs the gradebook's migrations with the "alembic" command: find the venv's
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    env.update(extra)
    return env


@dataclass
class Background:
    """A subprocess whose output goes to a log file."""

    name: str
    command: list
    cwd: Path
    log: Path
    process: subprocess.Popen | None = None
    returncode: int | None = None
    seconds: float = 0.0

    def start(self, env: dict) -> Background:
        self._t0 = time.perf_counter()
        self._out = open(self.log, "w")  # closed in wait()
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, stdout=self._out, stderr=subprocess.STDOUT, env=env
        )
        return self

    def wait(self) -> Background:
        if self.returncode is None:
            try:
                self.returncode = self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.returncode = self.process.wait()
                with open(self.log, "a") as f:
                    f.write(f"\n[killed after {TIMEOUT} s]\n")
            self._out.close()
            self.seconds = time.perf_counter() - self._t0
        return self

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Runs:
    base: Path
    release: Path
    student_nnlib: Path
    book: Path
    book_run: Background
    validate_run: Background
    grade_runs: dict  # "solution" / "release" -> Background
    student_notebooks: dict = field(default_factory=dict)  # name -> executed release notebook
    student_seconds: float = 0.0

    def scores(self, kind: str) -> dict[str, tuple[float, float]]:
        """``{notebook: (autograded score, autograded maximum)}`` from a grading run's gradebook."""
        from nbgrader.api import Gradebook

        db = f"sqlite:///{self.base / f'grade_{kind}' / 'gradebook.db'}"
        out = {}
        with Gradebook(db, COURSE_ID) as gb:
            for name in NOTEBOOKS:
                nb = gb.find_submission_notebook(name, name, kind)
                out[name] = (float(nb.code_score), float(nb.max_code_score))
        return out


def _nbgrader(*args: str) -> list:
    return [*NBGRADER, *args, f"--NbGrader.config_file={CONFIG}"]


def _grading_course(
    base: Path, kind: str, submissions: Path, suffix: str, shadow: bool = False
) -> Background:
    """A scratch course folder with the sources and one student, ``kind``, to autograde."""
    course = base / f"grade_{kind}"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    for name in NOTEBOOKS:
        target = course / "submitted" / kind / name
        target.mkdir(parents=True)
        shutil.copyfile(submissions / name / f"{name}{suffix}", target / f"{name}.ipynb")
        if shadow:
            # A submission that brings its own (broken) nnlib: grading must ignore it and use
            # the reference library, or every cell that imports nnlib fails.
            (target / "nnlib").mkdir()
            (target / "nnlib" / "__init__.py").write_text(
                'raise ImportError("a submitted nnlib was imported while grading")\n'
            )
    root = f"--CourseDirectory.root={course}"
    # generate_assignment records the assignments and their grade cells in the gradebook, which
    # autograde needs; both run in one shell so that the two steps stay in order.
    generate = _nbgrader("generate_assignment", "*", "--force", root, "--log-level=WARN")
    autograde = _nbgrader("autograde", "*", "--create", "--force", root, "--log-level=WARN")
    script = f"{shlex.join(generate)} && {shlex.join(autograde)}"
    return Background(f"autograde {kind}", ["sh", "-c", script], course, base / f"{kind}.log")


def _run_student_notebook(path: Path, student_dir: Path):
    """Execute a released notebook with the student copy of nnlib first on the path."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
        shutdown_kernel="immediate",  # the outputs are in; a graceful exit can hang 3 s
    )
    client.execute(env=quiet_env(PYTHONPATH=str(student_dir)))
    return nb


def start(base: Path) -> Runs:
    """Start every background run (book, validate, the two autograde runs); return at once."""
    base.mkdir(parents=True, exist_ok=True)
    release = base / "release"
    release_notebooks.generate(release)
    student_dir = base / "student"
    make_student_copy(ROOT / "src" / "nnlib", student_dir / "nnlib")

    env = quiet_env()
    book = base / "book"
    book_run = Background(
        "book",
        [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--out", str(book)],
        ROOT,
        base / "book.log",
    ).start(env)
    validate_dir = base / "validate"
    validate_dir.mkdir()
    sources = [str(ROOT / "solutions" / n / f"{n}.ipynb") for n in NOTEBOOKS]
    validate_run = Background(
        "validate", _nbgrader("validate", *sources), validate_dir, base / "validate.log"
    ).start(env)
    # the autograde runs get the kernels of `make grade-notebooks` (autograder/grading_kernel)
    grading_env = notebook_grading.worker_env(1, True, notebook_grading.grading_ipython_dir(base))
    grade_runs = {
        "solution": _grading_course(
            base, "solution", ROOT / "solutions", ".ipynb", shadow=True
        ).start(grading_env),
        "release": _grading_course(base, "release", release, ".ipynb").start(grading_env),
    }
    return Runs(base, release, student_dir / "nnlib", book, book_run, validate_run, grade_runs)


def _background(runs: Runs) -> list[Background]:
    return [runs.book_run, runs.validate_run, *runs.grade_runs.values()]


_CACHE: dict[str, Runs] = {}


def begin_course_runs(tmp_path_factory) -> None:
    """Start the background runs now, if not yet started.

    ``tests/conftest.py`` calls this as the session starts when the book's or the notebooks'
    tests are selected, and runs those tests last: the runs then go on while the rest of the
    suite runs, mostly on the core that the suite's single-threaded tests leave idle.
    """
    if "started" not in _CACHE:
        _CACHE["started"] = start(tmp_path_factory.mktemp("course"))


def stop_course_runs() -> None:
    """Kill the background runs still going (a session that ends before it needs them)."""
    runs = _CACHE.get("started")
    for run in _background(runs) if runs is not None else ():
        if run.returncode is None and run.process.poll() is None:
            run.process.kill()
            run.wait()


def course_runs(tmp_path_factory) -> Runs:
    """All runs, finished; started on first use if :func:`begin_course_runs` did not start
    them. The released notebooks run here, in this process, against the student copy."""
    if "runs" not in _CACHE:
        begin_course_runs(tmp_path_factory)
        runs = _CACHE["started"]
        t0 = time.perf_counter()
        for name in NOTEBOOKS:
            runs.student_notebooks[name] = _run_student_notebook(
                runs.release / name / f"{name}.ipynb", runs.student_nnlib.parent
            )
        runs.student_seconds = time.perf_counter() - t0
        for run in _background(runs):
            run.wait()
        _CACHE["runs"] = runs
    return _CACHE["runs"]
