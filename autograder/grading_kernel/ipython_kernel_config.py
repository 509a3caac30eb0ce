"""IPython configuration of the kernels that ``make grade-notebooks`` starts.

``autograder.notebook_grading`` copies this file into each student's scratch IPython folder
(``IPYTHONDIR``), so it applies to the grading kernels and to nothing else. The settings save
time that grading a class pays once per notebook and student, and change no score:

- figures are drawn once, at their own size: the inline backend's default ``bbox_inches="tight"``
  draws every figure a second time to trim its margins (about a sixth of a notebook's run);
- titles sit at the top of their axes (``axes.titley = 1.0``) instead of being placed above
  whatever is drawn there, which costs matplotlib a layout of every titled axes' ticks at each
  draw; the notebooks draw no tick labels on top of an axes, so the titles land where they would;
- no input history is written: nobody reads a grading kernel's history, and each kernel would
  otherwise open and write an SQLite file.
"""

c = get_config()  # noqa: F821  (IPython's config loader provides get_config)

c.InlineBackend.print_figure_kwargs = {"bbox_inches": None}
c.InlineBackend.rc = {"axes.titley": 1.0}
c.HistoryManager.enabled = False
