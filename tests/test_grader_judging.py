"""How a task is judged: each output earns its share, named as the student knows it; a task
depends only on its own code; an epoch is excused only where its helper is what is wrong;
a case that raises fails; hidden inputs never come back in a message."""

import numpy as np
import pytest

from autograder.grader.cases import (
    HELPER_SUFFIX,
    PROBE_SUFFIX,
    SEED,
    output_label,
    run_reference,
    task_specs,
)
from autograder.grader.compare import judge_all, judge_task, mask_inputs
from nnlib.checks import Graph

SPECS = {s.task.function: s for s in task_specs()}


def _right(spec):
    """Results of a correct submission for every case of a task."""
    return {c.name: ({"function": spec.task.function}, dict(c.expected)) for c in spec.cases}


def _all_right():
    return {name: _right(spec) for name, spec in SPECS.items()}


def _raised(message):
    return ({"error": f'Traceback:\n  File "/x/nnlib/two_layer.py", line 3, in f\n{message}'}, {})


def test_a_right_output_earns_its_share_when_the_other_is_wrong():
    spec = SPECS["nn_gradients"]
    results = _right(spec)
    for case in spec.cases:
        got = dict(case.expected)
        got["return.0"] = got["return.0"] + 0.25  # dW1 wrong everywhere, dW2 right
        results[case.name] = ({"function": "nn_gradients"}, got)
    result = judge_task(spec, results)
    assert 0 < result.score < result.points
    dW2 = [c for c in result.checks if c.name.startswith("dW2 ")]
    dW1 = [c for c in result.checks if c.name.startswith("dW1 ")]
    assert dW2 and all(c.passed for c in dW2) and not any(c.passed for c in dW1)
    message = dW1[0].message
    assert message.startswith("dW1: ") and "return.0" not in message
    assert "yours" in message and "expected" in message and " at [" in message, message


def test_outputs_are_named_as_in_the_course():
    assert output_label("nn_gradients", "return.1") == "dW2"
    assert output_label("nn_epoch", "arg2") == "W1"
    assert output_label("mlp_epoch", "arg2.0") == "W1"
    assert output_label("mlp_backward", "return.2") == "dW3"
    assert output_label("softmax_regression_epoch", "arg2") == "theta"


def test_a_naive_function_depends_only_on_its_own_code():
    results = _all_right()
    for case in SPECS["nn_gradients"].cases:  # the vectorized twin raises everywhere
        results["nn_gradients"][case.name] = _raised("ValueError: broken")
    judged = {t.function: t for t in judge_all(task_specs(), results)}
    assert judged["nn_gradients"].score == 0
    assert judged["nn_gradients_naive"].score == judged["nn_gradients_naive"].points
    for spec in task_specs():
        # Only an epoch's helper calls run another function, and they weigh nothing: they
        # only tell which cases of the epoch to excuse.
        functions = {c.function for c in spec.cases if c.kind != "helper"} - {None}
        assert not functions, f"{spec.task.function} calls {functions} in its cases"
        assert all(c.weight == 0 for c in spec.cases if c.kind == "helper")


def _epoch_results(breaks, probe_breaks=(), helper_breaks=(), raised=None):
    """Every task right, except nn_epoch on ``breaks``, its probe twin on ``probe_breaks``
    and its calls of nn_gradients on the minibatches of ``helper_breaks``."""
    results = _all_right()
    for case in SPECS["nn_epoch"].cases:
        base = case.name.removesuffix(PROBE_SUFFIX).split(HELPER_SUFFIX)[0]
        chosen = {"probe": probe_breaks, "helper": helper_breaks}.get(case.kind, breaks)
        if base not in chosen:
            continue
        if raised and case.kind == "values":
            results["nn_epoch"][case.name] = _raised(raised)
        else:
            got = {k: v + 0.5 for k, v in case.expected.items()}
            results["nn_epoch"][case.name] = ({"function": case.function or "nn_epoch"}, got)
    return {t.function: t for t in judge_all(task_specs(), results)}


def test_the_probe_excuses_an_epoch_only_where_its_helper_is_wrong():
    both = ("partial_batch", "one_batch")
    # The loop is right (the probe passes), the helper wrong on those cases: full marks.
    judged = _epoch_results(breaks=both, helper_breaks=both)
    assert judged["nn_epoch"].score == 10
    assert any("only because of nn_gradients" in n for n in judged["nn_epoch"].notes)
    # A helper right on every minibatch and an epoch broken on one-row batches: no excuse,
    # even where the probe passes.
    judged = _epoch_results(breaks=("partial_batch", "batch_of_one"))
    assert judged["nn_epoch"].score < 10
    assert any("fault is in how nn_epoch calls it" in n for n in judged["nn_epoch"].notes)
    # The helper is wrong on one case only: the other failed case is not excused.
    judged = _epoch_results(breaks=both, helper_breaks=("partial_batch",))
    assert 0 < judged["nn_epoch"].score < 10
    # The helper is wrong, but so is the loop on one case: that case is not excused.
    judged = _epoch_results(breaks=both, probe_breaks=("one_batch",), helper_breaks=both)
    assert 0 < judged["nn_epoch"].score < 10
    assert any("the loop of nn_epoch itself is wrong" in n for n in judged["nn_epoch"].notes)


def test_helper_calls_follow_the_reference_epoch():
    """The minibatch calls of the helper are made at the weights the reference epoch
    reaches: applying their reference gradients gives the epoch's expected weights."""
    for name in ("softmax_regression_epoch", "nn_epoch", "mlp_epoch"):
        spec = SPECS[name]
        for case in [c for c in spec.cases if c.kind == "values"]:
            calls = [c for c in spec.cases if c.name.startswith(case.name + HELPER_SUFFIX)]
            assert len(calls) == -(-case.args[0].shape[0] // case.kwargs["batch"])
            last = calls[-1]
            weights = last.args[2] if isinstance(last.args[2], list) else last.args[2:]
            order = sorted(last.expected, key=lambda k: [int(p) for p in k.split(".")[1:]])
            final = [
                W - case.kwargs["lr"] * last.expected[k]
                for W, k in zip(weights, order, strict=True)
            ]
            for W, key in zip(final, sorted(case.expected), strict=True):
                np.testing.assert_allclose(W, case.expected[key], rtol=1e-4, atol=1e-5)


def test_a_case_that_raises_fails_and_the_loop_is_blamed():
    error = (
        "ValueError: X is empty\n"
        '  File "/s/nnlib/two_layer.py", line 9, in nn_gradients\nValueError: X is empty'
    )
    judged = _epoch_results(breaks=("one_batch",), probe_breaks=("one_batch",), raised=error)
    epoch = judged["nn_epoch"]
    assert epoch.score < 10
    failed = [c for c in epoch.checks if not c.passed]
    assert any("raised ValueError: X is empty" in c.message for c in failed)
    assert any("fault is in how nn_epoch calls it" in n for n in epoch.notes), epoch.notes
    assert any("raised inside nn_gradients" in n for n in epoch.notes), epoch.notes


def test_messages_keep_dimensions_and_mask_everything_else():
    allowed = frozenset({"3", "4"})
    text = "ValueError: shapes (3,4) and (4,5) not aligned; Z = [[0.25, -1.5e-3], [12345, 7]]"
    masked = mask_inputs(text, allowed)
    assert "(3,4)" in masked and "0.25" not in masked and "12345" not in masked
    assert "1.5e" not in masked and "5)" not in masked
    assert "deadbeef12" not in mask_inputs("ValueError: deadbeef12 cafe0042")


def test_a_traceback_frame_carries_no_hidden_number():
    # compile(code, "/nnlib/<numbers>.py", "exec") gives a frame any file name, and a code
    # object any line number: where the error happened is shown only as module names.
    spec = SPECS["softmax"]
    case = spec.cases[0]
    secret = [f"{v:.6f}" for v in _first_array(case).ravel()]
    spaced, packed = " ".join(secret), "".join(v[-6:] for v in secret)
    forged = [
        f'  File "/s/nnlib/{spaced}.py", line 2, in f\nValueError: x',
        f'  File "/s/nnlib/losses.py", line {packed}, in f\nValueError',
        f'  File "/s/nnlib/a{packed}.py", line 2, in f{packed}\nValueError',
    ]
    for frame in forged:
        results = {c.name: ({}, {}) for c in spec.cases}
        results[case.name] = ({"error": "Traceback (most recent call last):\n" + frame}, {})
        messages = " ".join(c.message for c in judge_task(spec, results).checks)
        leaked = [v for v in secret if v in messages or v[-6:] in messages]
        assert not leaked, f"a forged traceback frame showed hidden inputs: {messages[:300]}"
    results = {c.name: ({}, {}) for c in spec.cases}
    results[case.name] = _raised("ValueError: x")
    messages = " ".join(c.message for c in judge_task(spec, results).checks)
    assert "(in f, line 3 of nnlib/two_layer.py)" in messages, messages


def _first_array(case):
    """The first array among a case's arguments (a graph's first value)."""
    for arg in case.args:
        if isinstance(arg, Graph):
            return arg.values[0]
        if isinstance(arg, np.ndarray):
            return arg
    raise AssertionError(f"case {case.name} has no array argument")


def test_hidden_inputs_depend_on_the_seed_and_are_reproducible():
    a, b, again = task_specs(11), task_specs(12), task_specs(11)
    for x, y, z in zip(a, b, again, strict=True):
        first = _first_array(next(c for c in x.cases if c.kind == "values"))
        other = _first_array(next(c for c in y.cases if c.kind == "values"))
        same = _first_array(next(c for c in z.cases if c.kind == "values"))
        assert not np.array_equal(first, other), x.task.function
        assert np.array_equal(first, same)
    assert SEED not in (11, 12)


@pytest.mark.parametrize("seed", [1, 2, 3, 2**62 + 5])
def test_every_seed_gives_cases_the_reference_passes(seed):
    """The reference's own outputs (not the expected arrays) pass every case of any seed,
    central differences included: a fresh seed never fails a correct student."""
    for spec in task_specs(seed):
        results = {
            c.name: (
                {"function": spec.task.function},
                dict(c.expected) if c.kind == "probe" else run_reference(spec.task.function, c),
            )
            for c in spec.cases
        }
        result = judge_task(spec, results)
        assert result.score == result.points, (spec.task.function, seed, result.checks)


@pytest.mark.parametrize("seed", [1, 2, 3, 7932])
def test_large_logits_overflow_a_softmax_without_max_subtraction_for_any_seed(seed):
    for spec in task_specs(seed):
        for case in [c for c in spec.cases if c.name == "large_logits"]:
            Z = case.args[0]
            with np.errstate(over="ignore", invalid="ignore"):
                naive = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
            assert not np.isfinite(naive).all(axis=1).any(), (spec.task.function, seed)


def test_a_float32_loss_is_judged_with_float32_tolerance():
    """The reference loss is a Python float (float64) even for float32 logits: a loss
    computed in float32 differs in its 7th digit and must still pass."""
    spec = SPECS["softmax_loss"]
    results = _right(spec)
    for case in spec.cases:
        if case.args[0].dtype == np.float32:
            got = {"return": np.array(np.float32(case.expected["return"] * (1 + 3e-6)))}
            results[case.name] = ({"function": "softmax_loss"}, got)
    result = judge_task(spec, results)
    assert result.score == result.points, [c.message for c in result.checks if not c.passed]


def _kahn_order(graph: Graph) -> np.ndarray:
    """A topological order other than depth first: repeatedly the last node whose parents are
    all listed (so siblings come out in another order than the reference's)."""
    order, left = [], list(range(len(graph.names)))
    while left:
        ready = [k for k in left if all(p in order for p in graph.parents[k])]
        order.append(ready[-1])
        left.remove(ready[-1])
    return np.array(order, dtype=np.int64)


def test_any_valid_topological_order_earns_full_marks_and_a_reversed_one_none():
    spec = SPECS["topological_order"]
    other = {
        c.name: ({"function": "topological_order"}, {"return": _kahn_order(c.args[0])})
        for c in spec.cases
    }
    assert any(
        not np.array_equal(got["return"], case.expected["return"])
        for case, (_, got) in zip(spec.cases, other.values(), strict=True)
    ), "the test needs an order that differs from the reference's"
    assert judge_task(spec, other).score == spec.task.points
    reversed_ = {
        c.name: ({"function": "topological_order"}, {"return": c.expected["return"][::-1].copy()})
        for c in spec.cases
    }
    result = judge_task(spec, reversed_)
    wrong = [c for c in result.checks if not c.passed]
    assert wrong and all("is reversed" in c.message for c in wrong if c.message), wrong
    assert result.score < spec.task.points / 2


def test_backward_scores_one_check_per_graph_naming_the_mistake():
    from autograder.grader.mutants import VARIANTS

    spec = SPECS["backward"]
    mutant = VARIANTS["backward"]["backward_overwrites"]
    results = {
        c.name: ({"function": "backward"}, run_reference("backward", c, fn=mutant))
        for c in spec.cases
    }
    result = judge_task(spec, results)
    graphs = [c for c in result.checks if c.name.startswith("values")]
    assert len(graphs) == len(spec.cases), "one check per graph, not one per node"
    chain = next(c for c in graphs if "chain" in c.name)
    assert chain.passed, "the chain uses no node twice: overwriting is harmless there"
    failed = [c for c in graphs if not c.passed]
    assert len(failed) == 3, failed
    assert all("kept only one contribution" in c.message for c in failed), failed
