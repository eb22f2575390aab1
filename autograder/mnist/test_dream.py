"""Hidden checks for part 6, `dream(model, steps, learning_rate)`: gradient descent on the
inputs, one image per digit, so that the model classifies image k as k.

A driver trains a reference model briefly in the kernel (Keras's `fit`, 2 epochs on
2,000 training images), calls the student's `dream` on it (with the reference
`cross_entropy` installed) and returns the images, the model's logits on them and
the largest change of any model parameter. A reference model, not the notebook's:
whether a model can be dreamed into every digit depends on the model (one trained
on shuffled labels answers almost the same for every input), and `dream` should
not lose points for mistakes in `train`.
"""
import numpy as np
import pytest
import data_sets
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_finite, fail

STEPS, LEARNING_RATE = 200, 0.1  # as in the notebook
N_TRAIN, SEED = 2000, 3  # the reference model's training images and seed


@pytest.fixture(scope="module")
def dreamed(student):
    data = data_sets.digits()
    return student.call(DRIVER, data.x_train[:N_TRAIN], data.y_train[:N_TRAIN], STEPS, LEARNING_RATE, SEED,
                        uses=USES["dream"], timeout=120)


@pytest.mark.points(0.5)
def test_images(dreamed):
    """dream returns 10 images of 28 × 28 pixels, float32, with values in [0, 1]"""
    images = dreamed[0]
    assert_finite(images, (10, 28, 28), what="the dreamed images")
    if images.dtype != np.float32:
        fail(f"the images have dtype {images.dtype}; they should be float32, like the model's inputs")
    if images.min() < 0 or images.max() > 1:
        fail(f"pixel values range from {images.min():.3g} to {images.max():.3g}; they should lie in [0, 1] "
             "(images = sigmoid(z))")


@pytest.mark.points(1)
def test_classified_as_targets(dreamed):
    """the model classifies each dreamed image as its digit: image k as k"""
    logits = dreamed[1]
    if logits.shape != (10, 10):
        fail("the dreamed images could not be given to the model: dream should return 10 images of 28 × 28")
    assert_finite(logits, (10, 10), what="the model's logits on the dreamed images")
    predicted = np.argmax(logits, axis=-1)
    wrong = [k for k in range(10) if predicted[k] != k]
    if wrong:
        fail(f"the model does not classify the dreamed images {wrong} as their digits: minimise the "
             "cross-entropy of model(images) against the targets 0..9 (descend, do not ascend)")


@pytest.mark.points(0.5)
def test_model_unchanged(dreamed):
    """dream changes the images, not the model: its parameters are the same afterwards"""
    change = float(np.asarray(dreamed[2]))
    if not change == 0:
        fail(f"a parameter of the model changed by {change:.3g} during dream: apply the gradient to the "
             "images' variable z only, not to model.trainable_variables")
