"""One catalogue of mistakes: every entry is named, in the same words, by the check and the grader.

For each entry of :data:`nnlib.mistakes.CATALOGUE`, the programs that make that mistake
(:mod:`autograder.grader.mutants`) are run through the visible check (as a student's function)
and through the grader's diagnosis on the hidden cases; both must name the entry.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pytest

from autograder import check_data
from autograder.grader.cases import run_reference, task_specs
from autograder.grader.compare import _tolerance
from autograder.grader.diagnose import likely_mistakes, output_name
from autograder.grader.mutants import CHECK_ONLY, EXAMPLES, VARIANTS
from nnlib import checks, mistakes
from nnlib.checks import CHECKS, CheckFailed
from nnlib.mistakes import CATALOGUE


def _fragment(text: str) -> str:
    """The longest literal piece of a message template (what every filled-in copy contains)."""
    pieces = [literal for literal, *_ in string.Formatter().parse(text)]
    return max(pieces, key=len).replace("{{", "{").replace("}}", "}")


def _mutants():
    for mistake in CATALOGUE:
        found = [(f, t[mistake.name]) for f, t in VARIANTS.items() if mistake.name in t]
        if mistake.name in EXAMPLES:
            found.append(EXAMPLES[mistake.name])
        for function, fn in found:
            yield pytest.param(mistake, function, fn, id=f"{mistake.name}-{function}")


def test_every_entry_has_a_mutant():
    covered = {m for table in VARIANTS.values() for m in table} | set(EXAMPLES)
    missing = [m.name for m in CATALOGUE if m.name not in covered]
    assert not missing, f"catalogue entries without a program that makes the mistake: {missing}"
    assert len({m.name for m in CATALOGUE}) == len(CATALOGUE), "two entries share a name"


def test_the_issue_mistakes_are_catalogued():
    for name in (
        "updated_before_backprop_done",
        "empty_last_batch",
        "relu_mask_from_wrong_array",
        "float64_upcast",
        "sigma_at_output",
    ):
        assert name in mistakes.BY_NAME
    assert "np.where" in mistakes.BY_NAME["float64_upcast"].text


@pytest.mark.parametrize(("mistake", "function", "mutant"), list(_mutants()))
def test_the_check_names_the_mistake(mistake, function, mutant):
    with pytest.raises(CheckFailed) as info:
        CHECKS[function](mutant)
    text = str(info.value)
    assert text.startswith(f"{function}:"), "a check's message starts with its task"
    assert _fragment(mistake.text) in text, (
        f"check_{function} should name {mistake.name!r}; it said: {text}"
    )


def _graded(function, mutant):
    """``(case, got, message list)`` for every hidden values case where the mutant is wrong."""
    spec = next(s for s in task_specs() if s.task.function == function)
    for case in spec.cases:
        if case.kind != "values":
            continue
        try:
            with np.errstate(all="ignore"):
                got = run_reference(function, case, fn=mutant)
        except Exception as exc:
            got = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            same = all(
                isinstance(got.get(k), np.ndarray)
                and got[k].dtype == want.dtype
                and mistakes.close(got[k], want, *_tolerance(want.dtype))
                for k, want in case.expected.items()
            )
            if same:
                continue
        yield case, got, likely_mistakes(function, case, got)


@pytest.mark.parametrize(("mistake", "function", "mutant"), list(_mutants()))
def test_the_grader_names_the_mistake(mistake, function, mutant):
    if mistake.name in CHECK_ONLY:
        pytest.skip(CHECK_ONLY[mistake.name])
    graded = list(_graded(function, mutant))
    assert graded, f"the mistake {mistake.name} changes no hidden case of {function}"
    fragment = _fragment(mistake.text)
    named = [case.name for case, _, messages in graded if any(fragment in m for m in messages)]
    assert named, (
        f"the grader should name {mistake.name!r} for {function} on some hidden case; it said "
        f"{[(c.name, m) for c, _, m in graded]}"
    )


def test_a_right_output_names_no_mistake():
    for spec in task_specs():
        for case in spec.cases:
            if case.kind == "values":
                assert likely_mistakes(spec.task.function, case, dict(case.expected)) == []


def test_outputs_are_named_as_students_know_them():
    assert output_name("nn_gradients", "return.0") == "dW1"
    assert output_name("nn_epoch", "arg3") == "W2"
    assert output_name("softmax_regression_epoch", "arg2") == "theta"
    assert output_name("mlp_backward", "return.2") == "grads[2]"
    assert output_name("mlp_epoch", "arg2.1") == "weights[1]"
    assert output_name("mlp_forward", "return.1.1.0") == "cache.preactivations[0]"
    assert output_name("softmax_loss_grad", "return") == "dZ"
    assert output_name("nn_gradients", "dW1") == "dW1", "a key that is a name stays"


def test_issue_mutant_nn_epoch_update_order_is_named_with_weight_names():
    """W2 -= ...; G1 = (G2 @ W2.T) * ...; W1 -= ... : named, and W1 called W1, not arg2."""
    mutant = VARIANTS["nn_epoch"]["updated_before_backprop_done"]
    with pytest.raises(CheckFailed, match=r"W1: a weight was updated before"):
        checks.check_nn_epoch(mutant)
    for _, _, messages in _graded("nn_epoch", mutant):
        assert not any("arg" in m for m in messages), messages


def test_tolerances_agree_with_the_grader():
    for dtype in (np.float32, np.float64):
        assert mistakes.PASS_TOLERANCE[np.dtype(dtype)] == _tolerance(dtype)


def test_an_unexplained_mistake_shows_its_numbers():
    def off(Z, y):
        G = checks_reference_grad(Z, y)
        G[0, 0] += 0.25
        return G

    def checks_reference_grad(Z, y):
        import nnlib

        return nnlib.softmax_loss_grad(Z, y)

    with pytest.raises(CheckFailed) as info:
        checks.check_softmax_loss_grad(off)
    text = str(info.value)
    assert "dZ[0, 0]" in text and re.search(r"yours -?\d", text) and "expected" in text, text


def test_the_committed_check_data_is_up_to_date():
    fresh = check_data.build()
    with np.load(check_data.TARGET, allow_pickle=False) as stored:
        keys = set(stored.files)
        assert keys == set(fresh), (
            "src/nnlib/check_data.npz is stale: run `python -m autograder.check_data` "
            f"(differs in {sorted(keys ^ set(fresh))[:5]})"
        )
        for key, value in fresh.items():
            old = stored[key]
            same = (
                old.shape == value.shape
                and old.dtype == value.dtype
                and (
                    np.array_equal(old, value)
                    if value.dtype.kind not in "fc"
                    else np.allclose(old, value, rtol=1e-12, atol=1e-14, equal_nan=True)
                )
            )
            assert same, f"{key} is stale: run `python -m autograder.check_data`"
