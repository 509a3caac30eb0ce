"""Quick mode: the notebooks' experiments at a reduced size, for graders and tests.

A notebook re-run by the grader (``make grade-notebooks``, nbgrader autograde) or by the test
suite only needs its checks and hidden tests; its experiments (sweeps over seeds, widths,
depths and epochs) are there for the student to read. With the environment variable
``NNLIB_QUICK=1`` set, the notebooks run each experiment at a smaller size, chosen in the
notebook itself on the lines that call ``nnlib.quick_mode()``; the numbers and plots then come
from that smaller run. A student's own run, the book and ``make course`` never set it.
"""

from __future__ import annotations

import os

QUICK_ENV = "NNLIB_QUICK"
"""Name of the environment variable that turns quick mode on (``1``, ``true`` or ``yes``)."""


def quick_mode() -> bool:
    """Whether the notebooks' experiments should run at their reduced size.

    Returns
    -------
    bool
        True when the environment variable ``NNLIB_QUICK`` is ``1``, ``true`` or ``yes``
        (any case); False when it is unset, empty, ``0``, ``false`` or ``no``.

    Raises
    ------
    ValueError
        For any other value, naming the variable and the value, so a typo does not silently
        run the full experiments in a grader (or the quick ones in a book).
    """
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    raise ValueError(f"{QUICK_ENV}={value!r} is not understood: use 1 (quick) or 0 (full)")
