"""Hidden checks for part 2, `build_model()`: a Keras MLP 784-128-64-10, ReLU, logits out.

A driver builds a fresh model from the student's `build_model` (under the
distribution strategy) and returns only arrays: the model's weights and its outputs
on a batch x. Everything is decided here from those arrays: the parameters are
counted from the weights, and the outputs must be those of dense layers holding
these weights (a NumPy forward pass), which also tells the activations apart; an
object that only pretends to be the model (outputs that do not follow from its
weights) passes nothing.
"""
import math

import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_finite, fail
from solutions import mnist as oracle

USE = USES["build_model"]
N = 32
SHAPES = [(784, 128), (128,), (128, 64), (64,), (64, 10), (10,)]  # kernel, bias, layer by layer
COMPUTES = "test_computes_with_its_weights"


def _gelu(a):
    return 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))


def _softmax(a):
    return oracle.softmax(a)


#: Activations a hidden layer may have (Keras's names), and the last layer.
HIDDEN = {
    "relu": lambda a: np.maximum(a, 0),
    "none (linear)": lambda a: a,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "tanh": np.tanh,
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))),
    "selu": lambda a: 1.0507009873554805 * np.where(a > 0, a, 1.6732632423543772 * np.expm1(np.minimum(a, 0))),
    "gelu": _gelu,
    "silu (swish)": lambda a: a / (1 + np.exp(-a)),
    "softplus": lambda a: np.logaddexp(a, 0),
    "relu6": lambda a: np.clip(a, 0, 6),
    "mish": lambda a: a * np.tanh(np.logaddexp(a, 0)),
    **{f"leaky_relu ({slope})": (lambda s: lambda a: np.where(a > 0, a, s * a))(slope)
       for slope in (0.2, 0.3, 0.01, 0.1)},  # Keras's activation, its layer, PyTorch's default, ...
}
LAST = {"none": lambda a: a, "softmax": _softmax, "relu": HIDDEN["relu"], "sigmoid": HIDDEN["sigmoid"]}


def _matches(actual, expected) -> bool:
    scale = max(1.0, float(np.max(np.abs(expected))))
    return bool(np.allclose(actual, expected, rtol=1e-4, atol=1e-5 * scale))


def identify(x, weights, outputs):
    """(dense layers of the weights or None, (hidden, last) activations that give the outputs or None)."""
    layers = oracle.dense_layers(weights)
    if layers is None or layers[0][0].shape[0] != x.shape[1] or outputs.shape != (len(x), layers[-1][0].shape[1]) \
            or not np.all(np.isfinite(outputs)):
        return layers, None
    for hidden, f in HIDDEN.items():
        with np.errstate(all="ignore"):
            pre = oracle.mlp_logits(layers, x, activation=f)
        for last, g in LAST.items():
            with np.errstate(all="ignore"):
                if _matches(outputs, g(pre)):
                    return layers, (hidden, last)
    return layers, None


@pytest.fixture(scope="module")
def built(student):
    """(x, weights, dense layers, outputs on x, (hidden, last) activations the outputs match, or None)."""
    rng = np.random.default_rng(20260202)
    x = np.concatenate([rng.uniform(size=(N // 2, 784)), -rng.uniform(size=(N // 2, 784))]).astype(np.float32)
    weights, outputs = student.call(DRIVER, x, uses=USE)
    weights = tuple(np.asarray(w) for w in weights)
    outputs = np.asarray(outputs)
    layers, match = identify(x, weights, outputs)
    return x, weights, layers, outputs, match


@pytest.mark.points(0.25)
def test_computes_with_its_weights(built):
    """the model is a stack of Dense layers: its outputs follow from its weights, and depend on the input"""
    x, weights, layers, outputs, match = built
    if layers is None:
        fail(f"the model's weights have shapes {[w.shape for w in weights]}: those of a stack of Dense "
             "layers are a kernel (inputs, units) and a bias (units,) per layer, each layer taking the "
             "previous one's units")
    if layers[0][0].shape[0] != 784:
        fail(f"the first layer takes {layers[0][0].shape[0]} inputs; the flattened images have 784")
    assert_finite(outputs, outputs.shape, what="the model's outputs")
    if match is None:
        fail("the model's outputs are not those of Dense layers holding its weights (with one of Keras's "
             "activations): build a plain keras.Sequential of keras.layers.Dense")
    if np.ptp(outputs, axis=0).max() < 1e-6:
        fail("the model's outputs are the same for every input: its weights are zero, or it ignores its "
             "input")


@pytest.mark.points(0.75, given=COMPUTES)
def test_parameter_count(built):
    """the model has 109,386 parameters: 784·128+128 + 128·64+64 + 64·10+10"""
    count = sum(int(np.size(w)) for w in built[1])
    if count != oracle.count_params():
        fail(f"the model has {count:,} parameters; a 784-128-64-10 network with biases has "
             f"{oracle.count_params():,}")


@pytest.mark.points(0.25, given=COMPUTES)
def test_weight_shapes(built):
    """the weights are those of dense layers 784 → 128 → 64 → 10, with biases"""
    shapes = [tuple(np.shape(w)) for w in built[1]]
    if shapes != SHAPES:
        fail(f"the weights have shapes {shapes}; dense layers 784 → 128 → 64 → 10 have {SHAPES}")


@pytest.mark.points(0.25, given=COMPUTES)
def test_output_shape(built):
    """a batch of N flattened images, (N, 784), gives outputs of shape (N, 10)"""
    assert_finite(built[3], (N, 10), what="the model's output for a (32, 784) batch")


@pytest.mark.points(0.25, given=COMPUTES)
def test_outputs_are_logits(built):
    """the outputs are logits: no softmax (or other activation) on the last layer"""
    match = built[4]
    if match is None:
        fail("the model's outputs are not those of Dense layers holding its weights")
    if match[1] == "softmax":
        fail("the outputs are probabilities (a softmax on the last layer): the last layer should give "
             "logits, with no activation; cross_entropy applies the softmax")
    if match[1] != "none":
        fail(f"the last layer has a {match[1]} activation: it should have none, logits can have any sign")


@pytest.mark.points(0.5, given=COMPUTES)
def test_relu_hidden_layers(built):
    """the hidden layers have the ReLU activation, max(a, 0)"""
    match = built[4]
    if match is None:
        fail("the model's outputs are not those of Dense layers holding its weights")
    if match[0] != "relu":
        fail(f"the hidden layers' activation is {match[0]}: it should be ReLU (activation=\"relu\")")
