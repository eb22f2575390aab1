"""Hidden checks for part 2, `build_model()`: a Keras MLP 784-128-64-10, ReLU, logits out.

A driver builds a fresh model from the student's `build_model` (under the
distribution strategy) and returns only numbers: the parameter count, the
outputs on a batch x, on 2x and on -x, and the shapes of the weights.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_close, assert_finite, fail
from solutions import mnist as oracle

USE = USES["build_model"]
N = 32
SHAPES = [(784, 128), (128,), (128, 64), (64,), (64, 10), (10,)]  # kernel, bias, layer by layer


@pytest.fixture(scope="module")
def built(student):
    """(count_params, f(x), f(2x), f(-x), weight shapes) of one fresh model."""
    x = np.random.default_rng(20260202).uniform(size=(N, 784)).astype(np.float32)
    return student.call(DRIVER, x, uses=USE)


@pytest.mark.points(0.75)
def test_parameter_count(built):
    """the model has 109,386 parameters: 784·128+128 + 128·64+64 + 64·10+10"""
    count = int(np.asarray(built[0]))
    if count != oracle.count_params():
        fail(f"the model has {count:,} parameters; a 784-128-64-10 network with biases has "
             f"{oracle.count_params():,}")


@pytest.mark.points(0.25)
def test_weight_shapes(built):
    """the weights are those of dense layers 784 → 128 → 64 → 10, with biases"""
    shapes = [tuple(int(n) for n in s) for s in built[4]]
    if shapes != SHAPES:
        fail(f"the trainable weights have shapes {shapes}; dense layers 784 → 128 → 64 → 10 "
             f"have {SHAPES}")


@pytest.mark.points(0.25)
def test_output_shape(built):
    """a batch of N flattened images, (N, 784), gives outputs of shape (N, 10)"""
    assert_finite(built[1], (N, 10), what="the model's output for a (32, 784) batch")


@pytest.mark.points(0.25)
def test_outputs_are_logits(built):
    """the outputs are logits: no softmax (or other activation) on the last layer"""
    out = built[1]
    assert_finite(out, (N, 10), what="the model's output")
    if np.all((out >= 0) & (out <= 1)) and np.allclose(out.sum(axis=-1), 1, atol=1e-4):
        fail("the outputs are probabilities (each row sums to 1): the last layer should give "
             "logits, with no softmax; cross_entropy applies the softmax")
    if np.all(out >= 0):
        fail("the outputs are never negative: the last layer should have no activation, logits "
             "can have any sign")


@pytest.mark.points(0.5)
def test_relu_hidden_layers(built):
    """the hidden layers are ReLU: at initialisation (zero biases) f(2x) = 2 f(x), but f(-x) ≠ -f(x)"""
    out, out2, out_neg = built[1], built[2], built[3]
    assert_finite(out, (N, 10), what="the model's output")
    assert_close(out2, 2 * out, what="f(2x) compared with 2 f(x) (a ReLU network with zero biases is "
                 "positively homogeneous; sigmoid or tanh are not)", dtype=np.float32, rtol=1e-4,
                 atol=1e-5)
    if np.allclose(out_neg, -out, rtol=1e-4, atol=1e-6):
        fail("f(-x) = -f(x): the network is linear (or odd, like tanh); the hidden layers need "
             "a ReLU activation")
