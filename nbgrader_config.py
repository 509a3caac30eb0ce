"""nbgrader configuration of this checkout's term: nbgrader reads it from the folder it runs in.

Every ``make`` target of the instructor's term runs from the kit root, where nbgrader finds this
file (nbgrader 0.9 has no ``--config`` option: it looks for ``nbgrader_config.py`` in the working
directory). The grading semantics (ignored files, the 120 s per-cell timeout, the stubs) live in
``autograder/nbgrader_config.py``, loaded first; this file only says where the term lives:

- ``grading/``: the course folder, with ``gradebook.db``, ``submitted/``, ``autograded/`` and
  ``feedback/`` (``make clean`` never deletes it);
- ``solutions/`` and ``notebooks/``: the source and release notebooks, at the kit root.
"""

from pathlib import Path

c = get_config()  # noqa: F821  (nbgrader's config loader provides get_config)
KIT = Path(__file__).resolve().parent

SEMANTICS = KIT / "autograder" / "nbgrader_config.py"
if not SEMANTICS.is_file():  # load_subconfig would skip a missing file without a word
    raise FileNotFoundError(f"nbgrader configuration not found: {SEMANTICS}")
load_subconfig(SEMANTICS.name, path=str(SEMANTICS.parent))  # noqa: F821

c.CourseDirectory.root = str(KIT / "grading")
c.CourseDirectory.source_directory = str(KIT / "solutions")
c.CourseDirectory.release_directory = str(KIT / "notebooks")
