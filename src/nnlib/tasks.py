"""The student tasks of the library: which function, in which file, taught by which notebook.

One declaration serves three tools: the stub generator (its messages), the test suite (one
pytest marker per task, so ``pytest -m task_softmax_loss`` runs one task) and the grader.
"""

from __future__ import annotations

from typing import NamedTuple


class Task(NamedTuple):
    """One function a student implements.

    Attributes
    ----------
    function : str
        Name of the function in ``nnlib``.
    module : str
        Module file under ``src/nnlib/`` that holds it, e.g. ``"losses"``.
    notebook : str
        The notebook that explains it, e.g. ``"01_linear_classifiers"``.
    points : int
        Weight of the task in the library grade.
    """

    function: str
    module: str
    notebook: str
    points: int

    @property
    def marker(self) -> str:
        """The pytest marker of the task's tests, e.g. ``task_softmax_loss``."""
        return f"task_{self.function}"

    @property
    def path(self) -> str:
        """Path of the file to edit, relative to the project root."""
        return f"src/nnlib/{self.module}.py"


NOTEBOOKS = (
    "01_linear_classifiers",
    "02_nonlinear_features",
    "03_two_layer_network",
    "04_backprop",
    "05_fast_path",
    "06_autodiff",
)

TASKS: tuple[Task, ...] = (
    Task("softmax", "losses", NOTEBOOKS[0], 5),
    Task("log_softmax", "losses", NOTEBOOKS[0], 3),
    Task("softmax_loss", "losses", NOTEBOOKS[0], 5),
    Task("softmax_loss_grad", "losses", NOTEBOOKS[0], 10),
    Task("softmax_loss_grad_naive", "naive", NOTEBOOKS[0], 5),
    Task("softmax_regression_grad", "linear", NOTEBOOKS[0], 10),
    Task("softmax_regression_grad_naive", "naive", NOTEBOOKS[0], 5),
    Task("softmax_regression_epoch", "linear", NOTEBOOKS[0], 10),
    Task("radial_features", "features", NOTEBOOKS[1], 5),
    Task("random_relu_features", "features", NOTEBOOKS[1], 5),
    Task("relu", "activations", NOTEBOOKS[2], 3),
    Task("relu_grad", "activations", NOTEBOOKS[2], 2),
    Task("nn_gradients", "two_layer", NOTEBOOKS[2], 15),
    Task("nn_gradients_naive", "naive", NOTEBOOKS[2], 5),
    Task("nn_epoch", "two_layer", NOTEBOOKS[2], 10),
    Task("mlp_forward", "mlp", NOTEBOOKS[3], 10),
    Task("mlp_backward", "mlp", NOTEBOOKS[3], 15),
    Task("mlp_gradients_naive", "naive", NOTEBOOKS[3], 5),
    Task("mlp_epoch", "mlp", NOTEBOOKS[3], 10),
    Task("matmul_vjp", "autodiff", "06_autodiff", 4),
    Task("add_vjp", "autodiff", "06_autodiff", 4),
    Task("relu_vjp", "autodiff", "06_autodiff", 2),
    Task("sigmoid_vjp", "autodiff", "06_autodiff", 2),
    Task("tanh_vjp", "autodiff", "06_autodiff", 2),
    Task("softmax_cross_entropy_vjp", "autodiff", "06_autodiff", 4),
    Task("topological_order", "autodiff", "06_autodiff", 6),
    Task("backward", "autodiff", "06_autodiff", 10),
    Task("mlp_gradients_checkpointed", "checkpoint", "06_autodiff", 10),
    Task("nn_gradients_bias", "biases", "06_autodiff", 10),
)

TASKS_BY_FUNCTION: dict[str, Task] = {task.function: task for task in TASKS}
