"""The Coulomb gas notebook's own solution, run directly: its float32 proposal noise is
standard normal and its sampler keeps the exact Gaussian of one trapped particle.

The hidden checks grade a student's `metropolis`; these tests guard the instructor's
solution, whose fast proposal noise (Box-Muller in float32) is written by hand.
"""
from __future__ import annotations

import numpy as np
import pytest

import ml4p  # noqa: F401 - quiet TensorFlow before it is imported
from ml4p.grading.submissions import exec_solution


@pytest.fixture(scope="module")
def solution():
    import tensorflow as tf

    return exec_solution("coulomb_gas", ("energy_solution", "metropolis_solution"),
                         {"tf": tf, "np": np, "__name__": "coulomb_gas_solution"})


def normal32(solution, shape, seed=(3, 4)):
    import tensorflow as tf

    return solution["_standard_normal32"](tf.constant(shape), tf.constant(seed, tf.int64)).numpy()


@pytest.mark.parametrize("shape", [(7, 3, 2), (5,), (2, 1, 1, 3)])
def test_noise_shapes(solution, shape):
    """Odd sizes and any number of axes: the noise has the shape of x, in float32."""
    z = normal32(solution, shape)
    assert z.shape == shape and z.dtype == np.float32 and np.all(np.isfinite(z))


def test_noise_is_standard_normal(solution):
    """Mean 0, variance 1, kurtosis 3, symmetric, and the Gaussian's tail, within 5 standard errors."""
    z = normal32(solution, (1_000_001,)).astype(np.float64)
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(np.mean(z**4) - 3) < 5 * np.sqrt(96 / n)  # Var(z^4) = 105 - 9
    assert abs(np.mean(z > 0) - 0.5) < 5 * 0.5 / np.sqrt(n)
    tail = np.mean(np.abs(z) > 2)  # 0.0455 for N(0, 1)
    assert abs(tail - 0.0455) < 5 * np.sqrt(0.0455 / n)


def test_noise_pairs_are_independent(solution):
    """Box-Muller's two outputs per pair of uniforms, r cos and r sin, are independent normals:
    no correlation, nor of their squares (they share the radius r)."""
    z = normal32(solution, (2, 500_000)).astype(np.float64)
    bound = 5 / np.sqrt(z.shape[1])
    assert abs(np.corrcoef(z[0], z[1])[0, 1]) < bound
    assert abs(np.corrcoef(z[0] ** 2, z[1] ** 2)[0, 1]) < bound


def test_noise_depends_on_the_key_only(solution):
    assert np.array_equal(normal32(solution, (100,), (1, 2)), normal32(solution, (100,), (1, 2)))
    assert not np.array_equal(normal32(solution, (100,), (1, 2)), normal32(solution, (100,), (1, 3)))


def test_sampler_keeps_the_trap_gaussian_in_float64(solution):
    """One particle in the trap at beta = 1: variance 1/2 per coordinate; the chain stays float64."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x0 = rng.normal(scale=np.sqrt(0.5), size=(4000, 1, 2))
    samples, rate = solution["metropolis"](lambda x: -tf.reduce_sum(x * x, axis=(-2, -1)), x0, 100, 0.8, 5)
    samples = samples.numpy()
    assert samples.dtype == np.float64 and samples.shape == (100, 4000, 1, 2)
    last = samples[-1].ravel()
    assert abs(np.var(last) - 0.5) < 5 * 0.5 * np.sqrt(2 / last.size)
    assert 0.4 < float(rate) < 0.8
    # the proposals are float32 noise scaled by the width, added in float64: steps are not float32-rounded
    steps = np.diff(samples[:, :, 0, 0], axis=0)
    moved = steps[steps != 0]
    assert np.any(moved.astype(np.float32).astype(np.float64) != moved)
