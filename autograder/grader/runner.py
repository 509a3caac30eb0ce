"""The child side of the grader: runs a student's functions and writes their outputs as .npy.

This file is copied into the sandbox; ``launcher.py`` sets the sandbox up and then runs it
with a separate interpreter (``python -I -S -B runner.py <numpy site dir> <status fd>``). It
imports only the standard library and numpy, never the reference ``nnlib`` or the grader.

Protocol. ``plan.json`` (next to this file) lists the task calls still to run. For each task
the runner writes ``start <task>`` and ``done <task>`` lines to the status pipe, so the parent
can tell which task hung or crashed; outputs go to ``out/<task>/<case>/`` as ``*.npy`` plus a
``meta.json``. Nothing on stdout is ever read as a result: the parent trusts only arrays it
parses itself, and it judges them against references the child never sees.
"""

import builtins
import importlib
import json
import os
import resource
import sys
import traceback
import types

# Keep the real objects before any student code runs: a student module may monkeypatch
# builtins or numpy, but these names in this file keep pointing at the originals.
_type, _isinstance, _len, _repr, _str = type, isinstance, len, repr, str
_getpid, _exit, _write, _open = os.getpid, os._exit, os.write, builtins.open
_MAX_ELEMENTS = 2_000_000
_MAX_ARRAYS = 32


def _snapshot(modules):
    return [(m, dict(m.__dict__)) for m in modules]


def _restore(snapshot):
    """Undo monkeypatching of the modules the runner itself relies on (builtins, numpy, ...)."""
    for module, saved in snapshot:
        current = module.__dict__
        for key, value in saved.items():
            if current.get(key) is not value:
                current[key] = value


def _fail_fast(main_pid):
    """A forked copy of this process (a fork bomb) must not run the rest of the plan."""
    if _getpid() != main_pid:
        _exit(0)


def _build_arg(spec, np, modules, folder):
    kind = spec["kind"]
    if kind == "array":
        return np.load(os.path.join(folder, spec["file"]), allow_pickle=False)
    if kind == "list":
        return [_build_arg(item, np, modules, folder) for item in spec["items"]]
    if kind == "value":
        return spec["value"]
    if kind == "tuple":
        return tuple(spec["value"])
    if kind == "graph":
        return _build_graph(spec["nodes"], np, modules["autodiff"].Node, folder)
    if kind == "mlpcache":
        cls = modules["mlp"].MLPCache
        return cls(
            _build_arg(spec["inputs"], np, modules, folder),
            _build_arg(spec["preactivations"], np, modules, folder),
            spec["activation"],
        )
    raise ValueError(f"unknown argument kind {kind!r}")


# The graphs of backward and topological_order: made-up linear operations whose vjps are
# written here, so that grading backward needs none of the student's vjps. The nodes of the
# graph built last, by name, for reading their gradients after the call.
_GRAPH = []


def _graph_vjp(kind, maps, count):
    if kind == "pass":
        return lambda G: (G,) * count
    if kind == "loss":
        return lambda g: tuple(g * M for M in maps)
    return lambda G: tuple(G * M for M in maps)


def _build_graph(items, np, node_class, folder):
    nodes = []
    for item in items:
        value = np.load(os.path.join(folder, item["value"]), allow_pickle=False)
        maps = [np.load(os.path.join(folder, f), allow_pickle=False) for f in item["maps"]]
        parents = tuple(nodes[k] for k in item["parents"])
        vjp = None if item["kind"] == "leaf" else _graph_vjp(item["kind"], maps, _len(parents))
        nodes.append(node_class(value, parents, item["kind"] + " " + item["name"], vjp))
    _GRAPH[:] = [(item["name"], node) for item, node in zip(items, nodes, strict=True)]
    return nodes[-1]


def _graph_outputs(np, mode, result):
    """Node gradients by name (backward), or the listed nodes as indices (topological_order)."""
    outputs = {}
    if mode == "grads":
        for name, node in _GRAPH:
            _flatten(getattr(node, "grad", None), np, name + ".grad", outputs)
        return outputs
    if not _isinstance(result, (list, tuple)):
        raise TypeError(f"returned a {_type(result).__name__}, expected a list of Nodes")
    if _len(result) > _MAX_ELEMENTS:
        raise ValueError("returned far more items than the graph has nodes")
    index = {id(node): k for k, (_, node) in enumerate(_GRAPH)}
    outputs["return"] = np.array([index.get(id(item), -1) for item in result], dtype=np.int64)
    return outputs


# Right versions of earlier tasks' functions (``replacements.py``), installed while a task
# that may call them runs (cases.REPLACED): a task is graded on its own code. The file is
# there only in a child that runs nothing but such tasks; it is loaded before any student
# code runs.
_REPLACEMENTS = {}


def _load_replacements(here):
    path = os.path.join(here, "replacements.py")
    if not os.path.exists(path):
        return
    namespace = {"__name__": "replacements"}
    with _open(path) as f:
        exec(compile(f.read(), path, "exec"), namespace)
    _REPLACEMENTS.update(namespace["REPLACEMENTS"])


def _install(np, module, names):
    """Install the replacements; return what to put back."""
    saved = []
    targets = [module, sys.modules.get("nnlib.losses")]
    for target in [t for t in targets if t is not None]:
        for name in names:
            if name in _REPLACEMENTS and hasattr(target, name):
                saved.append((target, name, getattr(target, name)))
                fn = _REPLACEMENTS[name]
                setattr(target, name, lambda *a, _fn=fn, **k: _fn(np, *a, **k))
    return saved


def _flatten(value, np, name, out, depth=0):
    """Turn a return value into named plain arrays; record what could not be converted."""
    if _len(out) >= _MAX_ARRAYS or depth > 3:
        raise ValueError("the return value holds too many or too deeply nested arrays")
    if _isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {value.dtype}; expected a numeric array")
        if value.size > _MAX_ELEMENTS:
            raise ValueError(f"{name} has {value.size} elements, far more than expected")
        # np.array(..., subok=False) copies the raw data into a plain ndarray: whatever an
        # ndarray subclass claims about itself (__eq__, __array_ufunc__) plays no part.
        out[name] = np.array(value, copy=True, subok=False)
        return
    if _type(value) in (bool, int, float) or _isinstance(value, (np.floating, np.integer)):
        out[name] = np.array(value)
        return
    if _isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            if _isinstance(item, _str):
                continue  # e.g. the activation name inside MLPCache
            _flatten(item, np, f"{name}.{i}", out, depth + 1)
        return
    if value is None:
        out[name] = None
        return
    raise TypeError(
        f"{name} is a {_type(value).__module__}.{_type(value).__qualname__}, "
        "not a numpy array or number"
    )


def _save(np, folder, outputs, meta):
    os.makedirs(folder, exist_ok=True)
    kinds = {}
    for name, arr in outputs.items():
        if arr is None:
            kinds[name] = "None"
            continue
        with _open(os.path.join(folder, name + ".npy"), "wb") as f:
            np.lib.format.write_array(f, arr, allow_pickle=False)
        kinds[name] = "array"
    meta["outputs"] = kinds
    with _open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f)


# Probes stand in for a helper (e.g. nn_gradients) when an epoch is graded on its own loop:
# a deterministic function of the weights and the batch that is *not* the true gradient.
def _probe(np, X, y, weights):
    shift = float(np.mean(X, dtype=np.float64)) + 0.01 * float(np.mean(y, dtype=np.float64))
    return [(0.5 * W + shift).astype(W.dtype) for W in weights]


def _make_probe(np, kind):
    if kind == "theta":
        return lambda X, y, theta, *a, **k: _probe(np, X, y, [theta])[0]
    if kind == "two_layer":
        return lambda X, y, W1, W2, *a, **k: tuple(_probe(np, X, y, [W1, W2]))
    return lambda X, y, weights, *a, **k: _probe(np, X, y, list(weights))


def _error_text(exc):
    lines = traceback.format_exception(_type(exc), exc, exc.__traceback__)
    # Keep the student's frames only: drop the runner's own frames from the top.
    text = "".join(line for line in lines if "runner.py" not in line)
    return text[-3000:]


def main():
    site_dir, status_fd = sys.argv[1], int(sys.argv[2])
    here = os.path.dirname(os.path.abspath(__file__))
    sandbox = os.path.dirname(here)
    sys.path[:] = [p for p in sys.path if p != here] + [site_dir]
    _load_replacements(here)
    import numpy as np
    import numpy.lib.format

    snapshot = _snapshot(
        [
            builtins,
            os,
            os.path,
            json,
            np,
            np.lib,
            np.lib.format,
            importlib,
            traceback,
            resource,
            sys,
            types,
        ]
    )

    # A package object for nnlib that does not run the student's __init__.py: each task
    # imports only the modules it needs, so a broken module costs only its own tasks.
    package = types.ModuleType("nnlib")
    package.__path__ = [os.path.join(sandbox, "student", "nnlib")]
    package.__file__ = os.path.join(package.__path__[0], "__init__.py")
    sys.modules["nnlib"] = package

    with _open(os.path.join(here, "plan.json")) as f:
        plan = json.load(f)
    main_pid = _getpid()
    hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)[1]

    def status(line):
        _fail_fast(main_pid)
        _write(status_fd, (line + "\n").encode())

    for task in plan["tasks"]:
        status(f"start {task['name']}")
        used = resource.getrusage(resource.RUSAGE_SELF).ru_utime
        soft = int(used + task["cpu_seconds"]) + 1
        if hard_cpu != resource.RLIM_INFINITY:
            soft = min(soft, hard_cpu)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard_cpu))
        modules = {}
        import_error = None
        for module in task["modules"]:
            status(f"import {module}")
            try:
                modules[module] = importlib.import_module(f"nnlib.{module}")
            except BaseException as exc:  # SystemExit and KeyboardInterrupt included
                _fail_fast(main_pid)
                _restore(snapshot)
                import_error = f"importing nnlib/{module}.py failed:\n{_error_text(exc)}"
                break
            finally:
                _restore(snapshot)
        status("imported")
        for call in task["calls"]:
            folder = os.path.join(sandbox, "out", task["name"], call["case"])
            meta = {"function": call["function"]}
            if import_error is not None:
                meta["error"] = import_error
                _save(np, folder, {}, meta)
                continue
            try:
                module = modules[call["module"]]
                fn = getattr(module, call["function"])
                inputs = os.path.join(sandbox, "inputs", call["inputs"])
                _GRAPH[:] = []  # filled by a graph argument
                args = [_build_arg(a, np, modules, inputs) for a in call["args"]]
                kwargs = {k: _build_arg(v, np, modules, inputs) for k, v in call["kwargs"].items()}
                patch, original = call.get("probe"), None
                if patch is not None:
                    code = getattr(fn, "__code__", None)
                    if code is None or patch["name"] not in code.co_names:
                        meta["probe"] = "not used"
                        _save(np, folder, {}, meta)
                        continue
                    original = getattr(module, patch["name"], None)
                    setattr(module, patch["name"], _make_probe(np, patch["kind"]))
                replaced = _install(np, module, call.get("replace") or ())
                try:
                    result = fn(*args, **kwargs)
                finally:
                    _fail_fast(main_pid)
                    _restore(snapshot)
                    if patch is not None:
                        setattr(module, patch["name"], original)
                    for target, name, value in replaced:
                        setattr(target, name, value)
                outputs = {}
                if call.get("graph"):
                    outputs = _graph_outputs(np, call["graph"], result)
                else:
                    _flatten(result, np, "return", outputs)
                for index in call["inplace"]:
                    _flatten(args[index], np, f"arg{index}", outputs)
                _save(np, folder, outputs, meta)
            except BaseException as exc:
                _fail_fast(main_pid)
                _restore(snapshot)
                meta["error"] = _error_text(exc)
                try:
                    _save(np, folder, {}, meta)
                except BaseException:
                    pass
        status(f"done {task['name']}")
    status("end")


if __name__ == "__main__":
    main()
