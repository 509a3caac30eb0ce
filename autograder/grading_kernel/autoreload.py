"""The ``autoreload`` extension of the grading kernels: it loads, and reloads nothing.

The notebooks' first cell runs ``%load_ext autoreload`` and ``%autoreload 3`` so that a student's
saved edits in ``src/nnlib`` reach the running kernel. IPython's ``%load_ext name`` imports a
module called ``name`` before its own ``IPython.extensions.name``, and ``make grade-notebooks``
puts this folder first on the grading kernels' ``PYTHONPATH``; so there ``%autoreload 3`` is
accepted and does nothing. Nothing is edited while a notebook is graded, and IPython's extension
would otherwise check every imported module for changes before each cell (about a second of CPU
per notebook).
"""


def load_ipython_extension(ipython):
    """Register ``%autoreload`` as a line magic that accepts any mode and does nothing."""
    ipython.register_magic_function(_autoreload, "line", "autoreload")


def _autoreload(line=""):
    """Nothing to reload: grading runs against files that do not change."""
