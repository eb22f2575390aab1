"""Hidden checks for part 6, `dream(model, steps, learning_rate)`: gradient descent on the
inputs, one image per digit, so that the model classifies image k as k.

The classifier is a reference one, made in this trusted process: the notebook's MLP trained
by NumPy (solutions/mnist.py) on 2,000 training images (data_sets.dream_classifier). A
driver loads its weights into a Keras model built by the reference `build_model`, calls
the student's `dream` on it (with the reference `cross_entropy` installed) and returns the
images and the model's weights afterwards. The check classifies the images itself, with a
NumPy forward pass of the weights it sent: whatever `dream` does to the model object (its
methods, its class) cannot change that decision. A reference model, not the notebook's:
whether a model can be dreamed into every digit depends on the model (one trained on
shuffled labels answers almost the same for every input), and `dream` should not lose
points for mistakes in `train`.
"""
import data_sets
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_finite, fail
from solutions import mnist as oracle

STEPS, LEARNING_RATE = 200, 0.1  # as in the notebook


@pytest.fixture(scope="module")
def weights():
    return data_sets.dream_classifier()


@pytest.fixture(scope="module")
def dreamed(student, weights):
    """(images, the model's weights after dream)."""
    return student.call(DRIVER, weights, STEPS, LEARNING_RATE, uses=USES["dream"], timeout=120)


@pytest.mark.points(1)
def test_classified_as_targets(dreamed, weights):
    """the reference classifier classifies each dreamed image as its digit: image k as k"""
    images = np.asarray(dreamed[0])
    if images.size != 10 * 784 or images.dtype.kind != "f":
        fail(f"dream returned an array of shape {images.shape} and dtype {images.dtype}: the classifier "
             "takes 10 images of 28 × 28 pixels, floats")
    assert_finite(images, images.shape, what="the dreamed images")
    predicted = np.argmax(oracle.mlp_logits(weights, images.reshape(10, 784)), axis=-1)
    wrong = [k for k in range(10) if predicted[k] != k]
    if wrong:
        fail(f"the model does not classify the dreamed images {wrong} as their digits: minimise the "
             "cross-entropy of model(images) against the targets 0..9 (descend, do not ascend)")


@pytest.mark.points(0.5, given="test_classified_as_targets")
def test_images(dreamed):
    """dream returns 10 images of 28 × 28 pixels, float32, with values in [0, 1]"""
    images = dreamed[0]
    assert_finite(images, (10, 28, 28), what="the dreamed images")
    if images.dtype != np.float32:
        fail(f"the images have dtype {images.dtype}; they should be float32, like the model's inputs")
    if images.min() < 0 or images.max() > 1:
        fail(f"pixel values range from {images.min():.3g} to {images.max():.3g}; they should lie in [0, 1] "
             "(images = sigmoid(z))")


@pytest.mark.points(0.5, given="test_classified_as_targets")
def test_model_unchanged(dreamed, weights):
    """dream changes the images, not the model: its parameters are the same afterwards"""
    after = dreamed[1]
    if not isinstance(after, tuple) or [np.shape(a) for a in after] != [w.shape for w in weights]:
        fail("the model's variables after dream are not those it was given: leave the model alone")
    change = max(float(np.max(np.abs(np.asarray(a, np.float64) - w))) for a, w in zip(after, weights))
    if not change == 0:
        fail(f"a parameter of the model changed by {change:.3g} during dream: apply the gradient to the "
             "images' variable z only, not to model.trainable_variables")
