"""The student's loop in a real kernel: edit src/nnlib, re-run the check cell, see the edit.

One kernel (jupyter_client) stays alive for the whole test, as JupyterLab's does, in a copy of
the student's library (the stubs). It runs notebook 01's own setup cell, then the check cell of
``softmax_loss_grad`` after each edit of ``src/nnlib/losses.py``: the stub, the function
written, a bug (no 1/N), a crash. No kernel restart in between.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from autograder.student_copy import make_student_copy, solution_lines, stub_message

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_linear_classifiers" / "01_linear_classifiers.ipynb"
CHECK_CELL = "checks.check_softmax_loss_grad()"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _setup_cell() -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = next(c for c in cells if c["cell_type"] == "code")
    return "".join(code["source"])


def _solution(function: str) -> list[str]:
    """The reference body of ``function`` (its solution block), as indented lines."""
    source = (ROOT / "src" / "nnlib" / "losses.py").read_text()
    block = source.split(f"def {function}(", 1)[1]
    block = block.split("### BEGIN SOLUTION\n", 1)[1].split("    ### END SOLUTION", 1)[0]
    wrapped = f"def f():\n    ### BEGIN SOLUTION\n{block}    ### END SOLUTION\n"
    assert [ln.strip() for ln in block.splitlines() if ln.strip()] == [
        ln for ln in solution_lines(wrapped) if ln
    ], "the test should copy exactly the solution block"
    return block.splitlines(keepends=True)


class Kernel:
    """A live IPython kernel; :meth:`run` executes one cell and returns its outputs."""

    def __init__(self, cwd: Path, env: dict):
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(
            kernel_name="python3", cwd=str(cwd), env=env, startup_timeout=120
        )

    def run(self, code: str, timeout: float = 120) -> dict:
        msg_id = self.client.execute(code)
        out = {"stdout": "", "error": None}
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out["stdout"] += content["text"]
            elif kind == "error":
                out["error"] = content
            elif kind == "status" and content["execution_state"] == "idle":
                return out

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def student(tmp_path):
    make_student_copy(ROOT / "src" / "nnlib", tmp_path / "src" / "nnlib")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        PYTHONPATH=str(tmp_path / "src"),
        OPENBLAS_NUM_THREADS="1",
        MPLBACKEND="agg",
        NNLIB_QUICK="1",
    )
    kernel = Kernel(tmp_path, env)
    try:
        yield tmp_path / "src" / "nnlib" / "losses.py", kernel
    finally:
        kernel.close()


def _write_body(path: Path, function: str, body: list[str]) -> None:
    """Replace the stub of ``function`` in ``path`` by ``body``, as a student would."""
    text = path.read_text()
    head, rest = text.split(f"def {function}(", 1)
    stub = f"    raise NotImplementedError(\n        {stub_message(function)!r}\n    )\n"
    assert stub in rest, f"the stub of {function} is not where a student would find it"
    time.sleep(0.05)  # a new modification time even on a coarse clock
    path.write_text(head + f"def {function}(" + rest.replace(stub, "".join(body), 1))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    time.sleep(0.05)
    path.write_text(text.replace(old, new, 1))


def _trace(error: dict) -> str:
    return ANSI.sub("", "\n".join(error["traceback"]))


def test_an_edit_is_used_by_the_next_run_of_the_check_cell(student):
    losses, kernel = student
    setup = kernel.run(_setup_cell())
    assert setup["error"] is None, setup["error"]
    assert "%autoreload 3" in _setup_cell(), "notebook 01's setup cell must turn autoreload on"
    imported = kernel.run("import nnlib; print(nnlib.__file__)")
    assert str(losses.parent) in imported["stdout"], "the kernel imported the wrong nnlib"

    # 1. the stub: its own message
    first = kernel.run(CHECK_CELL)
    assert first["error"]["ename"] == "NotImplementedError", first
    assert first["error"]["evalue"] == stub_message("softmax_loss_grad")

    # 2. written (with softmax, which it calls): the same cell passes, no restart
    _write_body(losses, "softmax", _solution("softmax"))
    _write_body(losses, "softmax_loss_grad", _solution("softmax_loss_grad"))
    second = kernel.run(CHECK_CELL)
    assert second["error"] is None, _trace(second["error"])
    assert second["stdout"].startswith("✓ softmax_loss_grad"), second["stdout"]

    # 3. a bug: the mean becomes a sum. The check names it, and shows only its message.
    _edit(losses, "    G /= Z.shape[0]", "    pass  # G /= Z.shape[0]")
    third = kernel.run(CHECK_CELL)
    assert third["error"] is not None, "the check passed the old code: the edit was not seen"
    assert third["error"]["ename"] == "CheckFailed"
    assert "dZ is N = 7 times too large" in third["error"]["evalue"]
    assert "checks.py" not in _trace(third["error"]), "the check's own frames were shown"

    # 4. a crash in the student's code: their line is shown, the check's frames are not
    _edit(losses, "    pass  # G /= Z.shape[0]", "    G = G[:, Z.shape[1] + 3, None]")
    fourth = kernel.run(CHECK_CELL)
    trace = _trace(fourth["error"])
    assert fourth["error"]["ename"] == "IndexError", trace
    assert "losses.py" in trace and "G = G[:, Z.shape[1] + 3, None]" in trace, trace
    assert "checks.py" not in trace and "skipping hidden" in trace, trace
    assert "check_softmax_loss_grad" in trace, "the note should say which check called it"

    # 5. fixed again: passes
    _edit(losses, "    G = G[:, Z.shape[1] + 3, None]", "    G /= Z.shape[0]")
    assert kernel.run(CHECK_CELL)["error"] is None


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_every_notebook_turns_autoreload_on_in_its_first_code_cell():
    for path in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        lines = [line.strip() for line in first.splitlines()]
        assert "%load_ext autoreload" in lines and "%autoreload 3" in lines, path.name
        assert lines.index("%autoreload 3") < next(
            i for i, line in enumerate(lines) if line.startswith(("import", "from"))
        ), f"{path.name}: autoreload must be on before nnlib is imported"
