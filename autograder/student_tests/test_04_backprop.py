"""Visible tests of notebook 04_backprop: the L-layer network: forward, backward, epoch.

Each test runs the check of one function (``nnlib.checks``) on small inputs; its message
names the likely mistake. Run one task with ``pytest -m task_<function>``.
"""

import pytest

from nnlib import checks


@pytest.mark.task_mlp_forward
def test_mlp_forward():
    checks.check_mlp_forward()


@pytest.mark.task_mlp_backward
def test_mlp_backward():
    checks.check_mlp_backward()


@pytest.mark.task_mlp_gradients_naive
def test_mlp_gradients_naive():
    checks.check_mlp_gradients_naive()


@pytest.mark.task_mlp_epoch
def test_mlp_epoch():
    checks.check_mlp_epoch()
