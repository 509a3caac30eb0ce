"""What the kit's nbgrader configuration (``autograder/nbgrader_config.py``) sets, read as
nbgrader reads it, for tests that hold the student's side to the grader's."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def grader_cell_timeout() -> int:
    """``c.Execute.timeout``: the seconds each cell may run when notebooks are graded."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()
    return config.Execute.timeout
