"""Visible tests of notebook 06_autodiff: the reverse-mode tape, checkpointing, biases.

Each test runs the check of one function (``nnlib.checks``) on small inputs; its message
names the likely mistake. Run one task with ``pytest -m task_<function>``. The checks of
``topological_order`` and ``backward`` use small made-up graphs (a diamond, a node used twice),
so they test your backward pass without your vjps.
"""

import pytest

from nnlib import checks


@pytest.mark.task_matmul_vjp
def test_matmul_vjp():
    checks.check_matmul_vjp()


@pytest.mark.task_add_vjp
def test_add_vjp():
    checks.check_add_vjp()


@pytest.mark.task_relu_vjp
def test_relu_vjp():
    checks.check_relu_vjp()


@pytest.mark.task_sigmoid_vjp
def test_sigmoid_vjp():
    checks.check_sigmoid_vjp()


@pytest.mark.task_tanh_vjp
def test_tanh_vjp():
    checks.check_tanh_vjp()


@pytest.mark.task_softmax_cross_entropy_vjp
def test_softmax_cross_entropy_vjp():
    checks.check_softmax_cross_entropy_vjp()


@pytest.mark.task_topological_order
def test_topological_order():
    checks.check_topological_order()


@pytest.mark.task_backward
def test_backward():
    checks.check_backward()


@pytest.mark.task_mlp_gradients_checkpointed
def test_mlp_gradients_checkpointed():
    checks.check_mlp_gradients_checkpointed()


@pytest.mark.task_nn_gradients_bias
def test_nn_gradients_bias():
    checks.check_nn_gradients_bias()
