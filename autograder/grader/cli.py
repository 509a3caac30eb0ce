"""``nnlib-grade``: grade every submission in a folder, in parallel, resumably.

    nnlib-grade SUBMISSIONS --out grading/library --jobs 2

Each submission (a folder or a ``.zip``) gets ``<out>/<student>/result.json`` and
``feedback.md``; ``<out>/grades.csv`` is rewritten at the end from every record present.
A student is graded again when their code changed, when the grader, the reference ``nnlib``
or numpy changed since their record was written (the run says which), or with ``--force``;
otherwise their record is kept, so an interrupted run resumes where it stopped. Entries that
are not submissions are listed; ids that cannot be graded as they are (two entries with one
id, a link, an id that cannot name a file) get a record or a row saying why.

Ctrl-C stops the run within seconds: every record finished so far is kept and ``grades.csv``
is written from them; a second Ctrl-C stops without waiting for the workers.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing.util import Finalize
from pathlib import Path

from .grade import Grader, grader_fingerprint, new_seed
from .report import load_record, write_csv, write_record
from .sandbox import Limits, SandboxError
from .submission import SubmissionError, id_problem, read_package, scan_submissions, student_id

_worker: Grader | None = None
_busy = False


class Stop(Exception):
    """Raised in a worker asked to stop (SIGTERM): its grading unwinds and cleans up."""


def _leave() -> None:
    if _worker is not None:
        _worker.close()
    os._exit(0)


def _stop(signum, frame):
    if not _busy:
        _leave()  # idle: nothing to unwind
    raise Stop(f"stopped by signal {signum}")


STOP_RETRY_SECONDS = 0.01  # long enough to be out of the hook that dropped the Stop


def _stop_again_if_swallowed(unraisable) -> None:
    """``sys.unraisablehook`` of a worker: a :class:`Stop` raised where Python cannot let an
    exception out (an at-fork hook, a ``__del__``) is printed and dropped, and the worker would
    grade on until the parent kills it, leaving its sandbox behind. Raise it again shortly
    (SIGALRM, handled as SIGTERM), when the code that dropped it has returned."""
    if isinstance(unraisable.exc_value, Stop):
        signal.setitimer(signal.ITIMER_REAL, STOP_RETRY_SECONDS)
        return
    sys.__unraisablehook__(unraisable)


def _install_stop_handlers() -> None:
    # Ctrl-C reaches every process of the terminal's group: only the parent decides what
    # to do with it; the workers stop when the parent sends them SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGALRM, _stop)
    sys.unraisablehook = _stop_again_if_swallowed


def _init_worker(slots, mode: str, task_seconds: float, seed: int, private=()) -> None:
    global _worker
    _install_stop_handlers()
    _worker = Grader(
        mode, Limits(task_seconds=task_seconds), slot=slots.get(), seed=seed, private=private
    )
    # Pool workers skip atexit handlers; multiprocessing's own finalizers do run.
    Finalize(_worker, _worker.close, exitpriority=10)


def _grade_in_worker(path: str) -> dict:
    global _busy
    _busy = True
    try:
        return _worker.grade(Path(path))
    except Stop:
        _leave()  # the sandbox's child is killed and the scratch removed on the way here
    finally:
        _busy = False


def _code_fingerprint(path: Path) -> str | None:
    try:
        return read_package(path).digest()
    except SubmissionError:
        return None


def regrade_reason(record: dict | None, path: Path) -> str | None:
    """Why a student must be graded (again), or ``None`` if their record still holds."""
    if record is None:
        return "new"
    if record.get("refused"):
        return "refused last time"
    if record.get("grader_error"):
        return "the grader failed last time"
    previous = record.get("grader_fingerprint")
    if not isinstance(previous, dict):
        return "graded by an older grader"
    current = grader_fingerprint()
    changed = [
        {"grader": "the grader", "reference": "the reference nnlib", "numpy": "numpy"}[key]
        for key in sorted(current)
        if previous.get(key) != current[key]
    ]
    if changed:
        return " and ".join(changed) + " changed"
    if record.get("fingerprint") != _code_fingerprint(path):
        return "the code changed"
    return None


def pending(submissions: list[Path], out: Path, force: bool) -> list[tuple[Path, str]]:
    """The submissions to grade and why: all with ``force``; otherwise those without a
    record, or whose record is out of date (see :func:`regrade_reason`)."""
    todo = []
    for path in submissions:
        reason = "--force" if force else regrade_reason(load_record(out, student_id(path)), path)
        if reason:
            todo.append((path, reason))
    return todo


def _not_graded(sid: str, reason: str, max_score: float, **extra) -> dict:
    prefix = "grader error" if extra.get("grader_error") else "error"
    return {
        "student": sid,
        "score": 0.0,
        "max_score": max_score,
        "error": reason,
        "status": f"{prefix}: {reason}",
        "tasks": [],
        "sandbox": "none",
        "grader_version": "",
        **extra,
    }


def _safe(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def grade_folder(
    folder: Path,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    mode: str = "auto",
    task_seconds: float = 5.0,
    echo=print,
    seed: int | None = None,
) -> tuple[int, int]:
    """Grade a folder of submissions into ``out``; return (graded, failed to grade).

    Parameters
    ----------
    seed : int, optional
        The seed of the hidden inputs; a fresh one by default (it is kept in every record).

    Raises
    ------
    SubmissionError
        If ``folder`` is missing or ``out`` lies inside it.
    KeyboardInterrupt
        After Ctrl-C, once every finished record and ``grades.csv`` are written.
    """
    folder, out = Path(folder).resolve(), Path(out).resolve()
    listing = scan_submissions(folder)
    if out.is_relative_to(folder):
        raise SubmissionError(f"the output folder {out} must not lie inside {folder}")
    if out.exists() and not out.is_dir():
        raise SubmissionError(f"the output folder {out} is a file; name a folder with --out")
    seed = new_seed() if seed is None else seed
    from nnlib.tasks import TASKS

    max_score = float(sum(t.points for t in TASKS))
    for name, why in listing.skipped:
        echo(f"  skipped {_safe(name)}: {why}")
    extra = []
    for sid, reason in listing.refused:
        echo(f"  ! {_safe(sid)}: not graded: {_safe(reason)}")
        record = _not_graded(sid, reason, max_score, refused=True)
        if id_problem(sid) is None:
            write_record(out, record)
        else:
            extra.append(record)
    todo = pending(listing.submissions, out, force)
    reasons: dict[str, int] = {}
    for _, reason in todo:
        reasons[reason] = reasons.get(reason, 0) + 1
    why = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    echo(
        f"{len(listing.submissions)} submissions, {len(todo)} to grade"
        + (f" ({why})" if why else "")
        + f", {jobs} job(s), seed {seed}"
    )
    done = failed = 0
    started = time.monotonic()

    def finish(path: Path, record: dict | None, error: BaseException | None):
        nonlocal done, failed
        sid = student_id(path)
        if record is None:
            failed += 1
            echo(f"  ! {sid}: not graded, grader problem: {_safe(str(error))}")
            reason = f"the grader failed ({error}); it will grade this submission again"
            write_record(out, _not_graded(sid, reason, max_score, grader_error=True, seed=seed))
            return
        write_record(out, record)
        done += 1
        echo(
            f"  {sid}: {record['score']:g} / {record['max_score']:g}"
            + (f" ({_safe(record['error'])})" if record.get("error") else "")
        )

    try:
        if jobs <= 1:
            _grade_here(todo, mode, task_seconds, seed, finish, (folder, out))
        elif todo:
            _grade_in_pool(todo, jobs, mode, task_seconds, seed, finish, echo, (folder, out))
    except KeyboardInterrupt:
        # Writing the class CSV is short and bounded: another Ctrl-C must not lose it.
        previous = _set_sigint(signal.SIG_IGN)
        try:
            path = write_csv(out, extra)
            echo(f"interrupted: kept {done} record(s) graded in this run; wrote {path}")
        finally:
            _set_sigint(previous)
        raise
    path = write_csv(out, extra)
    seconds = time.monotonic() - started
    echo(f"graded {done} in {seconds:.1f} s; wrote {path}")
    return done, failed


def _set_sigint(handler):
    """Install a SIGINT handler; return the previous one (``None`` off the main thread)."""
    if handler is None:
        return None
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: signals are not ours to handle
        return None


def _grade_here(todo, mode, task_seconds, seed, finish, private=()) -> None:
    grader = Grader(mode, Limits(task_seconds=task_seconds), seed=seed, private=private)
    try:
        for path, _ in todo:
            try:
                record = grader.grade(path)
            except Exception as exc:  # as in the pool: a grader problem costs one student only
                finish(path, None, exc)
            else:
                finish(path, record, None)
    finally:
        grader.close()


def _grade_in_pool(todo, jobs, mode, task_seconds, seed, finish, echo, private=()) -> None:
    context = multiprocessing.get_context("forkserver")
    slots = context.Queue()
    for slot in range(jobs):
        slots.put(slot)
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(slots, mode, task_seconds, seed, private),
    )
    futures = {pool.submit(_grade_in_worker, str(p)): p for p, _ in todo}
    try:
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    finish(futures[future], future.result(), None)
                except Exception as exc:  # a worker's grader problem must not stop the others
                    finish(futures[future], None, exc)
    except KeyboardInterrupt:
        echo("stopping: Ctrl-C again to stop without waiting for the workers")
        _stop_pool(pool, futures, finish)
        raise
    pool.shutdown(wait=True)


def _stop_pool(pool: ProcessPoolExecutor, futures: dict, finish) -> None:
    """Cancel what has not started, ask running workers to stop, keep what finished."""
    workers = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    try:
        deadline = time.monotonic() + 10.0
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
        for future, path in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                finish(path, future.result(), None)  # finished while we were stopping
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: stop waiting for the workers
    finally:
        for process in workers:
            if process.is_alive():
                process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nnlib-grade",
        description="Grade the nnlib library tasks of every submission (folder or .zip) in a "
        "folder, each in a sandboxed child process; write a JSON record and Markdown feedback "
        "per student and a class grades.csv.",
    )
    parser.add_argument("submissions", type=Path, help="folder holding one entry per student")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("grading/library"),
        help="output folder (default: grading/library, which make clean keeps)",
    )
    parser.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded at once")
    parser.add_argument(
        "--force", action="store_true", help="regrade students that already have a record"
    )
    parser.add_argument(
        "--sandbox",
        choices=["auto", "namespace", "uid", "plain"],
        default="auto",
        help="sandbox strength (default: strongest available)",
    )
    parser.add_argument(
        "--task-seconds", type=float, default=5.0, help="wall-clock limit per task (default: 5)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the hidden inputs, to reproduce a record's grade (default: a fresh one)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        parser.error("--seed must be in [0, 2**63)")
    try:
        _, failed = grade_folder(
            args.submissions,
            args.out,
            args.jobs,
            args.force,
            args.sandbox,
            args.task_seconds,
            seed=args.seed,
        )
    except (SubmissionError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SandboxError as exc:  # the grader cannot run here: no student's fault, no record
        print(f"grader error: the sandbox cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
