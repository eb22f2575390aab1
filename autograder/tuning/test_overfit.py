"""Hidden checks for part 2: `overfit_small_batch(model_fn, x, y, steps, learning_rate)`.

64 of ml4p's synthetic digits (drawn here, in the trusted process), a sound model (the
MNIST assignment's MLP) and a model whose output ignores its input, both handed over as
trusted `model_fn`s.
"""
import numpy as np
import pytest
from reference_tf import BLIND_MODEL, SOUND_MLP

from ml4p.data import synthetic_digits
from ml4p.grading.numerics import assert_finite, fail

STEPS = 150


@pytest.fixture(scope="module")
def batch():
    (images, labels), _ = synthetic_digits(n_train=64, n_test=0, seed=11)
    return images.reshape(64, 784).astype(np.float32) / 255, labels.astype(np.int64)


@pytest.fixture(scope="module")
def sound(student, batch):
    losses, accuracy = student.call("overfit_small_batch", SOUND_MLP, *batch, steps=STEPS, learning_rate=1e-2,
                                    timeout=120)
    return losses, float(accuracy)


@pytest.mark.points(1)
def test_learns_by_heart(sound):
    """a sound MLP reaches 100 % accuracy on 64 images"""
    if sound[1] != 1.0:
        fail(f"the accuracy after {STEPS} steps is {sound[1]:.1%}: the MNIST MLP learns 64 images by heart in "
             "fewer steps. Are the images paired with their own labels at every step?")


@pytest.mark.points(0.5)
def test_losses(sound):
    """the losses, one per step, start near log 10 and fall below 0.01"""
    losses = sound[0]
    assert_finite(losses, (STEPS,), what=f"the losses of {STEPS} steps")
    if not 1.5 < losses[0] < 4:
        fail(f"the first loss is {losses[0]:.3g}; a fresh model's mean cross-entropy is near log 10 = 2.3")
    if not losses[-1] < 1e-2:
        fail(f"the last loss is {losses[-1]:.3g}; on a batch learned by heart it falls below 0.01")


@pytest.mark.points(0.5)
def test_reports_failure(student, batch):
    """a model whose output ignores the input cannot over-fit, and the accuracy says so"""
    losses, accuracy = student.call("overfit_small_batch", BLIND_MODEL, *batch, steps=50, learning_rate=1e-2,
                                    timeout=120)
    assert_finite(losses, (50,), what="the losses of 50 steps")
    most_frequent = np.bincount(batch[1]).max() / len(batch[1])
    if float(accuracy) > most_frequent + 1e-9:
        fail(f"a model that ignores its input can at best predict the most frequent label ({most_frequent:.1%} "
             f"of the batch), yet the accuracy returned is {float(accuracy):.1%}: measure it on (x, y)")
