"""Visible tests of notebook 02_nonlinear_features: feature maps.

Each test runs the check of one function (``nnlib.checks``) on small inputs; its message
names the likely mistake. Run one task with ``pytest -m task_<function>``.
"""

import pytest

from nnlib import checks


@pytest.mark.task_radial_features
def test_radial_features():
    checks.check_radial_features()


@pytest.mark.task_random_relu_features
def test_random_relu_features():
    checks.check_random_relu_features()
