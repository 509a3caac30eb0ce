"""Grade one submission: run its tasks in sandboxed children, judge, build the record.

One child runs every task in plan order, with a per-task wall-clock timeout. When a child
dies or hangs inside a task, that task fails with the reason and a *fresh* child (on a fresh
copy of the submission) runs the tasks after it, so a crash costs only the task it happened
in. Every task is judged on its own outputs; the composite epochs are also run with their
gradient helper replaced by a probe, so a wrong helper is not charged twice.

The hidden inputs come from a seed drawn afresh for each grading run (``secrets``), kept in
every record with the fingerprint of what else decides a grade — the grader's own source,
the reference ``nnlib`` and numpy's version — so a grade can be reproduced (``--seed``) and a
change of grader or reference is noticed on the next run.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import time
from functools import cache
from pathlib import Path

import numpy as np

import nnlib

from . import workdir
from .cases import REPLACED, task_specs
from .child_output import Budget
from .compare import CRASH, crashed_result, judge_all, read_case
from .sandbox import Limits, Sandbox
from .submission import SubmissionError, read_package, student_id, write_package
from .workspace import prepare_sandbox, write_inputs

GRADER_DIR = Path(__file__).resolve().parent
REFERENCE_DIR = Path(nnlib.__file__).resolve().parent


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" not in path.parts:
            rel = path.relative_to(folder).as_posix()
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def grader_fingerprint() -> dict:
    """What decides a grade besides the student's code and the seed: the grader's source
    (cases, comparison, sandbox, ...), the reference ``nnlib`` and numpy's version."""
    return {
        "grader": _tree_digest(GRADER_DIR),
        "reference": _tree_digest(REFERENCE_DIR),
        "numpy": np.__version__,
    }


def grader_version() -> str:
    """A short name of :func:`grader_fingerprint`, shown to students."""
    text = "/".join(f"{k}={v}" for k, v in sorted(grader_fingerprint().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def new_seed() -> int:
    """A fresh seed for the hidden inputs of one grading run."""
    return secrets.randbits(63)


def printed_summary(text: str) -> str:
    """What a student is told about their code's printed output: its size, never its text
    (a stub that prints its arguments would otherwise read the hidden inputs back)."""
    if not text.strip():
        return ""
    lines = text.count("\n") + 1
    return (
        f"Your code printed {lines} line(s) while running the hidden cases. They are not "
        "shown, because they could show the hidden inputs; print in the visible checks or "
        "tests instead."
    )


class Grader:
    """Grades submissions one at a time; one instance per worker process.

    Parameters
    ----------
    mode : {"auto", "namespace", "uid", "plain"}
        Sandbox strength (see :mod:`autograder.grader.sandbox`).
    limits : Limits, optional
    slot : int
        The worker's slot, where the search for its unprivileged user id starts.
    seed : int, optional
        The seed of the hidden inputs; a fresh one when not given.
    private : sequence of Path
        Folders the child must not read (the submissions, the output); in ``uid`` mode the
        grader refuses to start while one of them is readable by every user.
    """

    def __init__(
        self,
        mode: str = "auto",
        limits: Limits | None = None,
        slot: int = 0,
        seed: int | None = None,
        private=(),
    ):
        self.sandbox = Sandbox(mode, limits, private)
        self.slot = slot
        self.seed = new_seed() if seed is None else int(seed)
        self.specs = task_specs(self.seed)
        self.work, self._lock = workdir.create()
        self.inputs = self.work / "inputs"
        self.plan = write_inputs(self.specs, self.inputs, self.sandbox.limits.task_cpu_seconds)

    def close(self) -> None:
        """Remove the private working folder."""
        workdir.release(self.work, self._lock)

    def grade(self, submission: Path) -> dict:
        """Grade one submission and return its record (never raises for a bad submission).

        Raises
        ------
        RuntimeError
            Only when the sandbox itself fails (a grader problem, not the student's).
        """
        started = time.monotonic()
        record = {
            "student": student_id(submission),
            "submission": str(submission),
            "grader_version": grader_version(),
            "grader_fingerprint": grader_fingerprint(),
            "seed": self.seed,
            "sandbox": self.sandbox.mode,
            "max_score": float(sum(s.task.points for s in self.specs)),
            "status": "graded",
        }
        scratch = Path(tempfile.mkdtemp(prefix="sub-", dir=self.work))
        try:
            package = scratch / "nnlib"
            try:
                found = read_package(submission)
                write_package(found, package)
            except SubmissionError as exc:
                record.update(score=0.0, error=str(exc), tasks=[], attempts=0)
                record["status"] = f"error: {exc}"
                return record
            record["fingerprint"] = found.digest()
            record["package"] = found.where
            record["submission_notes"] = found.notes
            results, attempts, output = self._run_all(package, scratch)
            tasks = judge_all(self.specs, results)
            record["score"] = round(sum(t.score for t in tasks), 2)
            record["tasks"] = [
                {
                    "function": t.function,
                    "points": t.points,
                    "score": t.score,
                    "checks": [vars(c) for c in t.checks],
                    "notes": t.notes,
                }
                for t in tasks
            ]
            record["attempts"] = attempts
            record["printed"] = output  # for the instructor; students see printed_summary
            record["output"] = printed_summary(output)
            record["seconds"] = round(time.monotonic() - started, 3)
            return record
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run_all(self, package: Path, scratch: Path):
        names = [spec.task.function for spec in self.specs]
        by_name = {spec.task.function: spec for spec in self.specs}
        results, output, attempts = {}, [], 0
        cap = self.sandbox.limits.submission_cap(len(names))
        deadline = time.monotonic() + cap  # whatever the child reports, never past this
        # The tasks graded with right versions of earlier functions run last, in children of
        # their own: no child that grades softmax or topological_order holds a right one.
        for remaining in (
            [n for n in names if n not in REPLACED],
            [n for n in names if n in REPLACED],
        ):
            while remaining:
                if time.monotonic() >= deadline:
                    for name in remaining:
                        reason = f"not run: the submission used up its {cap:g} s"
                        results[name] = crashed_result(by_name[name], reason)
                    break
                attempts += 1
                attempt = scratch / f"attempt-{attempts}"
                with self.sandbox.attempt(attempt, self.slot) as sandbox_dir:
                    remaining = self._attempt(
                        sandbox_dir, package, remaining, deadline, results, output, attempts
                    )
        return results, attempts, "\n".join(output)[-4000:]

    def _attempt(self, sandbox_dir, package, remaining, deadline, results, output, attempts):
        """Run one child on the ``remaining`` tasks; return the tasks still to run after it."""
        by_name = {spec.task.function: spec for spec in self.specs}
        writable = prepare_sandbox(
            sandbox_dir, package, self.inputs, [self.plan[name] for name in remaining]
        )
        self.sandbox.hand_over(sandbox_dir, self.slot, writable)
        outcome = self.sandbox.run(sandbox_dir.parent, sandbox_dir, self.slot, remaining, deadline)
        for stream in ("stdout", "stderr"):
            text = getattr(outcome, stream).strip()
            if text:
                output.append(f"[{stream}, run {attempts}]\n{text}")
        finished = set(outcome.done)
        budget, scrub = Budget(), self.sandbox.scrubber(sandbox_dir)
        for name in remaining:
            if name in finished or name == outcome.failed:
                results[name] = self._read(by_name[name], sandbox_dir, outcome, name, budget, scrub)
        if outcome.failed is None:
            missing = [n for n in remaining if n not in finished]
            for name in missing:  # ended without running them: should not happen
                results[name] = crashed_result(by_name[name], "was not run")
            remaining = []
        else:
            remaining = remaining[remaining.index(outcome.failed) + 1 :]
            if outcome.failed_import:
                # Importing that module killed the child: every later task that needs it
                # would die the same way, so it fails now instead of costing a child each.
                module = outcome.failed_import
                reason = (
                    f"{CRASH}importing nnlib/{module}.py: {outcome.reason} "
                    f"(first seen while running {outcome.failed})"
                )
                for name in [n for n in remaining if module in by_name[n].modules]:
                    results[name] = {c.name: ({"error": reason}, {}) for c in by_name[name].cases}
                    remaining.remove(name)
        return remaining

    def _read(self, spec, sandbox_dir: Path, outcome, name: str, budget, scrub) -> dict:
        folder = sandbox_dir / "out" / name
        results = {}
        for case in spec.cases:
            meta, outputs = read_case(folder / case.name, budget, scrub)
            if not meta and name == outcome.failed:
                meta = {"error": f"{CRASH}{outcome.reason} (while running {name})"}
            results[case.name] = (meta, outputs)
        return results
