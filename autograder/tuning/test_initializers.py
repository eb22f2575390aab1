"""Hidden checks for part 3: `glorot_uniform`, `he_normal`, `activation_stds`.

The initialisers' statistics are compared with the formulas (oracle) and with samples
of Keras's own `GlorotUniform` and `HeNormal`, within 5 standard errors; the
activation statistics with the oracle's NumPy simulation of the same network.
"""
import keras  # at collection, while the notebook runs: not in the time of the checks
import numpy as np
import pytest
from reference_tf import GLOROT_SQUARE, HE, RELU, TANH, normal_initializer

from ml4p.grading.numerics import assert_dtype, assert_finite, fail
from solutions import tuning as oracle

#: Kernels where fan_in != fan_out (the formulas differ there) and a square one.
SHAPES = [(784, 128), (64, 256), (300, 300)]


def keras_sample(name, shape, seed):
    return np.asarray(getattr(keras.initializers, name)(seed=seed)(shape), np.float64)


def sample(student, name, shape, seed):
    w = student.call(name, shape, seed)
    assert_finite(w, shape, what=f"{name}({shape}, seed)")
    assert_dtype(w, np.float32, what=f"{name}({shape}, seed)")
    return w.astype(np.float64)


def check_variance(w, variance, keras_w, name, kurtosis):
    n = w.size
    standard_error = variance * np.sqrt((kurtosis - 1) / n)  # of a sample variance
    if abs(w.var() - variance) > 5 * standard_error:
        fan_in, fan_out = w.shape
        fail(f"{name}{w.shape}: the weights' variance is {w.var():.4g}; it should be {variance:.4g} "
             f"(fan_in = {fan_in}, fan_out = {fan_out})")
    if abs(w.var() - keras_w.var()) > 5 * np.sqrt(2) * standard_error:
        fail(f"{name}{w.shape}: the weights' variance {w.var():.4g} differs from Keras's ({keras_w.var():.4g})")
    if abs(w.mean()) > 5 * np.sqrt(variance / n):
        fail(f"{name}{w.shape}: the weights' mean is {w.mean():.2g}; it should be 0")


@pytest.mark.points(0.25)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"shape {s}")
def test_glorot_uniform(student, rng, shape):
    """glorot_uniform: uniform between -l and l, l = sqrt(6 / (fan_in + fan_out)), Keras's statistics"""
    seed = int(rng.integers(1000))
    w = sample(student, "glorot_uniform", shape, seed)
    limit = oracle.glorot_limit(*shape)
    if np.abs(w).max() > limit * (1 + 1e-6) or np.abs(w).max() < 0.99 * limit:
        fail(f"glorot_uniform{shape}: the largest |w| is {np.abs(w).max():.4g}; the weights should fill "
             f"[-{limit:.4g}, {limit:.4g}] = [-sqrt(6 / (fan_in + fan_out)), ...]")
    check_variance(w, oracle.glorot_variance(*shape), keras_sample("GlorotUniform", shape, seed), "glorot_uniform",
                   kurtosis=1.8)


@pytest.mark.points(0.25)
@pytest.mark.parametrize("shape", SHAPES[:2], ids=lambda s: f"shape {s}")
def test_he_normal(student, rng, shape):
    """he_normal: mean 0, variance 2 / fan_in, Keras's statistics"""
    seed = int(rng.integers(1000))
    w = sample(student, "he_normal", shape, seed)
    check_variance(w, oracle.he_std(shape[0]) ** 2, keras_sample("HeNormal", shape, seed), "he_normal", kurtosis=3)


@pytest.mark.points(0.25, given=("test_glorot_uniform", "test_he_normal"))
def test_seeds(student):
    """the same seed gives the same weights, another seed other weights"""
    for name in ("glorot_uniform", "he_normal"):
        a, b, c = (student.call(name, (40, 30), seed) for seed in (3, 3, 4))
        if not np.array_equal(a, b):
            fail(f"{name}: two calls with the same seed give different weights (use the stateless random "
                 "functions with seed (seed, 0))")
        if np.array_equal(a, c):
            fail(f"{name}: seeds 3 and 4 give the same weights")


def stds(student, initializer, activation, depth=20, width=128, batch=256, seed=0):
    s = student.call("activation_stds", initializer, activation, depth=depth, width=width, batch=batch, seed=seed)
    assert_finite(s, (depth,), what=f"activation_stds with depth={depth}")
    return s


def slope(s):
    """The change of log(std) per layer, fitted over the layers."""
    return float(np.polyfit(np.arange(len(s)), np.log(s), 1)[0])


@pytest.mark.points(0.5)
def test_activation_stds_first_layer(student, rng):
    """activation_stds: the first layer's output has the std of relu(N(0, c^2)), c * sqrt((1 - 1/pi) / 2)"""
    for c in (np.sqrt(2), float(rng.uniform(0.3, 0.7))):  # He's scale, and one drawn here
        s = stds(student, normal_initializer(f"{float(c)!r} / np.sqrt(fan_in)"), RELU, depth=3, width=256, batch=512)
        want = c * np.sqrt((1 - 1 / np.pi) / 2)
        if abs(s[0] / want - 1) > 0.1:
            fail(f"with weights N(0, c^2 / fan_in), c = {c:.3f}, and ReLU, the first layer's outputs should have a "
                 f"std near {want:.3f} (the std of relu(a), a ~ N(0, c^2)); got {s[0]:.3f}. Is the input N(0, 1)? "
                 "Is the std taken over all entries?")


@pytest.mark.points(0.25, given="test_activation_stds_first_layer")
@pytest.mark.parametrize("case", ["He + relu", "Glorot + relu", "Glorot + tanh", "He + tanh"])
def test_activation_stds_through_depth(student, case):
    """activation_stds: how the std changes through 20 layers matches the simulation"""
    weight_std, kernel_code, activation, act = {
        "He + relu": (np.sqrt(2 / 128), HE, RELU, "relu"),
        "Glorot + relu": (np.sqrt(1 / 128), GLOROT_SQUARE, RELU, "relu"),
        "Glorot + tanh": (np.sqrt(1 / 128), GLOROT_SQUARE, TANH, "tanh"),
        "He + tanh": (np.sqrt(2 / 128), HE, TANH, "tanh")}[case]
    got = slope(stds(student, kernel_code, activation))
    simulated = [slope(oracle.activation_stds(weight_std, act, 20, 128, 256, np.random.default_rng(seed)))
                 for seed in range(4)]
    want, spread = np.mean(simulated), max(np.std(simulated), 0.01)
    if abs(got - want) > 0.05 + 5 * spread:
        fail(f"{case}: log(std) changes by {got:+.3f} per layer; the network of the question changes it by "
             f"{want:+.3f} (for Glorot + relu: -log(2)/2 = -0.347, each layer halves the variance)")
