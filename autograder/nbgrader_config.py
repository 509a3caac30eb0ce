"""nbgrader configuration of Manual Neural Networks.

nbgrader reads this file through ``nbgrader_config.py`` at the kit root (nbgrader looks for that
name in the folder it runs in; every ``make`` target runs from the kit root, and that file also
moves the course folder to ``grading/``), or when it is named by
``--NbGrader.config_file=autograder/nbgrader_config`` (the release script and the tests do so;
nbgrader 0.9 has no ``--config`` option). Paths here are
relative to the repository root:

- ``solutions/<NN_name>/<NN_name>.ipynb``: the source notebooks (solutions, hidden tests);
- ``notebooks/<NN_name>/<NN_name>.ipynb``: the released student notebooks (generated, committed);
- ``submitted/``, ``autograded/``, ``feedback/`` and ``gradebook.db``: nbgrader's defaults under the
  course root (``grading/`` for the make targets).

Notebook grading runs against the reference ``nnlib`` installed in the grading environment, never a
student's copy: ``CourseDirectory.ignore`` keeps any Python module or ``nnlib`` folder that comes
with a submission out of the autograded folder, so ``import nnlib`` in the grading kernel finds the
installed package. A bug in a student's library code therefore costs points once, in the library
grade, and not again in every notebook cell that calls it.
"""

from pathlib import Path

c = get_config()  # noqa: F821  (nbgrader's config loader provides get_config)

ROOT = Path(__file__).resolve().parent.parent

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "manual-neural-networks"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    # never let a submission shadow the reference library in the grading kernel
    "nnlib",
    "src",
    "*.py",
    "*.pth",
]

# Per-cell timeout of notebook execution (validate, autograde), in seconds. On the bundled digits
# the slowest cell of any notebook takes well under 15 s on 2 cores (about 30 s on a loaded
# machine); 120 s leaves room for a slow grading machine and for a student who switched 03 to
# MNIST-format data, while an endless loop in an answer cell costs at most two minutes.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# Once the last cell has run, its outputs are in: stop the kernel at once. nbclient's default
# "graceful" shutdown asks the kernel to exit and waits for it, and a kernel that has imported
# tqdm's notebook widgets (nnlib does) often takes 2.5 s to exit, until jupyter_client sends
# SIGTERM: seconds lost per notebook, per student.
c.Execute.shutdown_kernel = "immediate"

# The stub that replaces every solution region of an answer cell in the student version.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
