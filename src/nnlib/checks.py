"""Visible checks: run one right after implementing a function, in a notebook or a shell.

Each ``check_<function>(fn=None)`` calls your function (``fn`` defaults to the one in
``nnlib``; pass another callable to check a notebook answer) on small fixed inputs and checks,
in this order: that it returns arrays of the right type, shape and dtype (float32 in, float32
out); then their values, against the reference outputs for those inputs. The inputs and
outputs are data, ``check_data.npz`` beside this file, which the instructor writes from the
reference library — the checks hold no solution code. When a value is wrong, the check
names the usual mistake that explains it, from the one catalogue the grader uses too
(:mod:`nnlib.mistakes`), or shows the numbers that differ.

A passing check prints one line; a failing one raises :class:`CheckFailed`, whose message says
what is wrong and where. A stub that is not implemented yet raises its own
``NotImplementedError``, and an exception raised by your code reaches you unchanged, with your
own lines in its traceback (the checks' frames are hidden).

:func:`check_notebook_library` runs the checks of every library function a notebook relies on;
the last cell of each notebook calls it, so nbgrader's Validate reports them.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import (
    activations,
    autodiff,
    biases,
    checkpoint,
    features,
    linear,
    losses,
    mistakes,
    mlp,
    naive,
    two_layer,
)
from .tasks import TASKS_BY_FUNCTION

DATA = Path(__file__).with_name("check_data.npz")
# The sizes of the checks' inputs (N, D, H, C): small and pairwise different, so that a
# transposed result has the wrong shape. The grader's hidden cases use other sizes.
N, D, H, C = 7, 5, 6, 4
WIDTH = 84  # characters per line of a rendered failure (nbgrader's Validate cuts at ~90)


class CheckFailed(AssertionError):
    """A visible check found a mistake; the message says which and what probably caused it."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is the whole story, and the
        # frames it would show are the check's own, not the student's code. Lines are wrapped
        # because nbgrader's Validate cuts every line of an error at about 90 characters.
        lines = []
        for line in f"{type(self).__name__}: {self}".splitlines():
            indent = " " * (len(line) - len(line.lstrip(" -")))
            lines += textwrap.wrap(line, WIDTH, subsequent_indent=indent) or [""]
        return lines


class LibraryCheckFailed(CheckFailed):
    """Library functions a notebook relies on fail their visible checks."""


def _fail(task: str, message: str):
    __tracebackhide__ = True
    raise CheckFailed(f"{task}: {message}")


def _passed(task: str, what: str) -> None:
    print(f"✓ {task}: {what}")


# --------------------------------------------------------------------------- the data


@cache
def _data() -> dict:
    if not DATA.is_file():
        raise FileNotFoundError(
            f"the checks' data file {DATA} is missing: reinstall the bundle (it ships with it)"
        )
    with np.load(DATA, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _decode(spec, prefix: str, data: dict):
    kind = spec[0]
    if kind == "array":
        return data[prefix].copy()
    if kind == "list":
        return [data[f"{prefix}.{i}"].copy() for i in range(spec[1])]
    if kind == "cache":
        _, n_inputs, n_pre, activation = spec
        return mlp.MLPCache(
            [data[f"{prefix}.inputs.{i}"].copy() for i in range(n_inputs)],
            [data[f"{prefix}.pre.{i}"].copy() for i in range(n_pre)],
            activation,
        )
    if kind == "tuple":
        return tuple(spec[1])
    if kind == "graph":
        _, names, kinds, parents = spec
        maps = [
            [
                data[f"{prefix}.m{k}.{j}"].copy()
                for j in range(len(parents[k]) if kd != "pass" else 0)
            ]
            for k, kd in enumerate(kinds)
        ]
        values = [data[f"{prefix}.v{k}"].copy() for k in range(len(names))]
        return Graph(names, kinds, [tuple(p) for p in parents], values, maps)
    return spec[1]  # a plain value stored in the spec


# --------------------------------------------------------------------------- graphs


class Graph(NamedTuple):
    """A made-up computation graph, to check ``backward`` and ``topological_order`` alone.

    Its operations are made-up linear maps with stored arrays, not the library's ops, so that
    checking ``backward`` needs none of the vjps a student writes (and holds no solution):
    a ``"linear"`` node hands ``G * M_j`` (entrywise) to its parent j, a ``"pass"`` node hands
    ``G`` itself to each parent (as the vjp of ``a + b`` does), the ``"loss"`` node (a 0-d
    value, last) hands ``g * M_j``. Every matrix of a graph has one shape. Node k is
    ``names[k]``, with parents ``parents[k]`` (indices of earlier nodes, a node may appear
    twice), value ``values[k]`` and arrays ``maps[k]``.
    """

    names: list
    kinds: list
    parents: list
    values: list
    maps: list

    def astype(self, dtype) -> Graph:
        """The same graph with every array in ``dtype``."""
        return Graph(
            self.names,
            self.kinds,
            self.parents,
            [v.astype(dtype) for v in self.values],
            [[M.astype(dtype) for M in ms] for ms in self.maps],
        )


def _graph_vjp(kind: str, maps: list, count: int):
    if kind == "pass":
        return lambda G: (G,) * count
    if kind == "loss":
        return lambda g: tuple(g * M for M in maps)
    return lambda G: tuple(G * M for M in maps)


def build_graph(graph: Graph, node_class=None) -> list:
    """The nodes of ``graph`` (``node_class``, default :class:`nnlib.autodiff.Node`), loss last."""
    node_class = node_class or autodiff.Node
    nodes = []
    for name, kind, parents, value, maps in zip(*graph, strict=True):
        vjp = None if kind == "leaf" else _graph_vjp(kind, maps, len(parents))
        parents = tuple(nodes[k] for k in parents)
        nodes.append(node_class(value.copy(), parents, f"{kind} {name}", vjp))
    return nodes


def graph_outputs(task: str, fn: Callable, graph: Graph) -> dict:
    """Build ``graph``, call ``fn(loss)`` and name what it produced.

    ``backward``: ``{"<name>.grad": grad}`` for every node (None where a grad is missing);
    ``topological_order``: ``{"order": indices}``, the listed nodes by index (-1 for an item
    that is no node of the graph). Fails when the result has the wrong structure.
    """
    __tracebackhide__ = True
    nodes = build_graph(graph)
    result = _call(task, fn, [nodes[-1]], {})
    if task == "backward":
        return {f"{name}.grad": node.grad for name, node in zip(graph.names, nodes, strict=True)}
    if not isinstance(result, (list, tuple)):
        _fail(task, f"return a list of Nodes, got {type(result).__name__}")
    index = {id(node): k for k, node in enumerate(nodes)}
    return {"order": np.array([index.get(id(item), -1) for item in result], dtype=np.int64)}


def case_names(task: str) -> list[str]:
    """The names of the stored cases of ``task``, in the order the check runs them."""
    return json.loads(str(_data()[f"{task}/cases"]))


def case_inputs(task: str, case: str) -> tuple[list, dict]:
    """Fresh copies of the arguments and keyword arguments of one stored case."""
    data = _data()
    spec = json.loads(str(data[f"{task}/{case}/spec"]))
    args = [_decode(s, f"{task}/{case}/in/a{k}", data) for k, s in enumerate(spec["args"])]
    return args, dict(spec["kwargs"])


def _case_meta(task: str, case: str) -> dict:
    return json.loads(str(_data()[f"{task}/{case}/spec"]))


def expected_outputs(task: str, case: str) -> dict[str, np.ndarray]:
    """The reference outputs of one stored case, by output name."""
    meta = _case_meta(task, case)
    return {name: _data()[f"{task}/{case}/out/{name}"] for name in meta["outputs"]}


def mistake_outputs(task: str, case: str, name: str) -> dict[str, np.ndarray]:
    """``{mistake: output}``: what each catalogued mistake returns for output ``name``."""
    meta = _case_meta(task, case)
    data = _data()
    return {
        m: data[f"{task}/{case}/mistake/{m}/{name}"]
        for m in meta["mistakes"]
        if f"{task}/{case}/mistake/{m}/{name}" in data
    }


# --------------------------------------------------------------------------- outputs by name


def outputs_of(task: str, result, args: list) -> dict:
    """Name the outputs of one call: what it returned, or the arrays an epoch updates in place.

    Fails with a message that says what was expected when the result has the wrong structure.
    """
    __tracebackhide__ = True
    if task in mistakes.SINGLE_OUTPUT:
        return {mistakes.SINGLE_OUTPUT[task]: result}
    if task == "softmax_regression_epoch":
        return {"theta": args[2]}
    if task == "nn_epoch":
        return {"W1": args[2], "W2": args[3]}
    if task == "mlp_epoch":
        return {f"weights[{i}]": W for i, W in enumerate(args[2])}
    if task in ("matmul_vjp", "add_vjp", "nn_gradients_bias"):
        names = mistakes.NAMED_OUTPUTS[task]
        if not isinstance(result, tuple) or len(result) != len(names):
            _fail(task, f"return a tuple ({', '.join(names)}); got {type(result).__name__}")
        params = {"matmul_vjp": args[1:3], "nn_gradients_bias": args[2:6]}.get(task)
        if params is not None:
            shapes = [getattr(r, "shape", None) for r in result]
            wanted = [p.shape for p in params]
            if shapes != wanted and sorted(map(str, shapes)) == sorted(map(str, wanted)):
                _fail(task, mistakes.message("outputs_swapped", out=", ".join(names)))
        return dict(zip(names, result, strict=True))
    if task.startswith("nn_gradients"):
        if not isinstance(result, tuple) or len(result) != 2:
            _fail(task, f"return a tuple (dW1, dW2); got {type(result).__name__}")
        W1, W2 = args[2], args[3]
        shape = getattr(result[0], "shape", None)
        if shape == W2.shape and W1.shape != W2.shape:
            _fail(task, "the tuple is in the wrong order: return (dW1, dW2)")
        return {"dW1": result[0], "dW2": result[1]}
    if task == "mlp_forward":
        if not isinstance(result, tuple) or len(result) != 2:
            _fail(task, f"return a tuple (logits, cache); got {type(result).__name__}")
        logits, cache_ = result
        if not isinstance(cache_, mlp.MLPCache):
            _fail(task, f"the cache should be an MLPCache, got {type(cache_).__name__}")
        L = len(args[1])
        if len(cache_.inputs) != L or len(cache_.preactivations) != L - 1:
            _fail(
                task,
                f"the cache should hold {L} layer inputs [Z_1 = X, ..., Z_{L}] and {L - 1} "
                f"pre-activations [U_1, ..., U_{L - 1}]; got {len(cache_.inputs)} and "
                f"{len(cache_.preactivations)}",
            )
        if cache_.activation != args[2]:
            _fail(task, f"cache.activation is {cache_.activation!r}, expected {args[2]!r}")
        out = {"logits": logits}
        out.update({f"cache.inputs[{i}]": Z for i, Z in enumerate(cache_.inputs)})
        out.update({f"cache.preactivations[{i}]": U for i, U in enumerate(cache_.preactivations)})
        return out
    # mlp_backward, mlp_gradients_naive, mlp_gradients_checkpointed: one per weight matrix
    L = len(args[2])
    if not isinstance(result, (list, tuple)) or len(result) != L:
        _fail(task, f"return a list of {L} gradients, one per weight matrix")
    return {f"grads[{i}]": g for i, g in enumerate(result)}


# --------------------------------------------------------------------------- comparing


def _expect_array(
    task: str, name: str, got, want: np.ndarray, dtype, n: int, variants: dict | None = None
) -> np.ndarray:
    """Fail unless ``got`` is an ndarray shaped like ``want`` with ``dtype``; ``variants``
    (mistake outputs of this case) can name a result of the wrong shape."""
    __tracebackhide__ = True
    scalar = want.ndim == 0
    if scalar and isinstance(got, (float, np.floating)):
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        what = "one number (a float)" if scalar else "a numpy ndarray"
        _fail(task, f"{name} should be {what}, got {type(got).__name__}")
    fields = {"out": name, "n": n, "expected": want.shape, "got": got.shape}
    if got.shape != want.shape:
        named = mistakes.name_mistake(task, name, got, want, n, variants)
        _fail(task, named or f"{name} has shape {got.shape}, expected {want.shape}")
    if scalar:
        if got.dtype.kind != "f":
            _fail(task, f"{name} should be a float, got {got.dtype}")
    elif got.dtype != np.dtype(dtype):
        if got.dtype == np.bool_:
            _fail(task, mistakes.message("bool_output", **fields))
        if got.dtype == np.float64 and np.dtype(dtype) == np.float32:
            _fail(task, mistakes.message("float64_upcast", **fields))
        _fail(task, f"{name} has dtype {got.dtype}, expected {np.dtype(dtype)} (as the input)")
    return got


def _numbers(got: np.ndarray, want: np.ndarray, name: str) -> str:
    """Where ``got`` and ``want`` differ most, with both numbers."""
    g, w = got.astype(np.float64), want.astype(np.float64)
    if g.ndim == 0:
        return f"{name} is {float(g):.6g}, expected {float(w):.6g}"
    diff = np.where(np.isfinite(g), np.abs(g - w), np.inf)
    at = np.unravel_index(int(np.argmax(diff)), g.shape)
    where = f"{name}[{', '.join(str(int(i)) for i in at)}]"
    return (
        f"largest difference at {where}: yours {g[at]:.6g}, expected {w[at]:.6g}; "
        f"{int(np.sum(~np.isclose(g, w)))} of {g.size} entries differ"
    )


def _explain(task: str, case: str, name: str, got: np.ndarray, want: np.ndarray, n: int) -> str:
    """The catalogue's name for what is wrong with ``got``, or the numbers that differ."""
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(want)):
        if task == "log_softmax":
            return mistakes.message("log_of_softmax", out=name)
        if mistakes.BY_NAME["overflow_large_logits"].applies_to(task) and case == "large":
            return mistakes.message("overflow_large_logits", out=name)
    named = mistakes.name_mistake(task, name, got, want, n, mistake_outputs(task, case, name))
    if named:
        return named
    return (
        f"{name} is wrong and no usual mistake matches — re-derive it; {_numbers(got, want, name)}"
    )


def _label(args: list, kwargs: dict) -> str:
    X = args[0]
    text = f"N={X.shape[0]}" if isinstance(X, np.ndarray) and X.ndim == 2 else ""
    if "batch" in kwargs:
        text += f", batch={kwargs['batch']}"
    return text


def _call(task: str, fn: Callable, args: list, kwargs: dict):
    """Call the student's function; its own exceptions reach the student unchanged."""
    __tracebackhide__ = True
    try:
        return fn(*args, **kwargs)
    except CheckFailed:
        raise
    except Exception as exc:
        if not isinstance(exc, NotImplementedError):
            exc.add_note(f"(raised by your code in check_{task}, on inputs {_label(args, kwargs)})")
        raise


def _as_float32(value):
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    if isinstance(value, list):
        return [_as_float32(v) for v in value]
    if isinstance(value, mlp.MLPCache):
        return mlp.MLPCache(
            _as_float32(value.inputs), _as_float32(value.preactivations), value.activation
        )
    return value


def _batch_size(args: list) -> int:
    first = args[1] if isinstance(args[0], float) else args[0]  # g, logits, y
    return int(first.shape[0]) if isinstance(first, np.ndarray) and first.ndim == 2 else 1


# --------------------------------------------------------------------------- one generic check


def _order(task: str, names: list[str]) -> list[str]:
    # Backpropagation runs from the last layer down: report its first break.
    reverse = ("mlp_backward", "mlp_gradients_naive", "mlp_gradients_checkpointed", "backward")
    return names[::-1] if task in reverse else names


def _layer_hint(task: str, name: str, names: list[str]) -> str:
    if task not in ("mlp_backward", "mlp_gradients_naive"):
        return ""
    # grads[i] is dW_j for layer j = i + 1: the course numbers layers from 1 (Z_1 = X).
    i, L = int(name[len("grads[") : -1]), len(names)
    j = i + 1
    if j == L:
        return (
            f" (the last layer: dW_{L} = Z_{L}^T G_{L + 1}; check G_{L + 1} and the cached Z_{L})"
        )
    above = (
        f"G_{L} = G_{L + 1} W_{L}^T"
        if j + 1 == L
        else f"G_{j + 1} = (G_{j + 2} ∘ σ'(U_{j + 1})) W_{j + 1}^T"
    )
    return (
        f" (grads[{i + 1}] above it is right, so the step down to layer {j} is wrong: {above}, "
        f"then dW_{j} = Z_{j}^T (G_{j + 1} ∘ σ'(U_{j})) with U_{j} = Z_{j} W_{j}, the cached "
        f"pre-activation cache.preactivations[{i}])"
    )


def _run_check(task: str, fn: Callable, *, on_mismatch: Callable | None = None) -> None:
    """Check ``fn`` on every stored case of ``task``: structure, dtype, then values."""
    __tracebackhide__ = True
    cases = case_names(task)
    # float32 in, float32 out, on the first case
    args, kwargs = case_inputs(task, cases[0])
    args = _as_float32(args)
    result = _call(task, fn, args, kwargs)
    n = _batch_size(args)
    for name, want in expected_outputs(task, cases[0]).items():
        got = outputs_of(task, result, args).get(name)
        dtype = np.float32 if want.ndim else None
        variants = mistake_outputs(task, cases[0], name)
        _expect_array(task, f"{name} (float32 input)", got, want, dtype, n, variants)
    # float64, every case: values
    for case in cases:
        args, kwargs = case_inputs(task, case)
        before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
        result = _call(task, fn, args, kwargs)
        n = _batch_size(args)
        if task in ("relu", "relu_grad") and not np.array_equal(args[0], before[0]):
            _fail(task, mistakes.message("modified_input", out=f"{task}(Z)"))
        outputs = outputs_of(task, result, args)
        expected = expected_outputs(task, case)
        for name, want in expected.items():
            _expect_array(
                task,
                name,
                outputs.get(name),
                want,
                want.dtype if want.ndim else None,
                n,
                mistake_outputs(task, case, name),
            )
        names = _order(task, list(expected))
        wrong = [m for m in names if not mistakes.passes(outputs[m], expected[m])]
        if not wrong:
            continue
        name = wrong[0]
        got = np.asarray(outputs[name])
        where = f"(inputs {_label(args, kwargs)})" if _label(args, kwargs) else ""
        message = _explain(task, case, name, got, expected[name], n)
        if on_mismatch is not None:
            message = on_mismatch(case, name, args, kwargs, message)
        _fail(task, f"{message}{_layer_hint(task, name, list(expected))} {where}".rstrip())


# --------------------------------------------------------------------------- epochs

_HELPERS = {
    "softmax_regression_epoch": (linear, "softmax_regression_grad"),
    "nn_epoch": (two_layer, "nn_gradients"),
    "mlp_epoch": (mlp, "mlp_gradients"),
}
_HELPER_TASK = {"mlp_gradients": "mlp_backward"}


class _EmptyBatch(Exception):
    """The epoch called its gradient helper on an empty minibatch."""


def _spy(function: Callable) -> Callable:
    def spy(X, *args, **kwargs):
        if getattr(X, "shape", (1,))[0] == 0:
            raise _EmptyBatch
        return function(X, *args, **kwargs)

    return spy


def _check_epoch(task: str, fn: Callable | None) -> None:
    __tracebackhide__ = True
    module, helper = _HELPERS[task]
    import nnlib

    original = getattr(module, helper)
    student_fn = fn or getattr(
        {"softmax_regression_epoch": linear, "nn_epoch": two_layer, "mlp_epoch": mlp}[task], task
    )

    def run(*args, **kwargs):
        __tracebackhide__ = True
        n, batch = args[0].shape[0], kwargs["batch"]
        outputs = ", ".join(expected_outputs(task, case_names(task)[0]))
        try:
            result = student_fn(*args, **kwargs)
        except _EmptyBatch:
            _fail(task, mistakes.message("empty_last_batch", out=outputs, n=n))
        except Exception as exc:
            if n % batch == 0 and not isinstance(exc, (NotImplementedError, CheckFailed)):
                raise CheckFailed(
                    f"{task}: {mistakes.message('empty_last_batch', out=outputs, n=n)} "
                    f"(your code raised {type(exc).__name__}: {exc})"
                ) from exc
            raise
        if n % batch == 0 and not all(
            np.all(np.isfinite(a)) for a in args[2:] if isinstance(a, np.ndarray)
        ):
            _fail(task, mistakes.message("empty_last_batch", out=outputs, n=n))
        return result

    def blame(case, name, args, kwargs, message):
        args0, _ = case_inputs(task, case)
        if all(
            np.array_equal(a, b)
            for a, b in zip(
                outputs_of(task, None, args).values(),
                outputs_of(task, None, args0).values(),
                strict=True,
            )
        ):
            return mistakes.message("not_in_place", out=", ".join(outputs_of(task, None, args)))
        if "no usual mistake" not in message:
            return message
        helper_task = _HELPER_TASK.get(helper, helper)
        try:
            _quiet(CHECKS[helper_task])
        except Exception as exc:  # the helper itself is wrong: it is the likely culprit
            return (
                f"{message}. Your {helper} fails its own check ({exc}); if your {task} calls it, "
                f"fix {helper} first"
            )
        return (
            f"{message}. Your {helper} passes its check, so look at the loop: the minibatches "
            "X[start:start + batch] in order, every gradient of a step computed before any "
            "update, W -= lr * dW"
        )

    spied = _spy(original)
    setattr(module, helper, spied)
    setattr(nnlib, helper, spied)
    try:
        _run_check(task, run, on_mismatch=blame)
    finally:
        setattr(module, helper, original)
        setattr(nnlib, helper, original)


def _quiet(check: Callable) -> None:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        check()


# --------------------------------------------------------------------------- graphs

#: What each stored graph tests, for the failure message.
GRAPH_LABELS = {
    "diamond": "the diamond graph (h feeds both p and q, x feeds h and the loss)",
    "twice": "the graph where t uses x twice and u uses t twice",
    "chain": "a chain of single-parent nodes",
}


def _check_graph_task(task: str, fn: Callable) -> None:
    """Check ``backward`` or ``topological_order`` on the stored made-up graphs."""
    __tracebackhide__ = True
    for k, case in enumerate(case_names(task)):
        (graph,), _ = case_inputs(task, case)
        where = f"on {GRAPH_LABELS.get(case, case)}"
        if task == "topological_order":
            order = graph_outputs(task, fn, graph)["order"]
            mistake = mistakes.order_mistake(order, graph.parents, len(graph.names) - 1)
            if mistake is not None:
                _fail(task, f"{mistakes.message(mistake, out='the order')} ({where})")
            continue
        if k == 0:  # float32 in, float32 out
            outputs = graph_outputs(task, fn, graph.astype(np.float32))
            for name, value in zip(graph.names, graph.values, strict=True):
                got = outputs[f"{name}.grad"]
                if got is None:
                    _fail(task, f"{name}.grad is None: backward must fill .grad of every node")
                want = np.zeros(value.shape)
                _expect_array(task, f"{name}.grad (float32 graph)", got, want, np.float32, 1)
        outputs = graph_outputs(task, fn, graph)
        expected = expected_outputs(task, case)
        for name, want in expected.items():
            if outputs[name] is None:
                _fail(task, f"{name} is None: backward must fill .grad of every node ({where})")
            _expect_array(task, name, outputs[name], want, want.dtype, 1)
        wrong = [
            m for m in _order(task, list(expected)) if not mistakes.passes(outputs[m], expected[m])
        ]
        if wrong:
            name = wrong[0]
            message = _explain(task, case, name, np.asarray(outputs[name]), expected[name], 1)
            _fail(task, f"{message} ({where})")


def _graph_checker(task: str, default: Callable, what: str) -> Callable:
    return _checker(
        task,
        default,
        what,
        run=_check_graph_task,
        on="small stored graphs, with a node used twice and a diamond",
    )


# --------------------------------------------------------------------------- the checks

_PASSED = {
    "softmax": "float32 stays float32; values and huge logits (±1e4) are right",
    "log_softmax": "float32 stays float32; values and huge logits (±1e4) are right",
    "softmax_loss": "one number, the mean cross-entropy; finite for huge logits",
    "epoch": "in-place updates match SGD, with a partial last batch and with N a multiple of batch",
    "mlp": "every layer is right, for relu and tanh",
}


def _checker(
    task: str,
    default: Callable,
    what: str,
    run: Callable = _run_check,
    on: str = "the stored inputs: types, shapes, float32 in/out, then values",
) -> Callable:
    def check(fn: Callable | None = None) -> None:
        __tracebackhide__ = True
        run(task, fn or default())
        _passed(task, what)

    check.__name__ = f"check_{task}"
    check.__qualname__ = check.__name__
    check.__doc__ = (
        f"Check ``{task}`` on {on}.\n\n"
        f"Parameters\n----------\nfn : callable, optional\n    Checked instead of "
        f"``nnlib.{task}``."
    )
    return check


def _epoch_checker(task: str) -> Callable:
    def check(fn: Callable | None = None) -> None:
        __tracebackhide__ = True
        _check_epoch(task, fn)
        _passed(task, _PASSED["epoch"])

    check.__name__ = f"check_{task}"
    check.__qualname__ = check.__name__
    check.__doc__ = (
        f"Check one epoch of ``{task}``: in-place updates, a partial last batch, N a multiple "
        "of batch.\n\nParameters\n----------\nfn : callable, optional\n    Checked instead of "
        f"``nnlib.{task}``."
    )
    return check


_GRADS = "dtype, shape and values agree with the reference gradient"
check_softmax = _checker("softmax", lambda: losses.softmax, _PASSED["softmax"])
check_log_softmax = _checker("log_softmax", lambda: losses.log_softmax, _PASSED["log_softmax"])
check_softmax_loss = _checker("softmax_loss", lambda: losses.softmax_loss, _PASSED["softmax_loss"])
check_softmax_loss_grad = _checker("softmax_loss_grad", lambda: losses.softmax_loss_grad, _GRADS)
check_softmax_loss_grad_naive = _checker(
    "softmax_loss_grad_naive", lambda: naive.softmax_loss_grad_naive, _GRADS
)
check_softmax_regression_grad = _checker(
    "softmax_regression_grad", lambda: linear.softmax_regression_grad, _GRADS
)
check_softmax_regression_grad_naive = _checker(
    "softmax_regression_grad_naive", lambda: naive.softmax_regression_grad_naive, _GRADS
)
check_softmax_regression_epoch = _epoch_checker("softmax_regression_epoch")
check_radial_features = _checker(
    "radial_features", lambda: features.radial_features, "columns x, y and x² + y² are right"
)
check_random_relu_features = _checker(
    "random_relu_features", lambda: features.random_relu_features, "max(X W, 0) is right"
)
check_relu = _checker("relu", lambda: activations.relu, "values are right; the input is untouched")
check_relu_grad = _checker(
    "relu_grad", lambda: activations.relu_grad, "1 where Z > 0, else 0 (0 at exactly 0)"
)
check_nn_gradients = _checker("nn_gradients", lambda: two_layer.nn_gradients, _GRADS)
check_nn_gradients_naive = _checker("nn_gradients_naive", lambda: naive.nn_gradients_naive, _GRADS)
check_nn_epoch = _epoch_checker("nn_epoch")
check_mlp_forward = _checker("mlp_forward", lambda: mlp.mlp_forward, "logits and cache are right")
check_mlp_backward = _checker("mlp_backward", lambda: mlp.mlp_backward, _PASSED["mlp"])
check_mlp_gradients_naive = _checker(
    "mlp_gradients_naive", lambda: naive.mlp_gradients_naive, _PASSED["mlp"]
)
check_mlp_epoch = _epoch_checker("mlp_epoch")
_VJP = "float32 stays float32; the gradients with respect to the op's inputs are right"
check_matmul_vjp = _checker("matmul_vjp", lambda: autodiff.matmul_vjp, _VJP)
check_add_vjp = _checker(
    "add_vjp", lambda: autodiff.add_vjp, "right for two matrices and for a bias row"
)
check_relu_vjp = _checker("relu_vjp", lambda: autodiff.relu_vjp, _VJP)
check_sigmoid_vjp = _checker("sigmoid_vjp", lambda: autodiff.sigmoid_vjp, _VJP)
check_tanh_vjp = _checker("tanh_vjp", lambda: autodiff.tanh_vjp, _VJP)
check_softmax_cross_entropy_vjp = _checker(
    "softmax_cross_entropy_vjp",
    lambda: autodiff.softmax_cross_entropy_vjp,
    "right for g = 1 and another g; finite for huge logits",
)
check_topological_order = _graph_checker(
    "topological_order",
    lambda: autodiff.topological_order,
    "every node once, after its parents, the loss last",
)
check_backward = _graph_checker(
    "backward",
    lambda: autodiff.backward,
    "every node's gradient is right, with nodes used twice and a diamond",
)
check_mlp_gradients_checkpointed = _checker(
    "mlp_gradients_checkpointed",
    lambda: checkpoint.mlp_gradients_checkpointed,
    "every layer is right, for several checkpoint spacings",
)
check_nn_gradients_bias = _checker("nn_gradients_bias", lambda: biases.nn_gradients_bias, _GRADS)

#: Every check by the task function it checks.
CHECKS: dict[str, Callable] = {
    name[len("check_") :]: obj
    for name, obj in list(globals().items())
    if name.startswith("check_") and callable(obj) and name != "check_notebook_library"
}

# --------------------------------------------------------------------------- per notebook

_LOSS = ("softmax", "softmax_loss", "softmax_loss_grad")
#: The library functions each notebook relies on: its own tasks and those its cells call.
RELIES_ON: dict[str, tuple[str, ...]] = {
    "01_linear_classifiers": tuple(
        t.function for t in TASKS_BY_FUNCTION.values() if t.notebook == "01_linear_classifiers"
    ),
    "02_nonlinear_features": (
        "radial_features",
        "random_relu_features",
        *_LOSS,
        "softmax_regression_grad",
        "softmax_regression_epoch",
    ),
    "03_two_layer_network": (
        *_LOSS,
        "relu",
        "relu_grad",
        "nn_gradients",
        "nn_gradients_naive",
        "nn_epoch",
    ),
    "04_backprop": (
        *_LOSS,
        "relu",
        "relu_grad",
        "mlp_forward",
        "mlp_backward",
        "mlp_gradients_naive",
        "mlp_epoch",
    ),
    "05_fast_path": (*_LOSS, "relu", "relu_grad", "nn_gradients", "nn_gradients_naive", "nn_epoch"),
    "06_autodiff": (
        *_LOSS,
        "relu",
        "relu_grad",
        "mlp_forward",
        "mlp_backward",
        *(t.function for t in TASKS_BY_FUNCTION.values() if t.notebook == "06_autodiff"),
    ),
}


def library_report(functions) -> dict[str, str | None]:
    """Run the checks of ``functions`` quietly: ``{function: None if it passes, else why}``."""
    report = {}
    for function in functions:
        try:
            _quiet(CHECKS[function])
        except Exception as exc:  # a stub, a check failure or the student's own exception
            if isinstance(exc, NotImplementedError) and "not implemented yet" in str(exc):
                text = f"not implemented yet ({TASKS_BY_FUNCTION[function].path})"
            elif isinstance(exc, CheckFailed):
                text = str(exc).removeprefix(f"{function}: ")
            else:
                text = f"your code raised {type(exc).__name__}: {exc}"
            report[function] = text
        else:
            report[function] = None
    return report


def check_notebook_library(notebook: str) -> None:
    """Check every library function ``notebook`` relies on; fail naming each that fails.

    The library is graded by the library grader, not by this notebook: this check is worth no
    points in the notebook, but it makes nbgrader's Validate report a library function that
    does not pass its visible check, instead of "Success".
    """
    __tracebackhide__ = True
    report = library_report(RELIES_ON[notebook])
    failing = {f: why for f, why in report.items() if why is not None}
    if failing:
        lines = "\n".join(f"  - {f}: {why}" for f, why in failing.items())
        raise LibraryCheckFailed(
            f"{len(failing)} of the {len(report)} library functions notebook {notebook} "
            f"relies on fail their visible checks (they are graded by the library grader, "
            f"not in this notebook; fix them in src/nnlib and re-run this cell):\n{lines}"
        )
    _passed(notebook, f"all {len(report)} library functions it relies on pass their checks")
