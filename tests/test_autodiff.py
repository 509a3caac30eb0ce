"""The reverse-mode autodiff of notebook 06: vjps, the graph, the backward pass, the MLP on it.

The vjps are checked against central differences of ``sum(G * f(inputs))`` written with numpy
and scipy; the backward pass on graphs built by hand against gradients written out here; and
the MLP on the tape against ``nnlib.mlp_gradients`` (1e-12 relative in float64) and against the
independent reference of ``strategies``.
"""

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from strategies import FEW, describe, problems, ref_loss, ref_weight_grads, rel_err

import nnlib
from nnlib import autodiff as ad


def central_vjp(f, args, G, eps=1e-6):
    """Central differences of ``sum(G * f(*args))`` with respect to every array of ``args``."""
    args = [np.asarray(a, dtype=np.float64).copy() for a in args]
    grads = []
    for a in args:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            saved = a[idx]
            a[idx] = saved + eps
            plus = float(np.sum(G * f(*args)))
            a[idx] = saved - eps
            minus = float(np.sum(G * f(*args)))
            a[idx] = saved
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def assert_close(got, want, rtol=1e-6, atol=1e-9, what=""):
    assert got.shape == want.shape, f"{what}: {describe(got, want)}"
    assert np.allclose(got, want, rtol=rtol, atol=atol), f"{what}: {describe(got, want)}"


# --------------------------------------------------------------------------- the vjps


@pytest.mark.task_matmul_vjp
def test_matmul_vjp_is_the_gradient_of_the_product(rng):
    A, B, G = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    dA, dB = nnlib.matmul_vjp(G, A, B)
    nA, nB = central_vjp(lambda a, b: a @ b, [A, B], G)
    assert_close(dA, nA, what="dA (should be G @ B.T)")
    assert_close(dB, nB, what="dB (should be A.T @ G)")


@pytest.mark.task_add_vjp
@pytest.mark.parametrize("bias", [True, False])
def test_add_vjp_sums_a_bias_over_the_rows(rng, bias):
    a = rng.normal(size=(6, 3))
    b = rng.normal(size=(3,) if bias else (6, 3))
    G = rng.normal(size=(6, 3))
    da, db = nnlib.add_vjp(G, a.shape, b.shape)
    na, nb = central_vjp(lambda x, z: x + z, [a, b], G)
    assert_close(da, na, what="da")
    assert db.shape == b.shape, f"db must have the shape of b, {b.shape}, got {db.shape}"
    assert_close(db, nb, what="db (a bias row gets the sum over the rows)")


@pytest.mark.task_relu_vjp
@pytest.mark.task_sigmoid_vjp
@pytest.mark.task_tanh_vjp
@pytest.mark.parametrize(
    ("vjp", "f", "from_output"),
    [
        (nnlib.relu_vjp, lambda A: np.maximum(A, 0), False),
        (nnlib.sigmoid_vjp, scipy.special.expit, True),
        (nnlib.tanh_vjp, np.tanh, True),
    ],
    ids=["relu", "sigmoid", "tanh"],
)
def test_elementwise_vjps(rng, vjp, f, from_output):
    A, G = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    A[np.abs(A) < 1e-3] = 0.5  # away from ReLU's kink, where central differences mislead
    got = vjp(G, f(A) if from_output else A)
    (want,) = central_vjp(f, [A], G)
    assert_close(got, want, what=f"{vjp.__name__} (sigmoid and tanh take the op's output)")


@pytest.mark.task_relu_vjp
def test_relu_vjp_is_zero_at_exactly_zero():
    G = np.ones((1, 3))
    got = nnlib.relu_vjp(G, np.array([[-1.0, 0.0, 2.0]]))
    assert np.array_equal(got, [[0.0, 0.0, 1.0]]), got


@pytest.mark.task_softmax_cross_entropy_vjp
@pytest.mark.parametrize("g", [1.0, 0.3])
def test_softmax_cross_entropy_vjp(rng, g):
    Z, y = 2 * rng.normal(size=(5, 4)), rng.integers(0, 4, 5)
    got = nnlib.softmax_cross_entropy_vjp(g, Z, y)
    (want,) = central_vjp(lambda z: ref_loss(z, y), [Z], np.float64(g))
    assert_close(got, want, what="dlogits = g (S - I_y) / N")


@pytest.mark.task_matmul_vjp
@pytest.mark.task_add_vjp
@pytest.mark.task_relu_vjp
@pytest.mark.task_sigmoid_vjp
@pytest.mark.task_tanh_vjp
@pytest.mark.task_softmax_cross_entropy_vjp
def test_vjps_keep_float32(rng):
    A = rng.normal(size=(3, 4)).astype(np.float32)
    B = rng.normal(size=(4, 2)).astype(np.float32)
    G = rng.normal(size=(3, 2)).astype(np.float32)
    outs = {
        "matmul_vjp": nnlib.matmul_vjp(G, A, B),
        "add_vjp": nnlib.add_vjp(A, A.shape, (4,)),
        "relu_vjp": nnlib.relu_vjp(A, A),
        "sigmoid_vjp": nnlib.sigmoid_vjp(A, A),
        "tanh_vjp": nnlib.tanh_vjp(A, A),
        "softmax_cross_entropy_vjp": nnlib.softmax_cross_entropy_vjp(
            np.float64(1.0), G, np.array([0, 1, 1])
        ),
    }
    for name, out in outs.items():
        for arr in out if isinstance(out, tuple) else (out,):
            assert arr.dtype == np.float32, f"{name} returned {arr.dtype} for float32 input"


# --------------------------------------------------------------------------- the graph


def _diamond(rng):
    """x -> h = relu(x W); out = tanh(h) + sigmoid(h): h feeds two ops (a diamond)."""
    X, W = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    V, y = rng.normal(size=(5, 2)), rng.integers(0, 2, 4)
    x, w, v = ad.variable(X), ad.variable(W), ad.variable(V)
    h = ad.relu(ad.matmul(x, w))
    s = ad.add(ad.tanh(h), ad.sigmoid(h))
    loss = ad.softmax_cross_entropy(ad.matmul(s, v), y)

    def f(X, W, V):
        H = np.maximum(X @ W, 0)
        return ref_loss((np.tanh(H) + scipy.special.expit(H)) @ V, y)

    return loss, (x, w, v), f, (X, W, V)


@pytest.mark.task_topological_order
def test_topological_order_lists_each_node_once_after_its_parents(rng):
    loss, leaves, _, _ = _diamond(rng)
    order = nnlib.topological_order(loss)
    assert order[-1] is loss, "the loss comes last"
    assert len({id(n) for n in order}) == len(order), "a node used twice is listed once"
    position = {id(n): k for k, n in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[id(parent)] < position[id(node)], f"{parent} listed after {node}"
    assert all(id(leaf) in position for leaf in leaves)
    assert len(order) == 10  # 3 leaves, matmul, relu, tanh, sigmoid, add, matmul, loss


@pytest.mark.task_backward
@pytest.mark.task_topological_order
def test_backward_on_a_diamond_matches_central_differences(rng):
    loss, leaves, f, arrays = _diamond(rng)
    nnlib.backward(loss)
    wants = central_vjp(f, list(arrays), np.float64(1.0))
    for leaf, want, name in zip(leaves, wants, "xwv", strict=True):
        assert_close(leaf.grad, want, what=f"{name}.grad (h feeds tanh and sigmoid: sum both)")
    assert loss.grad == 1.0


@pytest.mark.task_backward
@pytest.mark.task_topological_order
def test_a_node_used_twice_gets_the_sum_of_its_gradients(rng):
    X, W, V = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    y = np.array([0, 1, 1])
    x, w, v = ad.variable(X), ad.variable(W), ad.variable(V)
    loss = ad.softmax_cross_entropy(ad.add(ad.matmul(x, w), ad.matmul(x, v)), y)
    nnlib.backward(loss)
    G = (scipy.special.softmax(X @ (W + V), axis=1) - np.eye(2)[y]) / 3
    assert_close(x.grad, G @ W.T + G @ V.T, 1e-12, 0, "x.grad: x is used by two matmuls")
    # the same node twice in one op: x + x
    a = ad.variable(X)
    loss = ad.softmax_cross_entropy(ad.matmul(ad.add(a, a), w), y)
    nnlib.backward(loss)
    G = (scipy.special.softmax(2 * X @ W, axis=1) - np.eye(2)[y]) / 3
    assert_close(a.grad, 2 * G @ W.T, 1e-12, 0, "a.grad for a + a: both contributions")


@pytest.mark.task_backward
@pytest.mark.task_topological_order
def test_backward_twice_gives_the_same_gradients(rng):
    loss, leaves, _, _ = _diamond(rng)
    nnlib.backward(loss)
    first = [leaf.grad.copy() for leaf in leaves]
    nnlib.backward(loss)
    for leaf, g in zip(leaves, first, strict=True):
        assert np.array_equal(leaf.grad, g), "backward must start afresh, not add to old grads"


@pytest.mark.task_backward
@pytest.mark.task_topological_order
def test_backward_fills_every_node_with_its_own_shape_and_dtype(rng):
    X = rng.normal(size=(4, 3)).astype(np.float32)
    b = rng.normal(size=(3,)).astype(np.float32)
    x, bias = ad.variable(X), ad.variable(b)
    loss = ad.softmax_cross_entropy(ad.add(x, bias), np.array([0, 1, 2, 0]))
    nnlib.backward(loss)
    for node in nnlib.topological_order(loss):
        assert node.grad.shape == node.value.shape, node
        assert node.grad.dtype == np.float32, node
    assert_close(bias.grad, x.grad.sum(axis=0), 1e-6, 1e-7, "the bias gets the column sums")


@pytest.mark.task_backward
@pytest.mark.task_topological_order
def test_a_deep_chain_does_not_hit_the_recursion_limit():
    x = ad.variable(np.ones((2, 2)))
    z = x
    for _ in range(300):
        z = ad.tanh(z)
    loss = ad.softmax_cross_entropy(z, np.array([0, 1]))
    nnlib.backward(loss)
    assert x.grad.shape == (2, 2)


# --------------------------------------------------------------------------- the MLP


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [1, 2, 3, 6])
def test_mlp_on_the_tape_equals_mlp_gradients_in_float64(activation, depth):
    rng = np.random.default_rng(depth * 10 + len(activation))
    sizes = [5, *rng.integers(2, 8, depth - 1).tolist(), 4]
    X = rng.normal(size=(9, 5))
    y = rng.integers(0, 4, 9)
    weights = nnlib.init_mlp(sizes, rng, dtype=np.float64)
    got = nnlib.mlp_gradients_autodiff(X, y, weights, activation)
    want = nnlib.mlp_gradients(X, y, weights, activation)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert rel_err(g, w) <= 1e-12, f"dW{i + 1}: {describe(g, w)}"


@FEW
@given(problems())
def test_mlp_on_the_tape_matches_the_independent_reference(problem):
    X, y, weights, dtype, _ = problem
    for activation in ("relu", "tanh"):
        got = nnlib.mlp_gradients_autodiff(X, y, weights, activation)
        want = ref_weight_grads(X, y, weights, activation)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g.dtype == dtype, f"dW{i + 1} has dtype {g.dtype} for {dtype.__name__} input"
            tol = 1e-4 if dtype == np.float32 else 1e-10
            assert rel_err(g, w) <= tol or np.max(np.abs(g - w)) < 10 * tol, describe(g, w)


def test_matches_torch_autograd_where_torch_is_installed(rng):
    torch = pytest.importorskip("torch")
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    weights = nnlib.init_mlp([4, 5, 3], rng, dtype=np.float64)
    Ws = [torch.tensor(W, requires_grad=True) for W in weights]
    Z = torch.tensor(X)
    Z = torch.tanh(Z @ Ws[0])
    torch.nn.functional.cross_entropy(Z @ Ws[1], torch.tensor(y)).backward()
    got = nnlib.mlp_gradients_autodiff(X, y, weights, "tanh")
    for g, W in zip(got, Ws, strict=True):
        assert rel_err(g, W.grad.numpy()) <= 1e-12


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors():
    A = np.ones((2, 3))
    with pytest.raises(TypeError, match="floating dtype"):
        ad.variable(np.ones((2, 3), dtype=int))
    with pytest.raises(TypeError, match="ndarray"):
        ad.variable([[1.0]])
    with pytest.raises(ValueError, match="2-D"):
        ad.variable(np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match=r"variable\(array\)"):
        ad.matmul(A, ad.variable(A.T))
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(2, 3\)"):
        ad.matmul(ad.variable(A), ad.variable(A))
    with pytest.raises(ValueError, match="bias row"):
        ad.add(ad.variable(A), ad.variable(np.ones(2)))
    with pytest.raises(ValueError, match="scalar loss"):
        nnlib.backward(ad.variable(A))
    with pytest.raises(TypeError, match="Node"):
        nnlib.backward(1.0)
    with pytest.raises(ValueError, match="shapes do not fit"):
        nnlib.matmul_vjp(np.ones((2, 3)), A, A.T)
    with pytest.raises(ValueError, match="b_shape"):
        nnlib.add_vjp(A, (2, 3), (2,))
    # the message printed G's values (cut at 60 characters) before, not its shape
    with pytest.raises(ValueError, match=r"a_shape \(2, 4\), got shape \(2, 3\)$"):
        nnlib.add_vjp(A, (2, 4), (4,))
    with pytest.raises(ValueError, match="shape of A"):
        nnlib.relu_vjp(np.ones((3, 2)), A)
    with pytest.raises(ValueError, match="one number"):
        nnlib.softmax_cross_entropy_vjp(np.ones(2), A, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        ad.softmax_cross_entropy(ad.variable(A), np.array([0, 3]))
    with pytest.raises(ValueError, match="unknown activation"):
        nnlib.mlp_gradients_autodiff(A, np.array([0, 1]), [np.ones((3, 2))], "gelu")


# --------------------------------------------------------------------------- the visible checks


def _breadth_first_order(loss):
    """A valid topological order other than depth first: nodes by their longest distance
    from a leaf (so it lists siblings in another order than the reference does)."""
    depth = {}

    def level(node):
        if id(node) not in depth:
            depth[id(node)] = 1 + max((level(p) for p in node.parents), default=-1)
        return depth[id(node)]

    nodes = list({id(n): n for n in nnlib.topological_order(loss)}.values())
    order = sorted(reversed(nodes), key=level)  # ties in the reverse of the reference's order
    _DIFFERED.append(order != nodes)
    return order


_DIFFERED = []


def test_the_check_accepts_any_valid_topological_order():
    from nnlib import checks

    _DIFFERED.clear()
    checks.check_topological_order(_breadth_first_order)
    assert any(_DIFFERED), "the test needs a graph where the order differs from the reference's"
    with pytest.raises(checks.CheckFailed, match="is reversed"):
        checks.check_topological_order(lambda loss: _breadth_first_order(loss)[::-1])


def test_the_backward_check_needs_no_vjp_of_the_student():
    """check_backward's graphs carry their own made-up vjps: a backward pass that is right
    passes it even when every vjp task is still a stub."""
    from nnlib import checks

    def stub(*args):
        raise NotImplementedError("a vjp task not written yet")

    with pytest.MonkeyPatch.context() as patch:
        for name in ("matmul_vjp", "add_vjp", "relu_vjp", "sigmoid_vjp", "tanh_vjp"):
            patch.setattr(ad, name, stub)
        patch.setattr(ad, "softmax_cross_entropy_vjp", stub)
        checks.check_backward()
