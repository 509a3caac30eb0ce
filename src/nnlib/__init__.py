"""nnlib: neural networks by hand, in numpy — the reference library of Manual Neural Networks.

Each core computation comes vectorized over a minibatch (``losses``, ``linear``,
``two_layer``, ``mlp``: the reference solutions of the course, written as it derives them) and
as a loop-over-examples twin (``naive``). The same epochs tuned to run near the speed of their
matrix products live in ``nnlib.fast``, which ``import nnlib`` does not import (it is not part
of the student bundle). ``gradcheck`` differentiates numerically,
``checks`` holds the checks a student runs right after writing a function, ``data`` loads the
data sets, ``init`` draws initial weights, ``training`` runs epochs with a progress bar and
``plotting`` draws the results (``plotting`` is not imported here, so nnlib works without a
display). Notebook 06 adds ``autodiff`` (a small reverse-mode automatic differentiation over
matrices; its operations stay under ``nnlib.autodiff``), ``checkpoint`` (backward passes that
recompute instead of caching) and ``biases`` (the two-layer network with biases).
"""

from .activations import (
    ACTIVATIONS,
    Activation,
    get_activation,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    tanh,
    tanh_grad,
)
from .autodiff import (
    Node,
    add_vjp,
    backward,
    matmul_vjp,
    mlp_gradients_autodiff,
    relu_vjp,
    sigmoid_vjp,
    softmax_cross_entropy_vjp,
    tanh_vjp,
    topological_order,
    variable,
)
from .biases import nn_epoch_bias, nn_gradients_bias
from .checkpoint import mlp_gradients_checkpointed, mlp_gradients_recompute
from .data import (
    DATASET_NAMES,
    Dataset,
    find_fashion_mnist_dir,
    find_mnist_dir,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    make_blobs,
    make_circles,
    make_spirals,
    make_xor,
    parse_mnist,
    train_test_split,
    validation_split,
)
from .features import radial_features, random_projection, random_relu_features
from .gradcheck import GradientCheck, check_gradient, numerical_gradient, relative_error
from .init import INIT_FOR_ACTIVATION, he_std, init_weights, xavier_std
from .linear import softmax_regression_epoch, softmax_regression_grad
from .losses import log_softmax, loss_err, one_hot, softmax, softmax_loss, softmax_loss_grad
from .mlp import MLPCache, init_mlp, mlp_backward, mlp_epoch, mlp_forward, mlp_gradients
from .naive import (
    mlp_gradients_naive,
    nn_gradients_naive,
    softmax_loss_grad_naive,
    softmax_regression_grad_naive,
)
from .quick import QUICK_ENV, quick_mode
from .tasks import TASKS, Task
from .timing import (
    Timing,
    blas_info,
    describe_blas,
    gemm_floor_epoch,
    peak_allocation_bytes,
    peak_rss_bytes,
    time_callable,
    time_interleaved,
)
from .training import History, train_mlp, train_nn, train_softmax
from .two_layer import nn_epoch, nn_gradients

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "DATASET_NAMES",
    "INIT_FOR_ACTIVATION",
    "QUICK_ENV",
    "TASKS",
    "Activation",
    "Dataset",
    "GradientCheck",
    "History",
    "MLPCache",
    "Node",
    "Task",
    "Timing",
    "add_vjp",
    "backward",
    "blas_info",
    "check_gradient",
    "describe_blas",
    "find_fashion_mnist_dir",
    "find_mnist_dir",
    "gemm_floor_epoch",
    "get_activation",
    "he_std",
    "init_mlp",
    "init_weights",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "log_softmax",
    "loss_err",
    "make_blobs",
    "make_circles",
    "make_spirals",
    "make_xor",
    "matmul_vjp",
    "mlp_backward",
    "mlp_epoch",
    "mlp_forward",
    "mlp_gradients",
    "mlp_gradients_autodiff",
    "mlp_gradients_checkpointed",
    "mlp_gradients_naive",
    "mlp_gradients_recompute",
    "nn_epoch",
    "nn_epoch_bias",
    "nn_gradients",
    "nn_gradients_bias",
    "nn_gradients_naive",
    "numerical_gradient",
    "one_hot",
    "parse_mnist",
    "peak_allocation_bytes",
    "peak_rss_bytes",
    "quick_mode",
    "radial_features",
    "random_projection",
    "random_relu_features",
    "relative_error",
    "relu",
    "relu_grad",
    "relu_vjp",
    "sigmoid",
    "sigmoid_grad",
    "sigmoid_vjp",
    "softmax",
    "softmax_cross_entropy_vjp",
    "softmax_loss",
    "softmax_loss_grad",
    "softmax_loss_grad_naive",
    "softmax_regression_epoch",
    "softmax_regression_grad",
    "softmax_regression_grad_naive",
    "tanh",
    "tanh_grad",
    "tanh_vjp",
    "time_callable",
    "time_interleaved",
    "topological_order",
    "train_mlp",
    "train_nn",
    "train_softmax",
    "train_test_split",
    "validation_split",
    "variable",
    "xavier_std",
]
