"""Visible tests of notebook 03_two_layer_network: ReLU and the two-layer network.

Each test runs the check of one function (``nnlib.checks``) on small inputs; its message
names the likely mistake. Run one task with ``pytest -m task_<function>``.
"""

import pytest

from nnlib import checks


@pytest.mark.task_relu
def test_relu():
    checks.check_relu()


@pytest.mark.task_relu_grad
def test_relu_grad():
    checks.check_relu_grad()


@pytest.mark.task_nn_gradients
def test_nn_gradients():
    checks.check_nn_gradients()


@pytest.mark.task_nn_gradients_naive
def test_nn_gradients_naive():
    checks.check_nn_gradients_naive()


@pytest.mark.task_nn_epoch
def test_nn_epoch():
    checks.check_nn_epoch()
