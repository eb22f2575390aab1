"""Hidden checks for part 2: `overfit_small_batch(model_fn, x, y, steps, learning_rate)`.

64 of ml4p's synthetic digits (drawn here, in the trusted process), a sound model (the
MNIST assignment's MLP) and a model whose output ignores its input. The driver's `model_fn`
builds them with initial weights drawn here, and sends back the weights of the model it
built after the student's function trained it: the accuracy and the losses are computed
from those weights here, in NumPy, and compared with what the function reported.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.data import synthetic_digits
from ml4p.grading.numerics import assert_finite, fail

STEPS = 150
SOUND, BLIND = 0, 1
#: (fan_in, fan_out) of the Dense layers of each model.
LAYERS = {SOUND: [(784, 128), (128, 64), (64, 10)], BLIND: [(1, 10)]}


@pytest.fixture(scope="module")
def batch():
    (images, labels), _ = synthetic_digits(n_train=64, n_test=0, seed=11)
    return images.reshape(64, 784).astype(np.float32) / 255, labels.astype(np.int64)


def initial_weights(kind, seed):
    """Keras's default initialisation (Glorot uniform kernels, zero biases), drawn here."""
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in LAYERS[kind]:
        limit = np.sqrt(6 / (fan_in + fan_out))
        weights += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
    return weights


def logits(kind, weights, x):
    """The model's outputs, in float64."""
    w = [np.asarray(v, np.float64) for v in weights]
    if kind == BLIND:
        return np.zeros((len(x), 1)) @ w[0] + w[1]
    h = np.maximum(np.asarray(x, np.float64) @ w[0] + w[1], 0)
    h = np.maximum(h @ w[2] + w[3], 0)
    return h @ w[4] + w[5]


def cross_entropy(z, y):
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def train(student, kind, batch, steps, seed):
    """(losses, reported accuracy, initial weights, trained weights)."""
    start = initial_weights(kind, seed)
    losses, accuracy, trained, made = student.call(DRIVER, kind, start, *batch, steps, 1e-2, uses=USES["overfit"],
                                                   timeout=120)
    if int(made) == 0:
        fail("overfit_small_batch never called model_fn(): it must train the model that model_fn builds")
    shapes = [w.shape for w in start]
    if [np.shape(w) for w in trained] != shapes:
        fail(f"the model built by model_fn has weights of shapes {[np.shape(w) for w in trained]}, not {shapes}")
    assert_finite(losses, (steps,), what=f"the losses of {steps} steps")
    return losses, float(accuracy), start, trained


@pytest.fixture(scope="module")
def sound(student, batch):
    return train(student, SOUND, batch, STEPS, seed=5)


@pytest.mark.points(1)
def test_learns_by_heart(sound, batch):
    """a sound MLP reaches 100 % accuracy on 64 images"""
    x, y = batch
    accuracy = float(np.mean(np.argmax(logits(SOUND, sound[3], x), axis=1) == y))
    if accuracy != 1.0:
        fail(f"after {STEPS} steps the model that model_fn built classifies {accuracy:.1%} of the 64 images right: "
             "the MNIST MLP learns them by heart in fewer steps. Are the images paired with their own labels at "
             "every step, and is it that model that is trained?")
    if sound[1] != accuracy:
        fail(f"the accuracy returned is {sound[1]:.1%}; the trained model's accuracy on (x, y) is {accuracy:.1%}")


@pytest.mark.points(0.5)
def test_losses(sound, batch):
    """the losses, one per step, start at the fresh model's loss and fall below 0.01"""
    x, y = batch
    losses, _, start, trained = sound
    first = cross_entropy(logits(SOUND, start, x), y)
    if abs(losses[0] - first) > 1e-4 * first:
        fail(f"the first loss is {losses[0]:.6g}; the fresh model's mean cross-entropy on the batch is {first:.6g} "
             "(the loss at step 0 is the loss before the first update)")
    last = cross_entropy(logits(SOUND, trained, x), y)
    if not losses[-1] < 1e-2 or not last < 1e-2:
        fail(f"the last loss is {losses[-1]:.3g} (and the trained model's is {last:.3g}); on a batch learned by "
             "heart it falls below 0.01")


@pytest.mark.points(0.5, given="test_learns_by_heart")
def test_reports_failure(student, batch):
    """a model whose output ignores the input cannot over-fit, and the accuracy says so"""
    x, y = batch
    _, accuracy, _, trained = train(student, BLIND, batch, 50, seed=6)
    measured = float(np.mean(np.argmax(logits(BLIND, trained, x), axis=1) == y))
    most_frequent = np.bincount(y).max() / len(y)
    if abs(accuracy - measured) > 1e-9 or accuracy > most_frequent + 1e-9:
        fail(f"a model that ignores its input can at best predict the most frequent label ({most_frequent:.1%} "
             f"of the batch); the trained model's accuracy is {measured:.1%}, yet the accuracy returned is "
             f"{accuracy:.1%}: measure it on (x, y)")
