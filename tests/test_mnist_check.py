"""The MNIST assignment: its oracle, and the data set its checked course grades on.

Offline (no MNIST on the machine) the course runs on ml4p's synthetic digits, and the
accuracy check says so in its name; with MNIST available it is graded on MNIST.
"""
import pytest

from ml4p.course import load_config
from ml4p.grading.execute import SandboxedExecute


@pytest.mark.slow
def test_checked_course_says_which_data_it_graded_on(checked_course):
    """Does the course that `ml4p check mnist` graded in (test_assignments.py judges its grades) name
    its data set, MNIST or the synthetic stand-in, for the kernel and the checks?"""
    data_env = SandboxedExecute(config=load_config(checked_course("mnist").root)).data_env
    assert set(data_env) in ({"ML4P_MNIST"}, {"ML4P_DIGITS"})


def _oracle():
    import sys

    from ml4p.course import materials_root

    sys.path.insert(0, str(materials_root()))
    from solutions import mnist

    return mnist


def test_oracle_mlp_gradients_are_the_losss():
    """Does the oracle's hand-written backpropagation agree with centred differences of its loss?"""
    import numpy as np

    oracle = _oracle()
    rng = np.random.default_rng(0)
    layers = (6, 5, 4, 3)
    weights = oracle.init_mlp(rng, layers)
    weights = [w + 0.1 * rng.normal(size=w.shape) for w in weights]  # biases away from 0
    x, y = rng.normal(size=(7, 6)), np.eye(3)[rng.integers(0, 3, 7)]
    grads = oracle.mlp_gradients(weights, x, y)
    eps = 1e-6
    for k, w in enumerate(weights):
        for index in [tuple(rng.integers(0, n) for n in w.shape) for _ in range(3)]:
            def loss(delta, k=k, index=index):
                shifted = [v.copy() for v in weights]
                shifted[k][index] += delta
                return oracle.cross_entropy(oracle.mlp_logits(shifted, x), y)
            numeric = (loss(eps) - loss(-eps)) / (2 * eps)
            assert abs(grads[k][index] - numeric) < 1e-6 * max(1.0, abs(numeric)), (k, index)


def test_oracle_mlp_is_kerass_and_learns():
    """Is the oracle's forward pass a Keras Dense-ReLU stack's, and does its Adam training learn digits?"""
    import keras
    import numpy as np

    from ml4p.data import synthetic_digits

    oracle = _oracle()
    digits = synthetic_digits(n_train=2000, n_test=500, seed=1)
    x, y = oracle.preprocess(digits.x_train, digits.y_train)
    weights = oracle.train_mlp(x, y, epochs=2, seed=0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.set_weights(weights)
    x_test, _ = oracle.preprocess(digits.x_test, digits.y_test)
    ours = oracle.mlp_logits(weights, x_test)
    np.testing.assert_allclose(ours, np.asarray(model(x_test)), rtol=1e-4, atol=1e-4)
    untrained = oracle.accuracy(oracle.mlp_logits(oracle.init_mlp(np.random.default_rng(0)), x_test), digits.y_test)
    assert oracle.accuracy(ours, digits.y_test) > 0.8 > untrained + 0.5
