"""Hidden checks for part 1, reverse mode by hand (NumPy, float64).

`dense_forward(x, w, b)`, `dense_backward(x, w, grad_y)`, `sigmoid_forward(z)`,
`sigmoid_backward(z, grad_s)`, `mse_forward(pred, target)` (the mean over all elements),
`mse_backward(pred, target)` and `network_loss_and_gradients(params, x, target)` for
pred = sigmoid(x @ w1 + b1) @ w2 + b2, compared with the element-by-element oracle on
random shapes drawn here (square weights and batches of one included), and the network's
gradient with centred differences of the oracle's loss. Nothing is sent into the kernel
but the inputs; every verdict is computed here.
"""
import numpy as np
import pytest

from ml4p.grading.numerics import assert_close, fail, returned
from solutions import diff_programming as oracle

DENSE = "test_dense_backward_matches_oracle"
NETWORK = "test_network_matches_oracle"
NAMES = ("w1", "b1", "w2", "b2")


def network_params(rng, n_in, n_hidden, n_out):
    return (rng.normal(size=(n_in, n_hidden)), rng.normal(size=n_hidden),
            rng.normal(size=(n_hidden, n_out)), rng.normal(size=n_out))


def network_call(student, params, x, target):
    """(loss, gradients) from the student's network_loss_and_gradients, checked for structure."""
    loss, grads = returned(student.call("network_loss_and_gradients", params, x, target), 2,
                           what="network_loss_and_gradients")
    return loss, returned(grads, 4, what="the gradients of network_loss_and_gradients")


@pytest.mark.points(0.25)
@pytest.mark.parametrize("shape", [(1, 1, 1), (6, 3, 4)], ids=lambda s: f"(N, n_in, n_out) {s}")
def test_forward_passes_match_oracle(student, rng, shape):
    """dense_forward and sigmoid_forward match the reference (float64)"""
    n, n_in, n_out = shape
    x, w, b = rng.normal(size=(n, n_in)), rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
    assert_close(student.call("dense_forward", x, w, b), oracle.dense_forward(x, w, b),
                 what=f"dense_forward for x of shape {x.shape}, w of shape {w.shape}")
    z = rng.normal(scale=3.0, size=(n, n_out))
    assert_close(student.call("sigmoid_forward", z), oracle.sigmoid_forward(z), what=f"sigmoid_forward of shape {z.shape}")


@pytest.mark.points(0.2)
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 3, 3), (6, 4, 4), (7, 3, 2), (2, 1, 5)],
                         ids=lambda s: f"(N, n_in, n_out) {s}")
def test_dense_backward_matches_oracle(student, rng, shape):
    """dense_backward gives dL/dx, dL/dw and dL/db of the reference, square weights and N = 1 included"""
    n, n_in, n_out = shape
    x, w, grad_y = rng.normal(size=(n, n_in)), rng.normal(size=(n_in, n_out)), rng.normal(size=(n, n_out))
    got = returned(student.call("dense_backward", x, w, grad_y), 3, what="dense_backward")
    for name, g, want in zip(("grad_x", "grad_w", "grad_b"), got, oracle.dense_backward(x, w, grad_y)):
        assert_close(g, want, what=f"{name} of dense_backward for x {x.shape}, w {w.shape}")


@pytest.mark.points(0.25)
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (2, 7)], ids=lambda s: f"shape {s}")
def test_sigmoid_backward_matches_oracle(student, rng, shape):
    """sigmoid_backward gives dL/dz = dL/ds * s (1 - s) of the reference"""
    z, grad_s = rng.normal(scale=2.0, size=shape), rng.normal(size=shape)
    assert_close(student.call("sigmoid_backward", z, grad_s), oracle.sigmoid_backward(z, grad_s),
                 what=f"sigmoid_backward of shape {shape}")


@pytest.mark.points(0.25)
@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (6, 3)], ids=lambda s: f"shape {s}")
def test_mse_matches_oracle(student, rng, shape):
    """mse_forward is the mean over all elements, and mse_backward its gradient"""
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    loss = student.call("mse_forward", pred, target)
    assert_close(np.reshape(np.asarray(loss, dtype=np.float64), ()), np.array(oracle.mse_forward(pred, target)),
                 what=f"mse_forward for arrays of shape {shape} (the mean over all elements)")
    assert_close(student.call("mse_backward", pred, target), oracle.mse_backward(pred, target),
                 what=f"mse_backward for arrays of shape {shape}")


@pytest.mark.points(1 / 3)
@pytest.mark.parametrize("shape", [(1, 2, 3, 1), (5, 4, 4, 4), (9, 3, 6, 2)],
                         ids=lambda s: f"(N, n_in, n_hidden, n_out) {s}")
def test_network_matches_oracle(student, rng, shape):
    """network_loss_and_gradients gives the reference loss and the four gradients"""
    n, n_in, n_hidden, n_out = shape
    params = network_params(rng, n_in, n_hidden, n_out)
    x, target = rng.normal(size=(n, n_in)), rng.normal(size=(n, n_out))
    loss, grads = network_call(student, params, x, target)
    want_loss, want_grads = oracle.network_loss_and_gradients(params, x, target)
    assert_close(np.reshape(np.asarray(loss, dtype=np.float64), ()), np.array(want_loss),
                 what=f"the network's loss for shapes {shape}")
    for name, g, want in zip(NAMES, grads, want_grads):
        assert_close(g, want, what=f"grad_{name} for (N, n_in, n_hidden, n_out) = {shape}")


@pytest.mark.points(0.5)
def test_network_centred_differences(student, rng):
    """the network's gradient agrees with centred differences of the loss (float64)"""
    params = network_params(rng, 3, 5, 2)
    x, target = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    _, grads = network_call(student, params, x, target)
    for name, g, p in zip(NAMES, grads, params):
        if np.shape(g) != p.shape:
            fail(f"grad_{name} has shape {np.shape(g)}; it should have the shape {p.shape} of {name}")
    h = 1e-5
    for _ in range(3):
        v = [rng.normal(size=p.shape) for p in params]
        plus = oracle.network_loss([p + h * d for p, d in zip(params, v)], x, target)
        minus = oracle.network_loss([p - h * d for p, d in zip(params, v)], x, target)
        slope = (plus - minus) / (2 * h)
        analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, v))
        error = abs(analytic - slope) / max(abs(slope), 1e-3)
        if not error < 1e-6:
            fail(f"the gradient disagrees with centred differences of the loss along a random direction: "
                 f"relative error {error:.1e} (should be around 1e-10)")


@pytest.mark.points(0.25, given=DENSE)
def test_dense_backward_adds_over_the_batch(student, rng):
    """dL/dw and dL/db of a batch are the sums of those of its rows"""
    x, w, grad_y = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=(3, 4))
    _, grad_w, grad_b = returned(student.call("dense_backward", x, w, grad_y), 3, what="dense_backward")
    rows = [returned(student.call("dense_backward", x[i:i + 1], w, grad_y[i:i + 1]), 3, what="dense_backward")
            for i in range(3)]
    assert_close(grad_w, sum(np.asarray(r[1]) for r in rows), what="grad_w of a batch against its rows' sum")
    assert_close(grad_b, sum(np.asarray(r[2]) for r in rows), what="grad_b of a batch against its rows' sum")


@pytest.mark.points(0.25, given=NETWORK)
def test_network_perfect_fit(student, rng):
    """a network that fits its targets exactly has zero loss and zero gradients"""
    params = network_params(rng, 3, 4, 2)
    x = rng.normal(size=(5, 3))
    target = oracle.network_predict(params, x)
    loss, grads = network_call(student, params, x, target)
    assert_close(np.reshape(np.asarray(loss, dtype=np.float64), ()), np.array(0.0), what="the loss at a perfect fit",
                 atol=1e-20)
    for name, g, p in zip(NAMES, grads, params):
        assert_close(g, np.zeros(p.shape), what=f"grad_{name} at a perfect fit", atol=1e-12)
