"""Visible tests of notebook 01_linear_classifiers: softmax, cross-entropy, softmax regression.

Each test runs the check of one function (``nnlib.checks``) on small inputs; its message
names the likely mistake. Run one task with ``pytest -m task_<function>``.
"""

import pytest

from nnlib import checks


@pytest.mark.task_softmax
def test_softmax():
    checks.check_softmax()


@pytest.mark.task_log_softmax
def test_log_softmax():
    checks.check_log_softmax()


@pytest.mark.task_softmax_loss
def test_softmax_loss():
    checks.check_softmax_loss()


@pytest.mark.task_softmax_loss_grad
def test_softmax_loss_grad():
    checks.check_softmax_loss_grad()


@pytest.mark.task_softmax_loss_grad_naive
def test_softmax_loss_grad_naive():
    checks.check_softmax_loss_grad_naive()


@pytest.mark.task_softmax_regression_grad
def test_softmax_regression_grad():
    checks.check_softmax_regression_grad()


@pytest.mark.task_softmax_regression_grad_naive
def test_softmax_regression_grad_naive():
    checks.check_softmax_regression_grad_naive()


@pytest.mark.task_softmax_regression_epoch
def test_softmax_regression_epoch():
    checks.check_softmax_regression_epoch()
