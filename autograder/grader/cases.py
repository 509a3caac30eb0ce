"""The hidden test cases of every library task: inputs drawn from a seed, reference outputs.

Runs only in the grading parent, which imports the reference ``nnlib``. Each task gets several
cases of different shapes and dtypes — including shapes the visible tests never use (they use
N, D, H, C = 7, 5, 6, 4) and single-example batches — plus, for gradients, a case whose
expected value is a central-difference gradient of the reference loss, and for epochs, per
case, a twin that replaces the gradient helper by a probe to grade the loop on its own and
the helper's calls on that case's minibatches, to tell whether the helper is what fails.
The seed is drawn afresh for every grading run and kept in each record (``grade.py``).

Output names follow the runner's flattening: ``return`` (one array or number),
``return.<i>`` (tuples and lists, nested as ``return.1.0.2``), ``arg<k>`` / ``arg<k>.<i>``
(arrays an epoch updates in place).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from functools import cache

import numpy as np

import nnlib
from nnlib.checks import Graph, graph_outputs
from nnlib.gradcheck import numerical_gradient
from nnlib.tasks import TASKS, TASKS_BY_FUNCTION, Task

SEED = 20261126  # for tests and diagnosis only: real grading draws a fresh seed per run
PROBE_SUFFIX = "~probe"
HELPER_SUFFIX = "~helper"


@dataclass
class Cache:
    """An ``MLPCache`` argument, rebuilt in the child from the student's own class."""

    inputs: list
    preactivations: list
    activation: str


@dataclass
class Case:
    """One call of a student function.

    Attributes
    ----------
    name : str
        Short identifier, unique within the task (a folder name).
    label : str
        What a student reads in the feedback, e.g. ``"N=9, C=5, float64"``.
    args, kwargs
        Arrays, lists of arrays, :class:`Cache`, or plain JSON values.
    expected : dict of str to ndarray
        Reference outputs by flattened name.
    batch : int
        N of the case, for the off-by-the-batch-size diagnosis.
    kind : {"values", "numeric", "probe", "helper"}
        ``numeric``: expected is a central-difference gradient; ``probe``: the epoch's
        gradient helper is replaced by a probe (one probe case per values case, named
        ``<case>~probe``); ``helper``: the student's helper called on one minibatch of an
        epoch case (``<case>~helper<k>``), at the weights the reference epoch reaches.
    unseen : bool
        Whether its shape is one the visible tests never use.
    """

    name: str
    label: str
    args: list
    kwargs: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    batch: int = 1
    kind: str = "values"
    unseen: bool = True
    weight: float = 2.0
    function: str | None = None
    inplace: tuple = ()
    probe: dict | None = None


@dataclass
class TaskSpec:
    """The cases of one task and the modules the child must import to run them."""

    task: Task
    modules: tuple
    cases: list


def _rng(seed: int, task: str, case: str) -> np.random.Generator:
    key = [seed & 0xFFFFFFFF, seed >> 32, *(ord(c) for c in f"{task}/{case}")]
    return np.random.default_rng(key)


def flatten(value, name: str = "return") -> dict:
    """Flatten a reference return value with the runner's naming."""
    out = {}
    if isinstance(value, np.ndarray):
        out[name] = value
    elif isinstance(value, (float, int, np.floating, np.integer)):
        out[name] = np.array(value)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                out.update(flatten(item, f"{name}.{i}"))
    elif value is not None:
        raise TypeError(f"cannot flatten {type(value).__name__}")
    return out


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, Cache):
        return nnlib.MLPCache(_copy(value.inputs), _copy(value.preactivations), value.activation)
    return value


def run_reference(function: str, case: Case, fn=None) -> dict:
    """Call the reference (or ``fn``) on copies of the case's arguments; flattened outputs."""
    fn = fn or getattr(nnlib, function)
    if case.args and isinstance(case.args[0], Graph):
        # built afresh from the spec: node grads (backward) or the listed nodes' indices
        out = graph_outputs(function, fn, case.args[0])
        return {"return" if k == "order" else k: v for k, v in out.items()}
    args = [_copy(a) for a in case.args]
    result = fn(*args, **{k: _copy(v) for k, v in case.kwargs.items()})
    out = {} if case.inplace else flatten(result)
    for index in case.inplace:
        out.update(flatten(args[index], f"arg{index}"))
    return out


# ---------------------------------------------------------------------------- inputs


def _logits(rng, n, c, dtype, scale=3.0):
    return (scale * rng.standard_normal((n, c))).astype(dtype)


def _labels(rng, n, c):
    return rng.integers(0, c, size=n).astype(np.int64)


def _name(dtype) -> str:
    return np.dtype(dtype).name


def _logit_cases(seed, task, with_labels: bool):
    shapes = [
        ("small", 4, 3, np.float32, 3.0, False),
        ("float64", 13, 7, np.float64, 3.0, True),
        ("one_row", 1, 5, np.float32, 3.0, True),
        ("large_logits", 6, 4, np.float64, 800.0, True),
    ]
    cases = []
    for name, n, c, dtype, scale, unseen in shapes:
        rng = _rng(seed, task, name)
        args = [_logits(rng, n, c, dtype, scale)]
        if scale > 100:
            # Whatever the seed, every row has a logit whose exp overflows (exp(710) = inf),
            # so only a softmax that subtracts each row's maximum passes.
            args[0][np.arange(n), rng.integers(0, c, size=n)] = rng.uniform(750, 1000, size=n)
        if with_labels:
            args.append(_labels(rng, n, c))
        label = f"N={n}, C={c}, {_name(dtype)}" + (", logits near ±1000" if scale > 100 else "")
        cases.append(Case(name, label, args, batch=n, unseen=unseen))
    return cases


def _numeric(task, name, args, loss_of, wrt, label):
    """A case whose expected outputs are central differences of ``loss_of`` in ``args[wrt]``."""
    expected = {}
    for out_name, index in wrt:
        point = args[index[0]] if len(index) == 1 else args[index[0]][index[1]]

        def f(x, index=index):
            a = [_copy(v) for v in args]
            if len(index) == 1:
                a[index[0]] = x
            else:
                a[index[0]][index[1]] = x
            return loss_of(*a)

        expected[out_name] = numerical_gradient(f, point)
    n = args[0].shape[0]
    return Case(name, label, args, expected=expected, batch=n, kind="numeric", weight=2.0)


# ---------------------------------------------------------------------------- tasks


def _losses_spec(seed, task):
    with_labels = task.function in ("softmax_loss", "softmax_loss_grad", "softmax_loss_grad_naive")
    cases = _logit_cases(seed, task.function, with_labels)
    if task.function.startswith("softmax_loss_grad"):
        rng = _rng(seed, task.function, "numeric")
        args = [_logits(rng, 3, 4, np.float64), _labels(rng, 3, 4)]
        cases.append(
            _numeric(
                task.function,
                "numeric",
                args,
                nnlib.softmax_loss,
                [("return", (0,))],
                "central differences of the loss, N=3, C=4, float64",
            )
        )
    return cases


def _regression_grad_cases(seed, function):
    cases = []
    for name, n, d, c, dtype, unseen in [
        ("small", 5, 4, 3, np.float32, False),
        ("float64", 9, 6, 5, np.float64, True),
        ("one_row", 1, 3, 2, np.float32, True),
    ]:
        rng = _rng(seed, function, name)
        args = [
            rng.standard_normal((n, d)).astype(dtype),
            _labels(rng, n, c),
            (0.5 * rng.standard_normal((d, c))).astype(dtype),
        ]
        cases.append(
            Case(name, f"N={n}, D={d}, C={c}, {_name(dtype)}", args, batch=n, unseen=unseen)
        )
    rng = _rng(seed, function, "numeric")
    args = [rng.standard_normal((3, 4)), _labels(rng, 3, 3), 0.5 * rng.standard_normal((4, 3))]
    cases.append(
        _numeric(
            function,
            "numeric",
            args,
            lambda X, y, t: nnlib.softmax_loss(X @ t, y),
            [("return", (2,))],
            "central differences in theta, N=3, D=4, C=3, float64",
        )
    )
    return cases


def _two_layer_problem(rng, n, d, h, c, dtype):
    # Redrawn (a bounded number of times) until every row has a clearly active hidden unit:
    # a row whose units are all off has zero gradients, so a loop that skips it, or a wrong
    # mask on it, would go unseen on that draw; with a fresh seed per run the grade of such a
    # bug would then depend on luck.
    for _ in range(100):
        X = rng.standard_normal((n, d))
        W1 = rng.standard_normal((d, h)) / np.sqrt(d)
        if np.min(np.max(X @ W1, axis=1)) > 0.1:
            break
    W2 = rng.standard_normal((h, c)) / np.sqrt(h)
    return [X.astype(dtype), _labels(rng, n, c), W1.astype(dtype), W2.astype(dtype)]


def _nn_grad_cases(seed, function):
    cases = []
    for name, n, d, h, c, dtype, unseen in [
        ("small", 6, 5, 4, 3, np.float32, True),
        ("float64", 11, 7, 9, 4, np.float64, True),
        ("one_row", 1, 3, 5, 2, np.float32, True),
    ]:
        args = _two_layer_problem(_rng(seed, function, name), n, d, h, c, dtype)
        label = f"N={n}, D={d}, H={h}, C={c}, {_name(dtype)}"
        cases.append(Case(name, label, args, batch=n, unseen=unseen))

    def loss(X, y, W1, W2):
        return nnlib.softmax_loss(np.maximum(X @ W1, 0) @ W2, y)

    args = _two_layer_problem(_rng(seed, function, "numeric"), 3, 3, 4, 3, np.float64)
    cases.append(
        _numeric(
            function,
            "numeric",
            args,
            loss,
            [("return.0", (2,)), ("return.1", (3,))],
            "central differences in W1 and W2, N=3, D=3, H=4, C=3, float64",
        )
    )
    return cases


def _mlp_problem(rng, n, sizes, dtype):
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    weights = nnlib.init_mlp(sizes, rng, dtype=dtype)
    return X, _labels(rng, n, sizes[-1]), weights


# tanh and sigmoid keep the MLP tasks independent of the student's relu / relu_grad tasks.
_MLP_SHAPES = [
    ("tanh_3_layers", 5, [4, 6, 5, 3], "tanh", np.float32),
    ("sigmoid_2_layers", 8, [3, 7, 4], "sigmoid", np.float64),
    ("tanh_one_row", 1, [6, 3, 4, 5, 2], "tanh", np.float32),
    ("linear_1_layer", 4, [5, 3], "tanh", np.float64),
]


def _mlp_label(n, sizes, activation, dtype):
    return f"N={n}, layers {sizes}, {activation}, {_name(dtype)}"


def _mlp_cases(seed, function):
    cases = []
    for name, n, sizes, activation, dtype in _MLP_SHAPES:
        X, y, weights = _mlp_problem(_rng(seed, function, name), n, sizes, dtype)
        label = _mlp_label(n, sizes, activation, dtype)
        if function == "mlp_forward":
            cases.append(Case(name, label, [X, weights, activation], batch=n))
        elif function == "mlp_backward":
            logits, cache = nnlib.mlp_forward(X, weights, activation)
            dlogits = nnlib.softmax_loss_grad(logits, y)
            arg = Cache(cache.inputs, cache.preactivations, activation)
            cases.append(Case(name, label, [dlogits, arg, weights], batch=n))
        else:
            cases.append(Case(name, label, [X, y, weights, activation], batch=n))
    if function == "mlp_forward":
        return cases
    rng = _rng(seed, function, "numeric")
    X, y, weights = _mlp_problem(rng, 3, [3, 4, 3], np.float64)

    def loss(X, y, weights, activation="tanh"):
        return nnlib.softmax_loss(nnlib.mlp_forward(X, weights, activation)[0], y)

    num = _numeric(
        function,
        "numeric",
        [X, y, weights, "tanh"],
        loss,
        [("return.0", (2, 0)), ("return.1", (2, 1))],
        "central differences in every W_i, N=3, layers [3, 4, 3], tanh, float64",
    )
    if function == "mlp_backward":
        logits, cache = nnlib.mlp_forward(X, weights, "tanh")
        num.args = [
            nnlib.softmax_loss_grad(logits, y),
            Cache(cache.inputs, cache.preactivations, "tanh"),
            weights,
        ]
    cases.append(num)
    return cases


def _epoch_cases(seed, function, helper, kind):
    cases = []
    shapes = [
        ("partial_batch", 10, 3, 0.5, np.float32),
        ("one_batch", 7, 7, 0.1, np.float64),
        ("batch_of_one", 4, 1, 0.2, np.float64),
    ]
    for name, n, batch, lr, dtype in shapes:
        rng = _rng(seed, function, name)
        if function == "softmax_regression_epoch":
            X = rng.standard_normal((n, 5)).astype(dtype)
            args = [X, _labels(rng, n, 3), (0.1 * rng.standard_normal((5, 3))).astype(dtype)]
            inplace = (2,)
        elif function == "nn_epoch":
            args = _two_layer_problem(rng, n, 4, 6, 3, dtype)
            inplace = (2, 3)
        else:
            X, y, weights = _mlp_problem(rng, n, [4, 5, 6, 3], dtype)
            args = [X, y, weights]
            inplace = (2,)
        kwargs = {"lr": lr, "batch": batch}
        if function == "mlp_epoch":
            kwargs["activation"] = "tanh"
        label = f"N={n}, batch={batch}, lr={lr}, {_name(dtype)}"
        cases.append(Case(name, label, args, kwargs, batch=batch, inplace=inplace))
    # A probe case per case: the helper replaced by a fake gradient, the loop graded on its
    # own on the same inputs, so a failure of the loop shows on the case where it happens.
    for base in list(cases):
        probe = Case(
            base.name + PROBE_SUFFIX,
            base.label + f", {helper} replaced by a probe",
            base.args,
            base.kwargs,
            batch=base.batch,
            kind="probe",
            weight=0.0,
            inplace=base.inplace,
            probe={"name": helper, "kind": kind},
        )
        probe.expected = simulate_probe_epoch(function, probe)
        cases.append(probe)
    for base in [c for c in cases if c.kind == "values"]:
        cases += _helper_cases(helper, base)
    return cases


def _helper_cases(helper: str, base: Case) -> list:
    """The calls of ``helper`` an epoch case makes, one per minibatch, at the weights of the
    reference's own epoch: they tell whether the helper is right on this case's batches."""
    X, y = base.args[0], base.args[1]
    nested = isinstance(base.args[2], list)
    weights = [_copy(W) for W in (base.args[2] if nested else base.args[2:])]
    lr, batch = base.kwargs["lr"], base.kwargs["batch"]
    extra = {k: v for k, v in base.kwargs.items() if k == "activation"}
    cases = []
    for k, start in enumerate(range(0, X.shape[0], batch)):
        current = [W.copy() for W in weights]
        args = [X[start : start + batch].copy(), y[start : start + batch].copy()]
        args += [current] if nested else current
        case = Case(
            f"{base.name}{HELPER_SUFFIX}{k}",
            f"{helper} on minibatch {k + 1} of {base.label}",
            args,
            dict(extra),
            batch=args[0].shape[0],
            kind="helper",
            weight=0.0,
            function=helper,
        )
        case.expected = run_reference(helper, case)
        order = sorted(case.expected, key=lambda key: [int(p) for p in key.split(".")[1:]])
        grads = [case.expected[key] for key in order]
        for W, g in zip(weights, grads, strict=True):
            W -= lr * g
        cases.append(case)
    return cases


def probe_gradient(X, y, weights):
    """What the runner's probe returns in place of the true gradients (see runner.py)."""
    shift = float(np.mean(X, dtype=np.float64)) + 0.01 * float(np.mean(y, dtype=np.float64))
    return [(0.5 * W + shift).astype(W.dtype) for W in weights]


def simulate_probe_epoch(function: str, case: Case) -> dict:
    """The weights after the reference epoch ``function`` with its gradient helper replaced by
    the probe, as the runner replaces the student's."""
    module = importlib.import_module(f"nnlib.{TASKS_BY_FUNCTION[function].module}")
    helper, kind = case.probe["name"], case.probe["kind"]

    def probe(X, y, weights, *args, **kwargs):
        if kind == "theta":
            return probe_gradient(X, y, [weights])[0]
        if kind == "two_layer":
            return tuple(probe_gradient(X, y, [weights, args[0]]))
        return probe_gradient(X, y, list(weights))

    original = getattr(module, helper)
    setattr(module, helper, probe)
    try:
        return run_reference(function, case)
    finally:
        setattr(module, helper, original)


def _activation_cases(seed, function):
    cases = []
    for name, shape, dtype, unseen in [
        ("matrix", (4, 5), np.float32, False),
        ("vector_float64", (9,), np.float64, True),
        ("3d", (2, 3, 4), np.float32, True),
    ]:
        rng = _rng(seed, function, name)
        Z = rng.standard_normal(shape).astype(dtype)
        Z.reshape(-1)[::4] = 0.0  # exact zeros: where the derivative's convention shows
        cases.append(Case(name, f"shape {shape}, {_name(dtype)}", [Z], unseen=unseen))
    return cases


def _feature_cases(seed, function):
    cases = []
    for name, n, dtype in [
        ("small", 5, np.float32),
        ("float64", 8, np.float64),
        ("one_row", 1, np.float32),
    ]:
        rng = _rng(seed, function, name)
        X = rng.standard_normal((n, 2)).astype(dtype)
        args = (
            [X] if function == "radial_features" else [X, rng.standard_normal((2, 6)).astype(dtype)]
        )
        cases.append(Case(name, f"N={n}, {_name(dtype)}", args, batch=n))
    return cases


# ---------------------------------------------------------------------------- notebook 06


def _vjp_cases(seed, function):
    """The vjps: each on matrices of several shapes and dtypes, plus central differences."""
    cases = []
    shapes = [
        ("small", 4, 3, 5, np.float32),
        ("float64", 9, 6, 2, np.float64),
        ("one_row", 1, 4, 3, np.float32),
        ("square", 5, 5, 5, np.float64),
    ]
    for name, n, m, k, dtype in shapes:
        rng = _rng(seed, function, name)
        label = f"N={n}, {_name(dtype)}"
        if function == "matmul_vjp":
            G, A, B = (rng.standard_normal(s).astype(dtype) for s in [(n, k), (n, m), (m, k)])
            args, label = [G, A, B], f"A {A.shape} @ B {B.shape}, {_name(dtype)}"
        elif function == "add_vjp":
            G = rng.standard_normal((n, k)).astype(dtype)
            b_shape = (n, k) if name == "square" else (k,)
            args, label = [G, (n, k), b_shape], f"a {(n, k)} + b {b_shape}, {_name(dtype)}"
        elif function == "softmax_cross_entropy_vjp":
            g = 1.0 if name == "one_row" else float(np.round(rng.uniform(0.2, 2.0), 3))
            scale = 800.0 if name == "square" else 3.0
            Z = _logits(rng, n, k, dtype, scale)
            if scale > 100:  # every row overflows exp unless the row maximum is subtracted
                Z[np.arange(n), rng.integers(0, k, size=n)] = rng.uniform(750, 1000, size=n)
            args = [g, Z, _labels(rng, n, k)]
            label = "g = 1" if name == "one_row" else "g drawn at random"
            label += f", N={n}, C={k}, {_name(dtype)}"
            label += ", logits near ±1000" if scale > 100 else ""
        else:
            G = rng.standard_normal((n, k)).astype(dtype)
            A = rng.standard_normal((n, k)).astype(dtype)
            if function == "relu_vjp":
                A.reshape(-1)[::4] = 0.0  # exact zeros: the derivative is 0 there
                args = [G, A]
            else:
                args = [G, (nnlib.sigmoid(A) if function == "sigmoid_vjp" else np.tanh(A))]
            label = f"shape {(n, k)}, {_name(dtype)}"
        cases.append(Case(name, label, args, batch=n, unseen=name != "small"))
    cases += _vjp_numeric(seed, function)
    return cases


def _vjp_numeric(seed, function):
    """Central differences of ``sum(G * f(inputs))`` (``g * loss`` for the loss)."""
    rng = _rng(seed, function, "numeric")
    G = rng.standard_normal((3, 4))
    if function == "matmul_vjp":
        A, B = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
        expected = {
            "return.0": numerical_gradient(lambda a: float(np.sum(G * (a @ B))), A),
            "return.1": numerical_gradient(lambda b: float(np.sum(G * (A @ b))), B),
        }
        args = [G, A, B]
    elif function == "softmax_cross_entropy_vjp":
        Z, y, g = rng.standard_normal((3, 4)), _labels(rng, 3, 4), 0.7
        expected = {"return": numerical_gradient(lambda z: g * nnlib.softmax_loss(z, y), Z)}
        args = [g, Z, y]
    elif function in ("sigmoid_vjp", "tanh_vjp"):
        f = nnlib.sigmoid if function == "sigmoid_vjp" else np.tanh
        A = rng.standard_normal((3, 4))
        expected = {"return": numerical_gradient(lambda a: float(np.sum(G * f(a))), A)}
        args = [G, f(A)]
    else:  # relu (away from the kink) and add have no case central differences add to
        return []
    label = "central differences, " + ("g=0.7, N=3, C=4" if "softmax" in function else "N=3")
    return [Case("numeric", label + ", float64", args, expected=expected, batch=3, kind="numeric")]


#: The graphs' structure: (name, kind, parents); see ``nnlib.checks.Graph``. The visible
#: checks use the first three too (``autograder/check_data.py``), the grader adds a random one.
GRAPHS = {
    "diamond": [  # h feeds p and q, x feeds h and the loss
        ("x", "leaf", ()),
        ("h", "linear", (0,)),
        ("p", "linear", (1,)),
        ("q", "linear", (1,)),
        ("s", "pass", (2, 3)),
        ("loss", "loss", (4, 0)),
    ],
    "twice": [  # t uses x twice, u uses t twice
        ("x", "leaf", ()),
        ("t", "linear", (0, 0)),
        ("u", "pass", (1, 1)),
        ("loss", "loss", (2,)),
    ],
    "chain": [
        ("w", "leaf", ()),
        ("x", "leaf", ()),
        ("a", "linear", (1, 0)),
        ("b", "linear", (2,)),
        ("loss", "loss", (3,)),
    ],
}


def make_graph(structure, rng, n: int, width: int, dtype=np.float64) -> Graph:
    """A :class:`nnlib.checks.Graph` of ``structure``: every value and map random, of shape
    (n, width) (the loss's value is one number)."""
    names, kinds, parents, values, maps = [], [], [], [], []
    for name, kind, ps in structure:
        names.append(name)
        kinds.append(kind)
        parents.append(tuple(ps))
        loss = kind == "loss"
        values.append(np.array(rng.standard_normal()) if loss else rng.standard_normal((n, width)))
        if kind in ("linear", "loss"):
            maps.append([rng.standard_normal(values[p].shape) for p in ps])
        else:
            maps.append([])
    return Graph(names, kinds, parents, values, maps).astype(dtype)


def _random_structure(rng):
    """A random graph: two leaves, five linear or pass nodes, a loss on every node no other
    node uses (so that everything is an ancestor of the loss) and on node a."""
    structure = [("x", "leaf", ()), ("w", "leaf", ())]
    for k, name in enumerate("abcde", start=2):
        if k >= 3 and rng.random() < 0.3:  # a pass node adds a node to itself: used twice
            p = int(rng.integers(2, k))
            structure.append((name, "pass", (p, p)))
            continue
        count = int(rng.integers(1, 3))
        structure.append((name, "linear", tuple(int(p) for p in rng.integers(0, k, count))))
    used = {p for _, _, ps in structure for p in ps}
    sinks = tuple(k for k in range(len(structure)) if k not in used)
    # the loss also uses node a: whatever the draw, a node is used twice (a grade never
    # depends on the luck of a structure without one)
    return [*structure, ("loss", "loss", (*sinks, 2))]


def _graph_cases(seed, function):
    cases = []
    for name, dtype in [
        ("diamond", np.float64),
        ("twice", np.float32),
        ("chain", np.float64),
        ("random", np.float64),
    ]:
        rng = _rng(seed, function, name)
        structure = _random_structure(rng) if name == "random" else GRAPHS[name]
        n = _GRAPH_ROWS[name]  # fixed: the label (a check's name in the record) shows it
        graph = make_graph(structure, rng, n, int(rng.integers(2, 7)), dtype)
        label = f"{_GRAPH_LABELS[name]}, N={n}, {_name(dtype)}"
        cases.append(Case(name, label, [graph], batch=n))
    return cases


_GRAPH_ROWS = {"diamond": 4, "twice": 2, "chain": 1, "random": 6}
_GRAPH_LABELS = {
    "diamond": "a diamond graph (one node feeds two, a leaf feeds two)",
    "twice": "a graph with a node used twice by one operation",
    "chain": "a chain with two leaves",
    "random": "a random graph of 8 nodes",
}


def _checkpoint_cases(seed, function):
    shapes = [
        ("tanh_every_2", 5, [4, 6, 6, 6, 5, 3], "tanh", 2, np.float32),
        ("sigmoid_every_1", 8, [3, 7, 4], "sigmoid", 1, np.float64),
        ("tanh_every_l", 1, [6, 3, 4, 5, 2], "tanh", 4, np.float32),
        ("tanh_every_3", 6, [5, 4, 4, 4, 4, 4, 3], "tanh", 3, np.float64),
    ]
    cases = []
    for name, n, sizes, activation, every, dtype in shapes:
        X, y, weights = _mlp_problem(_rng(seed, function, name), n, sizes, dtype)
        label = f"{_mlp_label(n, sizes, activation, dtype)}, every={every}"
        cases.append(Case(name, label, [X, y, weights, activation, every], batch=n))
    X, y, weights = _mlp_problem(_rng(seed, function, "numeric"), 3, [3, 4, 4, 3], np.float64)

    def loss(X, y, weights, activation="tanh", every=2):
        return nnlib.softmax_loss(nnlib.mlp_forward(X, weights, activation)[0], y)

    cases.append(
        _numeric(
            function,
            "numeric",
            [X, y, weights, "tanh", 2],
            loss,
            [(f"return.{i}", (2, i)) for i in range(3)],
            "central differences in every W_i, N=3, layers [3, 4, 4, 3], tanh, every=2, float64",
        )
    )
    return cases


def _bias_problem(rng, n, d, h, c, dtype):
    for _ in range(100):  # every row has a clearly active hidden unit (see _two_layer_problem)
        X = rng.standard_normal((n, d))
        W1 = rng.standard_normal((d, h)) / np.sqrt(d)
        b1 = 0.3 * rng.standard_normal(h)
        if np.min(np.max(X @ W1 + b1, axis=1)) > 0.1:
            break
    W2 = rng.standard_normal((h, c)) / np.sqrt(h)
    b2 = 0.3 * rng.standard_normal(c)
    params = [W.astype(dtype) for W in (W1, b1, W2, b2)]
    return [X.astype(dtype), _labels(rng, n, c), *params]


def _bias_cases(seed, function):
    cases = []
    for name, n, d, h, c, dtype in [
        ("small", 6, 5, 4, 3, np.float32),
        ("float64", 11, 7, 9, 4, np.float64),
        ("one_row", 1, 3, 5, 2, np.float32),
    ]:
        args = _bias_problem(_rng(seed, function, name), n, d, h, c, dtype)
        cases.append(Case(name, f"N={n}, D={d}, H={h}, C={c}, {_name(dtype)}", args, batch=n))

    def loss(X, y, W1, b1, W2, b2):
        return nnlib.softmax_loss(np.maximum(X @ W1 + b1, 0) @ W2 + b2, y)

    args = _bias_problem(_rng(seed, function, "numeric"), 3, 3, 4, 3, np.float64)
    cases.append(
        _numeric(
            function,
            "numeric",
            args,
            loss,
            [(f"return.{i}", (i + 2,)) for i in range(4)],
            "central differences in W1, b1, W2 and b2, N=3, D=3, H=4, C=3, float64",
        )
    )
    return cases


#: Library functions of earlier tasks that the child replaces by its own right versions while
#: it runs a task, so that the task is graded on its own code (``runner.py``): a student who
#: calls their softmax_loss_grad inside mlp_gradients_checkpointed, or their
#: topological_order inside backward, is not charged twice.
REPLACED = {
    "backward": ("topological_order",),
    "mlp_gradients_checkpointed": ("softmax_loss_grad", "softmax"),
    "nn_gradients_bias": ("softmax_loss_grad", "softmax"),
}

_EPOCH_HELPERS = {
    "softmax_regression_epoch": ("softmax_regression_grad", "theta"),
    "nn_epoch": ("nn_gradients", "two_layer"),
    "mlp_epoch": ("mlp_gradients", "weights"),
}


def _cases_for(task: Task, seed: int) -> list:
    f = task.function
    if f in ("topological_order", "backward"):
        return _graph_cases(seed, f)
    if task.module == "autodiff":
        return _vjp_cases(seed, f)
    if f == "mlp_gradients_checkpointed":
        return _checkpoint_cases(seed, f)
    if f == "nn_gradients_bias":
        return _bias_cases(seed, f)
    if task.module == "losses" or f == "softmax_loss_grad_naive":
        return _losses_spec(seed, task)
    if f.startswith("softmax_regression_grad"):
        return _regression_grad_cases(seed, f)
    if f.startswith("nn_gradients"):
        return _nn_grad_cases(seed, f)
    if f in _EPOCH_HELPERS:
        return _epoch_cases(seed, f, *_EPOCH_HELPERS[f])
    if f.startswith("mlp_"):
        return _mlp_cases(seed, f)
    if task.module == "activations":
        return _activation_cases(seed, f)
    return _feature_cases(seed, f)


def _numeric_agrees(function: str, case: Case) -> bool:
    """Whether the reference's own gradient matches the central differences of ``case``
    (a draw that lands next to a kink of ReLU would fail a correct student)."""
    from .diagnose import close

    got = run_reference(function, case)
    return all(close(got[k], want, 1e-5, 1e-8) for k, want in case.expected.items())


def _build_cases(task: Task, seed: int) -> list:
    for attempt in range(8):
        cases = _cases_for(task, seed + attempt * 7919)
        numeric = [c for c in cases if c.kind == "numeric"]
        if all(_numeric_agrees(task.function, c) for c in numeric):
            return cases
    raise RuntimeError(f"no usable numeric case for {task.function} from seed {seed}")


@cache
def task_specs(seed: int = SEED) -> tuple:
    """Every task's cases with reference outputs, built once per process and seed.

    Parameters
    ----------
    seed : int
        Non-negative, below 2**64. Grading draws a fresh one per run (see ``grade.py``), so a
        table of answers keyed by inputs seen before scores nothing; the record keeps it, so
        a grade can be reproduced.
    """
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    specs = []
    for task in TASKS:
        cases = _build_cases(task, seed)
        for case in cases:
            if case.kind == "values":
                case.expected = run_reference(task.function, case)
        modules = {task.module}
        if task.module in ("mlp", "naive") or task.function == "mlp_gradients_naive":
            modules.add("mlp")  # MLPCache arguments are built from the student's class
        specs.append(TaskSpec(task, tuple(sorted(modules)), cases))
    return tuple(specs)


# ---------------------------------------------------------------------------- output names

_RETURN_NAMES = {
    "softmax": "S",
    "log_softmax": "log S",
    "softmax_loss": "the loss",
    "softmax_loss_grad": "dZ",
    "softmax_loss_grad_naive": "dZ",
    "softmax_regression_grad": "dtheta",
    "softmax_regression_grad_naive": "dtheta",
    "radial_features": "the features",
    "random_relu_features": "the features",
    "relu": "ReLU(Z)",
    "relu_grad": "ReLU'(Z)",
    "relu_vjp": "dA",
    "sigmoid_vjp": "dA",
    "tanh_vjp": "dA",
    "softmax_cross_entropy_vjp": "dlogits",
    "topological_order": "the order",
}
_TUPLE_NAMES = {
    "matmul_vjp": ("dA", "dB"),
    "add_vjp": ("da", "db"),
    "nn_gradients_bias": ("dW1", "db1", "dW2", "db2"),
    "nn_gradients": ("dW1", "dW2"),
    "nn_gradients_naive": ("dW1", "dW2"),
    "mlp_forward": ("logits", "cache"),
}
_CACHE_FIELDS = ("inputs", "preactivations")


def output_label(function: str, flat: str) -> str:
    """The name a student knows an output by: ``return.0`` of nn_gradients is ``dW1``,
    ``arg2`` of nn_epoch is ``W1``, ``return.1`` of mlp_backward is ``dW2``."""
    parts = flat.split(".")
    head, rest = parts[0], [int(p) for p in parts[1:] if p.isdigit()]
    if head.startswith("arg"):
        index = int(head[3:])
        params = list(inspect.signature(getattr(nnlib, function)).parameters)
        name = params[index] if index < len(params) else head
        if name == "weights" and rest:
            return f"W{rest[0] + 1}"
        return name
    if function in _RETURN_NAMES and not rest:
        return _RETURN_NAMES[function]
    mlps = ("mlp_backward", "mlp_gradients", "mlp_gradients_naive", "mlp_gradients_checkpointed")
    if function in mlps and len(rest) == 1:
        return f"dW{rest[0] + 1}"
    names = _TUPLE_NAMES.get(function)
    if names and rest and rest[0] < len(names):
        if names[rest[0]] == "cache" and len(rest) == 3 and rest[1] < len(_CACHE_FIELDS):
            return f"cache.{_CACHE_FIELDS[rest[1]]}[{rest[2]}]"
        if len(rest) == 1:
            return names[rest[0]]
    return "the result" if flat == "return" else flat
