"""Training loops: the history they return, the progress bar, and accuracy on real digits."""

import numpy as np
import pytest

import nnlib
from nnlib.training import MLPModel, SoftmaxModel, TwoLayerModel

# Each run also evaluates softmax_loss every epoch (through loss_err), so it carries that
# task's marker too; train_mlp evaluates through mlp_forward.
task_softmax = [pytest.mark.task_softmax_regression_epoch, pytest.mark.task_softmax_loss]
task_nn = [pytest.mark.task_nn_epoch, pytest.mark.task_softmax_loss]
task_mlp = [pytest.mark.task_mlp_epoch, pytest.mark.task_mlp_forward, pytest.mark.task_softmax_loss]


def marked(marks):
    """Apply several pytest marks as one decorator."""

    def decorate(f):
        for mark in marks:
            f = mark(f)
        return f

    return decorate


def _blobs(dtype=np.float32, n=150, centers=3):
    X, y = nnlib.make_blobs(n, np.random.default_rng(0), centers=centers, spread=0.3)
    return nnlib.train_test_split(X.astype(dtype), y, 0.2, np.random.default_rng(1))


def _check_history(history, epochs):
    assert isinstance(history, nnlib.History)
    for field in ("train_loss", "train_err", "test_loss", "test_err"):
        values = getattr(history, field)
        assert len(values) == epochs + 1, (
            f"history.{field} must hold epochs + 1 = {epochs + 1} values (entry 0 before "
            f"training), got {len(values)}"
        )
        assert all(isinstance(v, float) and np.isfinite(v) for v in values), field
    assert all(0.0 <= e <= 1.0 for e in history.train_err + history.test_err)
    assert history.seconds >= 0.0


# ----------------------------------------------------------------------------- small, fast runs


@marked(task_softmax)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_softmax_history_and_model(dtype):
    data = _blobs(dtype)
    model, history = nnlib.train_softmax(*data, epochs=4, lr=0.5, batch=16, progress=False)
    _check_history(history, 4)
    assert isinstance(model, SoftmaxModel)
    assert model.theta.shape == (2, 3) and model.theta.dtype == dtype, (
        "theta is (D, C) in the data's dtype"
    )
    assert history.train_loss[0] == pytest.approx(np.log(3), rel=1e-6), (
        "softmax regression starts from zero weights: the initial loss is log C"
    )
    assert history.train_loss[-1] < history.train_loss[0], "training must lower the loss"
    logits = model.logits(data.X_test)
    assert logits.shape == (data.X_test.shape[0], 3) and logits.dtype == dtype


@marked(task_nn)
def test_train_nn_history_model_and_determinism():
    data = _blobs()
    model, history = nnlib.train_nn(
        *data, hidden=8, epochs=3, lr=0.2, batch=16, rng=np.random.default_rng(5), progress=False
    )
    _check_history(history, 3)
    assert isinstance(model, TwoLayerModel)
    assert model.W1.shape == (2, 8) and model.W2.shape == (8, 3)
    assert model.W1.dtype == np.float32 and model.W2.dtype == np.float32
    assert history.train_loss[-1] < history.train_loss[0], "training must lower the loss"
    _, again = nnlib.train_nn(
        *data, hidden=8, epochs=3, lr=0.2, batch=16, rng=np.random.default_rng(5), progress=False
    )
    assert again.train_loss == history.train_loss, "the same rng must give the same run"
    assert again.test_err == history.test_err


@marked(task_mlp)
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_train_mlp_history_and_model(activation):
    data = _blobs()
    model, history = nnlib.train_mlp(
        *data,
        hidden=(6, 5),
        epochs=3,
        lr=0.2,
        batch=16,
        activation=activation,
        rng=np.random.default_rng(0),
        progress=False,
    )
    _check_history(history, 3)
    assert isinstance(model, MLPModel) and model.activation == activation
    assert [W.shape for W in model.weights] == [(2, 6), (6, 5), (5, 3)]
    assert all(W.dtype == np.float32 for W in model.weights)
    assert history.train_loss[-1] < history.train_loss[0], "training must lower the loss"
    assert model.logits(data.X_test).shape == (data.X_test.shape[0], 3)


@marked(task_softmax)
def test_progress_false_shows_no_bar(capfd):
    nnlib.train_softmax(*_blobs(), epochs=2, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == "", f"progress=False must print nothing, got {out!r} {err!r}"


@marked(task_softmax)
def test_progress_true_shows_a_bar(capfd):
    nnlib.train_softmax(*_blobs(), epochs=2, progress=True)
    _, err = capfd.readouterr()
    assert "softmax regression" in err and "2/2" in err, (
        f"progress=True must show a tqdm bar on stderr, got {err!r}"
    )


@pytest.mark.parametrize(
    "train", [nnlib.train_softmax, nnlib.train_nn, nnlib.train_mlp], ids=["sm", "nn", "mlp"]
)
@pytest.mark.parametrize("epochs", [0, -1])
def test_epochs_must_be_positive(train, epochs):
    with pytest.raises(ValueError, match=f"epochs must be a positive integer, got {epochs}"):
        train(*_blobs(), epochs=epochs, progress=False)


def test_train_data_is_validated():
    d = _blobs()
    with pytest.raises(ValueError, match=r"X_test must have 2 columns like X_train, got \(30, 3\)"):
        nnlib.train_softmax(d.X_train, d.y_train, np.zeros((30, 3), np.float32), d.y_test)
    with pytest.raises(TypeError, match="X_train must have a floating dtype"):
        nnlib.train_nn(d.X_train.astype(int), d.y_train, d.X_test, d.y_test)
    with pytest.raises(ValueError, match=r"y_test must have shape \(30,\)"):
        nnlib.train_mlp(d.X_train, d.y_train, d.X_test, d.y_test[:-1])
    with pytest.raises(ValueError, match="hidden must be a positive integer, got 0"):
        nnlib.train_nn(*d, hidden=0)
    with pytest.raises(TypeError, match=r"hidden must be the hidden layers' widths.*got '64'"):
        nnlib.train_mlp(*d, hidden="64", progress=False)


@pytest.mark.parametrize(
    "train", [nnlib.train_softmax, nnlib.train_nn, nnlib.train_mlp], ids=["sm", "nn", "mlp"]
)
def test_a_trained_models_logits_name_wrong_inputs(train):
    d = _blobs()
    model, _ = train(*d, epochs=1, progress=False)
    # numpy's matmul error (softmax, two-layer) or a message about weights[0] (MLP) before
    with pytest.raises(ValueError, match=r"X must have 2 columns, the features the model was "):
        model.logits(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"X must be 2-D, got shape \(2,\)"):
        model.logits(d.X_test[0])


def test_train_mlp_takes_one_width_as_one_hidden_layer():
    d = _blobs()
    one, _ = nnlib.train_mlp(*d, hidden=8, epochs=1, progress=False)
    same, _ = nnlib.train_mlp(*d, hidden=(8,), epochs=1, progress=False)
    assert [W.shape for W in one.weights] == [(2, 8), (8, 3)], "hidden=8 is one layer of 8"
    for a, b in zip(one.weights, same.weights, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- real digits


@pytest.fixture(scope="module")
def digits():
    return nnlib.load_digits()


@pytest.mark.slow
@marked(task_softmax)
def test_softmax_regression_on_digits(digits):
    _, history = nnlib.train_softmax(*digits, epochs=100, lr=0.2, batch=10, progress=False)
    _check_history(history, 100)
    assert history.test_err[-1] <= 0.04, (
        f"softmax regression reached {history.test_err[-1]:.2%} test error on the digits, "
        "expected <= 4% (about 3% is usual)"
    )


@pytest.mark.slow
@marked(task_nn)
def test_two_layer_network_on_digits(digits):
    _, history = nnlib.train_nn(
        *digits,
        hidden=200,
        epochs=50,
        lr=0.1,
        batch=20,
        rng=np.random.default_rng(0),
        progress=False,
    )
    _check_history(history, 50)
    assert history.test_err[-1] <= 0.025, (
        f"the two-layer network reached {history.test_err[-1]:.2%} test error, expected <= 2.5%"
    )


@pytest.mark.slow
@marked(task_mlp)
def test_three_layer_mlp_on_digits(digits):
    _, history = nnlib.train_mlp(
        *digits,
        hidden=(200, 100),
        epochs=50,
        lr=0.05,
        batch=20,
        rng=np.random.default_rng(0),
        progress=False,
    )
    _check_history(history, 50)
    assert history.test_err[-1] <= 0.025, (
        f"the 3-layer MLP reached {history.test_err[-1]:.2%} test error, expected <= 2.5%"
    )


@pytest.mark.parametrize(
    ("train", "kwargs", "activation"),
    [
        (nnlib.train_nn, dict(hidden=7), "relu"),
        (nnlib.train_mlp, dict(hidden=(7, 6)), "relu"),
        (nnlib.train_mlp, dict(hidden=(7, 6), activation="tanh"), "tanh"),
        (nnlib.train_mlp, dict(hidden=(7, 6), activation="sigmoid"), "sigmoid"),
    ],
    ids=["nn", "mlp-relu", "mlp-tanh", "mlp-sigmoid"],
)
def test_training_starts_from_the_initialization_of_its_activation(
    monkeypatch, train, kwargs, activation
):
    """He for ReLU (the two-layer net too), Xavier for tanh and the sigmoid: nnlib.init_weights."""
    import nnlib.training as training

    monkeypatch.setattr(training, "nn_epoch", lambda *a, **k: None)  # keep the initial weights
    monkeypatch.setattr(training, "mlp_epoch", lambda *a, **k: None)
    data = _blobs()
    model, _ = train(*data, epochs=1, rng=np.random.default_rng(3), progress=False, **kwargs)
    weights = [model.W1, model.W2] if hasattr(model, "W1") else model.weights
    widths = [
        2,
        *([kwargs["hidden"]] if isinstance(kwargs["hidden"], int) else kwargs["hidden"]),
        3,
    ]
    expected = nnlib.init_weights(widths, np.random.default_rng(3), activation)
    assert len(weights) == len(expected)
    for W, E in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(W, E, err_msg=f"{activation}: not init_weights' draw")
