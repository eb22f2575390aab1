"""The digits the hidden checks use, loaded once per grading process (trusted side only),
and the reference classifier trained on them for the checks of `dream`.

`load_digits()` reads $ML4P_MNIST / $ML4P_DIGITS, which the grader sets for this
process as for the kernel; the test labels never enter the kernel.
"""
import functools
import os

from ml4p.data import DIGITS_ENV, MNIST_NAME, SYNTHETIC_NAME, Digits, load_digits
from ml4p.grading.plugin import ahead


@functools.cache
def digits() -> Digits:
    return load_digits()


def data_set_name() -> str:
    """The name of the data set `load_digits()` gives here, by the same rule, without loading it."""
    return SYNTHETIC_NAME if os.environ.get(DIGITS_ENV) == "synthetic" else MNIST_NAME


#: The reference classifier that `dream` is graded against: the notebook's MLP trained in this
#: trusted process (solutions/mnist.py, NumPy) on the first DREAM_TRAIN training images.
DREAM_TRAIN, DREAM_EPOCHS, DREAM_SEED = 2000, 2, 3


@ahead
def dream_classifier() -> tuple:
    """Weights [W1, b1, W2, b2, W3, b3] (float32, Keras's `get_weights()` order) of the reference
    classifier for this data set, trained once per process (a fraction of a second), while the
    notebook executes."""
    from solutions import mnist as oracle

    data = digits()
    x, y = oracle.preprocess(data.x_train[:DREAM_TRAIN], data.y_train[:DREAM_TRAIN])
    return tuple(oracle.train_mlp(x, y, epochs=DREAM_EPOCHS, batch_size=64, learning_rate=1e-3,
                                  seed=DREAM_SEED))
