"""Shared fixtures and the per-task pytest markers."""

import numpy as np
import pytest

from nnlib.presubmit import skip_iri_grammar
from nnlib.tasks import TASKS

skip_iri_grammar()  # this process imports nbformat and nbgrader: seconds saved (see there)

# Their tests wait on the long background runs of tests/_notebook_runs.py.
_RUNS_MODULES = ("test_book.py", "test_notebooks.py")


def pytest_configure(config):
    for task in TASKS:
        config.addinivalue_line(
            "markers", f"{task.marker}: tests of {task.function} ({task.path}, {task.notebook})"
        )


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def pytest_collection_modifyitems(config, items):
    """Run the book's and the notebooks' tests last (the order is otherwise kept), so that
    their background runs, started as the session starts, overlap the rest of the suite."""
    items.sort(key=lambda item: item.path.name in _RUNS_MODULES)


@pytest.fixture(scope="session", autouse=True)
def _course_runs_in_background(request, tmp_path_factory):
    needed = any(item.path.name in _RUNS_MODULES for item in request.session.items)
    if needed:
        from _notebook_runs import begin_course_runs

        try:
            begin_course_runs(tmp_path_factory)
        except Exception:
            pass  # the tests that need the runs start them again and fail there, with the cause
    yield
    if needed:
        from _notebook_runs import stop_course_runs

        stop_course_runs()
