"""Registers one pytest marker per task, so that ``pytest -m task_softmax`` runs one task."""

from nnlib.tasks import TASKS


def pytest_configure(config):
    for task in TASKS:
        config.addinivalue_line(
            "markers", f"{task.marker}: tests of {task.function} ({task.path}, {task.notebook})"
        )
