"""Judge a task: read the child's arrays safely, compare them with the references, score.

The child's output folder is untrusted: :mod:`autograder.grader.child_output` reads it
within bounds; anything unexpected counts as a wrong answer, never as a grader error. A
task's score is its points times the weight of the checks it passed: output shapes, dtype,
the values of every case, agreement with central differences (gradients) and with the
student's vectorized twin (naive functions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cases import Case, TaskSpec
from .child_output import CRASH, read_case  # noqa: F401  (read_case: the reading half)
from .diagnose import close, likely_mistakes


@dataclass
class Check:
    """One scored check of a task."""

    name: str
    weight: float
    passed: bool
    message: str = ""


@dataclass
class TaskResult:
    """The outcome of one task for one submission."""

    function: str
    points: float
    score: float
    checks: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _tolerance(dtype) -> tuple[float, float]:
    if np.dtype(dtype) == np.float32:
        return 1e-4, 1e-5
    return 1e-6, 1e-9


def _error_summary(error: str) -> str:
    if str(error).startswith(CRASH):
        return str(error)[len(CRASH) :]
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "unknown error"
    if "NotImplementedError" in last:
        return "not implemented yet — " + last.split("NotImplementedError:", 1)[-1].strip()
    if last.startswith("importing") or (lines and lines[0].startswith("importing")):
        return f"{lines[0]} {last}"
    return f"raised {last}"


def judge_case(function: str, case: Case, meta: dict, got: dict):
    """Compare one case: ``(shapes_ok, dtype_ok, values_ok, message, dtype_message)``."""
    if "error" in meta:
        return False, False, False, _error_summary(meta["error"]), ""
    if not meta:
        return False, False, False, "produced no result", ""
    shapes_ok = dtype_ok = values_ok = True
    problems, dtype_message = [], ""
    for key, want in case.expected.items():
        have = got.get(key)
        if have is None:
            shapes_ok = dtype_ok = values_ok = False
            what = "None" if key in got else "nothing usable"
            problems.append(f"{key}: returned {what}, expected an array of shape {want.shape}")
            continue
        if have.shape != want.shape:
            shapes_ok = values_ok = False
            problems.append(f"{key}: shape {have.shape}, expected {want.shape}")
        if have.shape != want.shape:
            dtype_ok = False  # the dtype of an array of the wrong shape earns nothing
        elif want.ndim == 0:
            dtype_ok &= have.dtype.kind == "f"
        elif have.dtype != want.dtype:
            dtype_ok = False
            dtype_message = (
                f"{key}: dtype {have.dtype}, expected {want.dtype} (same as the "
                f"input) on {case.label}"
            )
        if have.shape != want.shape:
            continue
        rtol, atol = _tolerance(want.dtype)
        if case.kind == "numeric":
            rtol, atol = 1e-5, 1e-8
        if not np.all(np.isfinite(have)) and np.all(np.isfinite(want)):
            values_ok = False
            hint = ""
            if "large" in case.name:
                hint = ": exp overflowed — subtract each row's maximum before exp"
            problems.append(f"{key}: contains NaN or inf, the expected values are finite{hint}")
        elif not close(have, want, rtol, atol):
            values_ok = False
            err = float(np.max(np.abs(have.astype(np.float64) - want.astype(np.float64))))
            problems.append(f"{key}: values differ (largest difference {err:.3g})")
    if not values_ok:
        problems += [f"likely mistake — {m}" for m in likely_mistakes(function, case, got)]
    return shapes_ok, dtype_ok, values_ok, "; ".join(problems), dtype_message


def judge_task(spec: TaskSpec, results: dict) -> TaskResult:
    """Score a task from ``results[case.name] = (meta, outputs)``."""
    function = spec.task.function
    checks, notes = [], []
    shapes_ok = dtype_ok = True
    dtype_message = ""
    value_cases = [c for c in spec.cases if c.kind in ("values", "numeric")]
    passed_values = {}
    for case in value_cases:
        meta, got = results.get(case.name, ({}, {}))
        s_ok, d_ok, v_ok, message, d_message = judge_case(function, case, meta, got)
        dtype_message = dtype_message or d_message
        passed_values[case.name] = v_ok
        if case.kind == "values":
            shapes_ok &= s_ok
            dtype_ok &= d_ok
        name = f"values, {case.label}" if case.kind == "values" else f"gradient: {case.label}"
        if case.unseen and case.kind == "values":
            name += " (a shape the visible tests do not use)"
        checks.append(Check(name, case.weight, v_ok, message))
    checks.insert(0, Check("output shapes", 1.0, shapes_ok))
    checks.insert(1, Check("output dtype (float32 in, float32 out)", 1.0, dtype_ok, dtype_message))
    if spec.companion:
        agree, message = True, ""
        for case in [c for c in spec.cases if c.kind == "values"]:
            mine = results.get(case.name, ({}, {}))[1]
            meta, vec = results.get(case.name + "~vec", ({}, {}))
            ok = (
                bool(mine)
                and bool(vec)
                and all(
                    isinstance(mine.get(k), np.ndarray)
                    and isinstance(vec.get(k), np.ndarray)
                    and close(mine[k], vec[k], *_tolerance(want.dtype))
                    for k, want in case.expected.items()
                )
            )
            if not ok:
                agree = False
                message = f"differs from your {spec.companion} on {case.label}"
                if "error" in meta:
                    message = f"your {spec.companion}: {_error_summary(meta['error'])}"
                break
        checks.append(Check(f"agrees with your vectorized {spec.companion}", 1.0, agree, message))
    probe = next((c for c in spec.cases if c.kind == "probe"), None)
    if probe is not None:
        meta, got = results.get(probe.name, ({}, {}))
        helper = probe.probe["name"]
        if meta.get("probe") == "not used" and not all(c.passed for c in checks):
            notes.append(f"(your {function} does not call {helper}: graded end to end only)")
        else:
            probe_ok = judge_case(function, probe, meta, got)[2]
            if probe_ok and not all(c.passed for c in checks):
                notes.append(
                    f"end to end, {function} fails only because it calls your {helper}, "
                    f"which is graded in its own task: with {helper} replaced by a probe, your "
                    f"loop updates the weights exactly as it should — full marks here"
                )
                for check in checks:
                    check.passed = True
    total = sum(c.weight for c in checks)
    earned = sum(c.weight for c in checks if c.passed)
    points = float(spec.task.points)
    score = round(points * earned / total, 2) if total else 0.0
    return TaskResult(function, points, score, checks, notes)


def crashed_result(spec: TaskSpec, reason: str) -> dict:
    """Results for a task whose child died or timed out: every case failed with ``reason``."""
    return {case.name: ({"error": CRASH + reason}, {}) for case in spec.cases}
