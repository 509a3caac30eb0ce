"""Lay out what a child needs: the hidden inputs as ``.npy`` files and the plan of calls.

The inputs are written once per grading process and copied (read-only, owned by the
grader) into every child's folder, so no child can change what the next one reads; the plan
lists, per task, the calls to make and which arrays to return. No expected output is ever
written where a child could read it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from nnlib.checks import Graph

from .cases import REPLACED, Cache
from .sandbox import REPLACEMENTS, RUNNER


def _arg(value, folder: Path, name: str) -> dict:
    if isinstance(value, np.ndarray):
        np.save(folder / f"{name}.npy", value, allow_pickle=False)
        return {"kind": "array", "file": f"{name}.npy"}
    if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
        return {
            "kind": "list",
            "items": [_arg(v, folder, f"{name}_{i}") for i, v in enumerate(value)],
        }
    if isinstance(value, Cache):
        return {
            "kind": "mlpcache",
            "inputs": _arg(value.inputs, folder, f"{name}_inputs"),
            "preactivations": (
                _arg(value.preactivations, folder, f"{name}_pre")
                if value.preactivations
                else {"kind": "value", "value": []}
            ),
            "activation": value.activation,
        }
    if isinstance(value, Graph):
        nodes = []
        for k, (node, kind, parents, array, maps) in enumerate(zip(*value, strict=True)):
            np.save(folder / f"{name}_v{k}.npy", array, allow_pickle=False)
            for j, M in enumerate(maps):
                np.save(folder / f"{name}_m{k}_{j}.npy", M, allow_pickle=False)
            nodes.append(
                {
                    "name": node,
                    "kind": kind,
                    "parents": list(parents),
                    "value": f"{name}_v{k}.npy",
                    "maps": [f"{name}_m{k}_{j}.npy" for j in range(len(maps))],
                }
            )
        return {"kind": "graph", "nodes": nodes}
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return {"kind": "tuple", "value": list(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"kind": "value", "value": value}
    raise TypeError(f"cannot pass {type(value).__name__} to the child")


def write_inputs(specs, root: Path, task_cpu_seconds: int) -> dict:
    """Write every case's inputs under ``root``; return the plan entry of every task."""
    entries = {}
    for spec in specs:
        calls = []
        for case in spec.cases:
            rel = f"{spec.task.function}/{case.name}"
            folder = root / rel
            folder.mkdir(parents=True)
            companion = case.kind == "companion"
            calls.append(
                {
                    "case": case.name,
                    "module": spec.companion_module if companion else spec.task.module,
                    "function": case.function or spec.task.function,
                    "inputs": rel,
                    "args": [_arg(a, folder, f"a{i}") for i, a in enumerate(case.args)],
                    "kwargs": {k: _arg(v, folder, f"k_{k}") for k, v in case.kwargs.items()},
                    "inplace": list(case.inplace),
                    "probe": case.probe,
                    "graph": (
                        ("order" if spec.task.function == "topological_order" else "grads")
                        if case.args and isinstance(case.args[0], Graph)
                        else None
                    ),
                    "replace": list(REPLACED.get(spec.task.function, ())),
                }
            )
        entries[spec.task.function] = {
            "name": spec.task.function,
            "modules": list(spec.modules),
            "cpu_seconds": task_cpu_seconds,
            "calls": calls,
        }
    for dirpath, _, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o444)
    return entries


def _copy_tree(src: Path, dest: Path) -> None:
    for dirpath, _, files in os.walk(src):
        target = dest / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, 0o755)
        for name in files:
            shutil.copyfile(os.path.join(dirpath, name), target / name)
            os.chmod(target / name, 0o444)


def prepare_sandbox(sandbox_dir: Path, package: Path, inputs: Path, tasks: list) -> list:
    """Fill a fresh (possibly already created, empty) child folder; return the folders the
    child must be able to write."""
    sandbox_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(sandbox_dir, 0o700)
    student = sandbox_dir / "student"
    shutil.copytree(package, student / "nnlib")
    _copy_tree(inputs, sandbox_dir / "inputs")
    grader = sandbox_dir / ".grader"
    grader.mkdir(mode=0o755)
    shutil.copyfile(RUNNER, grader / "runner.py")
    (grader / "plan.json").write_text(json.dumps({"tasks": tasks}))
    files = [grader / "runner.py", grader / "plan.json"]
    replacing = [any(call["replace"] for call in task["calls"]) for task in tasks]
    if any(replacing):
        # Right versions of earlier functions: only for a plan made of the tasks that use them.
        if not all(replacing):
            raise ValueError("a plan mixes tasks graded with right versions and tasks without")
        shutil.copyfile(REPLACEMENTS, grader / "replacements.py")
        files.append(grader / "replacements.py")
    for path in files:
        os.chmod(path, 0o444)
    (sandbox_dir / "out").mkdir()
    return [student, sandbox_dir / "out"]
