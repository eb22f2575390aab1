"""Hidden checks for part 3, `cross_entropy(logits, labels)`:
the mean over the batch of -sum_j y_j log softmax(logits)_j, numerically stable.

Every check compares the student's values (the loss, or its gradient from tf.GradientTape
in the kernel) with the NumPy oracle or finite differences of it, here; "a batch twice
gives the same loss", which a constant passes, counts only with the values right.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_close, assert_finite, directional_gradient_error, fail
from solutions import mnist as oracle

BATCHES = [1, 7, 64]


def problem(rng, n, dtype=np.float64, scale=3.0):
    """Random logits (n, 10) and one-hot labels (n, 10)."""
    logits = (scale * rng.standard_normal((n, 10))).astype(dtype)
    labels = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    return logits, labels


@pytest.mark.points(0.5)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_matches_reference(student, rng, dtype):
    """cross_entropy matches the reference on random logits and one-hot labels"""
    for n in BATCHES:
        logits, labels = problem(rng, n, dtype)
        loss = student.call("cross_entropy", logits, labels, uses=USES["cross_entropy"])
        assert_close(loss, np.asarray(oracle.cross_entropy(logits, labels)),
                     what=f"the loss of a batch of {n} ({np.dtype(dtype).name}; one number)", dtype=dtype)


@pytest.mark.points(0.5, given="test_matches_reference")
def test_mean_over_batch(student, rng):
    """a batch and the same batch twice give the same loss (a mean over the batch, a sum over the classes)"""
    logits, labels = problem(rng, 16)
    once = student.call("cross_entropy", logits, labels, uses=USES["cross_entropy"])
    twice = student.call("cross_entropy", np.concatenate([logits, logits]), np.concatenate([labels, labels]),
                         uses=USES["cross_entropy"])
    assert_finite(once, (), what="the loss (one number)")
    assert_close(twice, once, what="the loss of a batch repeated twice compared with the batch once "
                 "(is it summed over the batch instead of averaged?)")


@pytest.mark.points(0.5)
def test_extreme_logits(student):
    """extreme logits (±1000) give a finite and correct loss: log-sum-exp, not log(softmax)"""
    logits = np.zeros((4, 10), np.float32)
    logits[0, 3] = 1000
    logits[1, 3] = -1000
    logits[2, :] = 1000
    logits[3, 5], logits[3, 6] = 1000, -1000
    labels = np.eye(10, dtype=np.float32)[[3, 3, 0, 6]]
    loss = student.call("cross_entropy", logits, labels, uses=USES["cross_entropy"])
    assert_finite(loss, (), what="the loss for logits of ±1000")
    assert_close(loss, np.asarray(oracle.cross_entropy(logits, labels)),
                 what="the loss for logits of ±1000 (subtract the largest logit before exponentiating)",
                 dtype=np.float32)


@pytest.fixture(scope="module")
def gradient(student):
    """float64 logits, labels, and the student's (loss, d loss / d logits) from tf.GradientTape."""
    logits, labels = problem(np.random.default_rng(20260203), 8)
    loss, grad = student.call(DRIVER, logits, labels, uses=USES["cross_entropy_gradient"])
    return logits, labels, loss, grad


@pytest.mark.points(0.5)
def test_gradient_centred_differences(gradient):
    """the gradient with respect to the logits agrees with centred finite differences of the loss (float64)"""
    logits, labels, _, grad = gradient
    assert_finite(grad, logits.shape, what="the gradient of the loss")
    error = directional_gradient_error(lambda z: oracle.cross_entropy(z, labels), grad, logits,
                                       np.random.default_rng(1))
    if error > 1e-6:
        fail(f"the gradient of your loss is not that of the cross-entropy: relative error {error:.1e} "
             "along random directions (should be around 1e-10)")


@pytest.mark.points(0.25)
def test_gradient_analytic(gradient):
    """the gradient with respect to the logits is (softmax(logits) - labels) / N"""
    logits, labels, _, grad = gradient
    assert_close(grad, oracle.cross_entropy_gradient(logits, labels), what="the gradient of the loss")


@pytest.mark.points(0.25)
def test_compiled(student, rng):
    """cross_entropy works inside tf.function, as the training step compiles it"""
    logits, labels = problem(rng, 32, np.float32)
    loss = student.call(DRIVER, logits, labels, uses=USES["cross_entropy_compiled"])
    assert_close(loss, np.asarray(oracle.cross_entropy(logits, labels)),
                 what="the loss computed inside tf.function", dtype=np.float32)
