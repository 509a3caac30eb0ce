"""Shared fixtures and the per-task pytest markers."""

import numpy as np
import pytest

from nnlib.tasks import TASKS


def pytest_configure(config):
    for task in TASKS:
        config.addinivalue_line(
            "markers", f"{task.marker}: tests of {task.function} ({task.path}, {task.notebook})"
        )


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
