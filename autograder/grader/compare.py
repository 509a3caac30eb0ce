"""Judge a task: read the child's arrays safely, compare them with the references, score.

The child's output folder is untrusted: :mod:`autograder.grader.child_output` reads it
within bounds; anything unexpected counts as a wrong answer,
never as a grader error. A task's score is its points times the weight of the checks it
passed: output shapes, dtype, and the values of every output of every case (each output
earns its share: a right dW2 scores when dW1 is wrong), including agreement with central
differences (gradients). A task is judged on its own code: a naive function is never compared
with the student's vectorized one, and an epoch is excused only case by case, where the loop
is right (a probe in place of its gradient helper gives the expected weights) and the helper
is wrong on that case's own minibatches.

Feedback names outputs as the student knows them (``dW1``, ``W2``), shows a few differing
entries of the output, and never echoes a hidden input: an error message is cut to its last
line, and every number in it other than the case's dimensions is masked (printed output is
summarised by ``grade.printed_summary``). Masking stops a verbatim echo; what makes a leak
useless is that the inputs are drawn afresh for every grading run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from nnlib.tasks import NOTEBOOKS

from .cases import HELPER_SUFFIX, PROBE_SUFFIX, Case, TaskSpec, output_label
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


def _input_dtype(case: Case):
    """The float dtype of a case's first array: a scalar (a loss) is a Python float even
    when it was computed in float32, so its tolerance follows the inputs."""
    first = next((a for a in case.args if isinstance(a, np.ndarray) and a.dtype.kind == "f"), None)
    return first.dtype if first is not None else np.float64


def _tolerance(dtype) -> tuple[float, float]:
    if np.dtype(dtype) == np.float32:
        return 1e-4, 1e-5
    return 1e-6, 1e-9


# ------------------------------------------------------------------------ error messages

# A frame of the student's package: module paths and function names are identifiers, the
# line a short number (compile() and code.replace() can forge any file name and line: a
# frame that is not shaped like the package's own is not shown).
_FRAME = re.compile(
    r'File "[^"]*?/nnlib/((?:[A-Za-z_]\w*/)*[A-Za-z_]\w*\.py)", line (\d{1,6}), in ([A-Za-z_]\w*)'
)
# A number, or a token mixing letters and digits (hex, base64): either could carry a hidden
# input back to the student, so only the case's own dimensions survive in a message.
_TOKEN = re.compile(
    r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])|\b(?=\w*\d)(?=\w*[A-Za-z])\w{4,}\b"
)
_RUNS = re.compile(r"…(?:[\s,;:\[\]()]*…)+")
MAX_MESSAGE = 200


def student_frames(error: str) -> list:
    """``(file, line, function)`` of the student's frames in a traceback, outermost first."""
    return [(m[1], int(m[2]), m[3]) for m in _FRAME.finditer(str(error))]


def mask_inputs(text: str, allowed=frozenset()) -> str:
    """``text`` with every number not in ``allowed`` (and every letter-digit token but the
    notebooks' names) replaced by ``…``, runs of them merged, cut to one line of feedback."""

    def keep(match):
        token = match.group(0)
        return token if token.lstrip("+-") in allowed or token in NOTEBOOKS else "…"

    text = _RUNS.sub("…", _TOKEN.sub(keep, text))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def case_dimensions(case: Case) -> frozenset:
    """The sizes of a case's arrays and its small settings (batch): safe to show."""
    sizes = {"0", "1", "2", str(case.batch)}

    def visit(value):
        if isinstance(value, np.ndarray):
            sizes.update(str(n) for n in value.shape)
            sizes.add(str(value.ndim))
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(case.args)
    visit(list(case.kwargs.values()))
    sizes.update(str(v) for v in case.kwargs.values() if isinstance(v, int))
    return frozenset(sizes)


def _error_summary(error: str, allowed=frozenset()) -> str:
    if str(error).startswith(CRASH):
        return str(error)[len(CRASH) :]
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    last = mask_inputs(lines[-1].strip(), allowed) if lines else "unknown error"
    if "NotImplementedError" in last:
        return "not implemented yet — " + last.split("NotImplementedError:", 1)[-1].strip()
    frames = student_frames(error)
    where = ""
    if frames:
        file, line, function = frames[-1]
        # identifiers may still mix in digits: masked like the message
        file, function = mask_inputs(file, allowed), mask_inputs(function, allowed)
        where = f" (in {function}, line {line} of nnlib/{file})"
    if lines and lines[0].startswith("importing"):  # the runner's line, or a child's forgery
        return f"{mask_inputs(lines[0].strip(), allowed)} {last}{where}"
    return f"raised {last}{where}"


# ------------------------------------------------------------------------ one case


@dataclass
class CaseOutcome:
    """How one case went: an error, or per output whether it is right and what differs."""

    error: str = ""
    raw_error: str = ""
    shapes_ok: bool = True
    dtype_ok: bool = True
    dtype_message: str = ""
    outputs: dict = field(default_factory=dict)  # flat name -> (ok, message)

    @property
    def values_ok(self) -> bool:
        return not self.error and all(ok for ok, _ in self.outputs.values())


def _index(position) -> str:
    return "[" + ", ".join(str(int(i)) for i in position) + "]"


def describe_difference(label: str, have: np.ndarray, want: np.ndarray, rtol, atol) -> str:
    """What differs between two arrays of one shape: how many entries, the largest
    difference, and the three entries that differ most (position, yours, expected)."""
    h, w = have.astype(np.float64), want.astype(np.float64)
    if w.ndim == 0:
        return f"{label}: yours {float(h):.6g}, expected {float(w):.6g}"
    diff = np.abs(h - w)
    bad = ~np.isclose(h, w, rtol=rtol, atol=atol)
    worst = np.argsort(np.where(bad, diff, -1.0), axis=None)[::-1][: min(3, int(bad.sum()))]
    shown = "; ".join(
        f"at {_index(p)} yours {h[p]:.5g}, expected {w[p]:.5g}"
        for p in (np.unravel_index(i, w.shape) for i in worst)
    )
    return (
        f"{label}: {int(bad.sum())} of {w.size} entries differ (largest difference "
        f"{float(diff.max()):.3g}): {shown}"
    )


def _rename(message: str, function: str, keys) -> str:
    """Replace a leading flattened name (``return.0``) by the name the student knows."""
    for key in sorted(keys, key=len, reverse=True):
        if message.startswith(key) and message[len(key) : len(key) + 1] in (":", " "):
            return output_label(function, key) + message[len(key) :]
    return message


def judge_case(function: str, case: Case, meta: dict, got: dict) -> CaseOutcome:
    """Compare one case's outputs with the reference, output by output."""
    outcome = CaseOutcome()
    if "error" in meta or not meta:
        outcome.raw_error = str(meta.get("error", ""))
        outcome.error = (
            _error_summary(meta["error"], case_dimensions(case)) if meta else "produced no result"
        )
        outcome.shapes_ok = outcome.dtype_ok = False
        return outcome
    if function == "topological_order":
        return _judge_order(case, got, outcome)
    for key, want in case.expected.items():
        label = output_label(function, key)
        have = got.get(key)
        if have is None:
            outcome.shapes_ok = outcome.dtype_ok = False
            what = "None" if key in got else "nothing usable"
            outcome.outputs[key] = (
                False,
                f"{label}: returned {what}, expected an array of shape {want.shape}",
            )
            continue
        if have.shape != want.shape:
            outcome.shapes_ok = outcome.dtype_ok = False
            outcome.outputs[key] = (False, f"{label}: shape {have.shape}, expected {want.shape}")
            continue
        if want.ndim == 0:
            outcome.dtype_ok &= have.dtype.kind == "f"
        elif have.dtype != want.dtype:
            outcome.dtype_ok = False
            outcome.dtype_message = outcome.dtype_message or (
                f"{label}: dtype {have.dtype}, expected {want.dtype} (same as the "
                f"input) on {case.label}"
            )
        rtol, atol = _tolerance(want.dtype if want.ndim else _input_dtype(case))
        if case.kind == "numeric":
            rtol, atol = 1e-5, 1e-8
        if not np.all(np.isfinite(have)) and np.all(np.isfinite(want)):
            hint = ""
            if "large" in case.name:
                hint = ": exp overflowed — subtract each row's maximum before exp"
            outcome.outputs[key] = (
                False,
                f"{label}: contains NaN or inf, the expected values are finite{hint}",
            )
        elif not close(have, want, rtol, atol):
            outcome.outputs[key] = (False, describe_difference(label, have, want, rtol, atol))
        else:
            outcome.outputs[key] = (True, "")
    if not outcome.values_ok:
        wrong = [k for k, (ok, _) in outcome.outputs.items() if not ok]
        for mistake in likely_mistakes(function, case, got):
            mistake = _rename(mistake, function, case.expected)
            target = next(
                (k for k in wrong if mistake.startswith(output_label(function, k))), wrong[0]
            )
            ok, message = outcome.outputs[target]
            outcome.outputs[target] = (ok, f"{message}; likely mistake — {mistake}")
    return outcome


def _judge_order(case: Case, got: dict, outcome: CaseOutcome) -> CaseOutcome:
    """A topological order is right when it is *a* topological order: the nodes the loss
    depends on, each once, every node after its parents (the reference's is one of many)."""
    have = got.get("return")
    if not isinstance(have, np.ndarray) or have.ndim != 1 or have.dtype.kind not in "iu":
        outcome.shapes_ok = False
        outcome.outputs["return"] = (False, "the order: expected a list of the graph's Nodes")
        return outcome
    messages = likely_mistakes("topological_order", case, got)
    outcome.shapes_ok = bool(np.all(have >= 0))  # a list of the graph's nodes, maybe misordered
    outcome.outputs["return"] = (not messages, messages[0] if messages else "")
    return outcome


def _case_checks(function: str, case: Case, outcome: CaseOutcome) -> list:
    """The scored checks of one case: one per output (sharing the case's weight), or one
    failed check if the case raised or produced nothing."""
    prefix = "gradient: " if case.kind == "numeric" else "values, "
    name = prefix + case.label
    if case.unseen and case.kind == "values":
        name += " (a shape the visible tests do not use)"
    if outcome.error:
        return [Check(name, case.weight, False, outcome.error)]
    if len(outcome.outputs) == 1:
        ((ok, message),) = outcome.outputs.values()
        return [Check(name, case.weight, ok, message)]
    if function == "backward":
        # One check per graph: how many node gradients a mistake spoils depends on the shape
        # of the graph, not on the size of the mistake. Report the wrong node that names the
        # likely mistake, else the one nearest the loss.
        wrong = [message for ok, message in reversed(outcome.outputs.values()) if not ok]
        wrong.sort(key=lambda message: "likely mistake" not in message)
        return [Check(name, case.weight, not wrong, wrong[0] if wrong else "")]
    share = case.weight / len(outcome.outputs)
    return [
        Check(f"{output_label(function, key)} {name}", share, ok, message)
        for key, (ok, message) in outcome.outputs.items()
    ]


# ------------------------------------------------------------------------ one task


def _labels(cases) -> str:
    return "; ".join(c.label for c in cases)


def _judge_epoch(spec, results, outcomes, notes) -> set:
    """The epoch cases to excuse (names), with notes that blame the code that is wrong.

    A failed case is excused only where its loop is right (with the helper replaced by a
    probe it gives the expected weights) and the student's helper is wrong on at least one
    of the case's own minibatches (called at the weights the reference epoch reaches)."""
    function = spec.task.function
    probes = {c.name[: -len(PROBE_SUFFIX)]: c for c in spec.cases if c.kind == "probe"}
    if not probes:
        return set()
    helper = next(iter(probes.values())).probe["name"]
    failed = [c for c in spec.cases if c.name in outcomes and not outcomes[c.name].values_ok]
    if not failed:
        return set()
    probe_meta = {name: results.get(p.name, ({}, {}))[0] for name, p in probes.items()}
    if any(m.get("probe") == "not used" for m in probe_meta.values()):
        if not all(outcomes[c.name].error.startswith("not implemented") for c in failed):
            notes.append(f"(your {function} does not call {helper}: graded end to end only)")
        return set()
    loop_ok = {
        name: judge_case(function, p, *results.get(p.name, ({}, {}))).values_ok
        for name, p in probes.items()
    }
    helper_fails = {}
    for case in [c for c in spec.cases if c.kind == "helper"]:
        base = case.name.split(HELPER_SUFFIX)[0]
        ok = judge_case(helper, case, *results.get(case.name, ({}, {}))).values_ok
        helper_fails[base] = helper_fails.get(base, False) or not ok
    excused = {c.name for c in failed if helper_fails.get(c.name) and loop_ok.get(c.name)}
    # A probe that never ran (the child died earlier in the task, e.g. inside the helper)
    # proves nothing about the loop: say so instead of blaming it.
    unchecked = [
        c
        for c in failed
        if not probe_meta.get(c.name) or str(probe_meta[c.name].get("error", "")).startswith(CRASH)
    ]
    loop_wrong = [c for c in failed if not loop_ok.get(c.name) and c not in unchecked]
    if unchecked:
        notes.append(
            f"on {_labels(unchecked)}: the grading process stopped before your loop could be "
            f"checked on its own ({outcomes[unchecked[0].name].error}); no points are excused "
            f"there, and if your {helper} crashes or exits, fix it first"
        )
    helper_right = [c for c in failed if not helper_fails.get(c.name) and c not in unchecked]
    if excused:
        notes.append(
            f"on {_labels(c for c in failed if c.name in excused)}: with {helper} replaced by "
            f"a probe, your loop updates the weights exactly as it should, and your {helper} "
            f"is wrong on these minibatches, so {function} fails there only because of "
            f"{helper}, which is graded in its own task — full marks for those cases here"
        )
    if loop_wrong:
        notes.append(
            f"on {_labels(loop_wrong)}: the loop of {function} itself is wrong — with {helper} "
            "replaced by a probe the weights still differ; check the minibatches (in order, "
            "the last partial one included, no empty one), the learning rate and that the "
            "weights are updated in place"
        )
    if helper_right:
        raised_inside = [
            c
            for c in helper_right
            if any(f == helper for _, _, f in student_frames(outcomes[c.name].raw_error))
        ]
        notes.append(
            f"your {helper} gives the right gradients on every minibatch of "
            f"{_labels(helper_right)}, so the fault is in how {function} calls it"
            + (
                f" (it raised inside {helper} on {_labels(raised_inside)}: look at the "
                "minibatch it was given)"
                if raised_inside
                else ""
            )
        )
    return excused


def judge_task(spec: TaskSpec, results: dict) -> TaskResult:
    """Score a task from ``results[case.name] = (meta, outputs)``, as read from the child."""
    function = spec.task.function
    checks, notes = [], []
    value_cases = [c for c in spec.cases if c.kind in ("values", "numeric")]
    outcomes = {
        c.name: judge_case(function, c, *results.get(c.name, ({}, {}))) for c in value_cases
    }
    excused = _judge_epoch(spec, results, outcomes, notes)
    shapes_ok = dtype_ok = True
    dtype_message = ""
    for case in value_cases:
        outcome = outcomes[case.name]
        case_checks = _case_checks(function, case, outcome)
        if case.name in excused:
            for check in case_checks:
                check.passed, check.message = True, ""
        elif case.kind == "values":
            shapes_ok &= outcome.shapes_ok
            dtype_ok &= outcome.dtype_ok
            dtype_message = dtype_message or outcome.dtype_message
        checks += case_checks
    checks.insert(0, Check("output shapes", 1.0, shapes_ok))
    checks.insert(1, Check("output dtype (float32 in, float32 out)", 1.0, dtype_ok, dtype_message))
    total = sum(c.weight for c in checks)
    earned = sum(c.weight for c in checks if c.passed)
    points = float(spec.task.points)
    score = round(points * earned / total, 2) if total else 0.0
    return TaskResult(function, points, score, checks, notes)


def judge_all(specs, results: dict) -> list:
    """Judge every task: ``results[function][case name] = (meta, outputs)``."""
    return [judge_task(spec, results[spec.task.function]) for spec in specs]


def crashed_result(spec: TaskSpec, reason: str) -> dict:
    """Results for a task whose child died or timed out: every case failed with ``reason``."""
    return {case.name: ({"error": CRASH + reason}, {}) for case in spec.cases}
