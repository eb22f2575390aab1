"""Hidden checks for part 4, `metropolis(log_prob, x, steps, width, seed)`.

The exact case: one particle in the trap at inverse temperature beta samples
p(x) ~ exp(-beta |x|^2), a Gaussian with variance 1/(2 beta) per coordinate.
"""
import numpy as np
import pytest

from ml4p.grading.numerics import assert_finite, fail
from ml4p.grading.proxy import KernelCode

BETA = 1.0
WIDTH = 0.8
CHAINS = 2000
STEPS = 300
DIM = 2
LOG_PROB = KernelCode(f"lambda x: -{BETA!r} * tf.reduce_sum(x * x, axis=(-2, -1))")


def gaussian_log_prob(x):
    return -BETA * np.sum(x * x, axis=(-2, -1))


def stationary_start(rng):
    """Chains started in equilibrium: exact draws from the target."""
    return rng.normal(scale=np.sqrt(1 / (2 * BETA)), size=(CHAINS, 1, DIM))


@pytest.fixture(scope="module")
def run(student):
    """One long call shared by the statistical checks (the costly part)."""
    rng = np.random.default_rng(20260101)
    x0 = stationary_start(rng)
    samples, rate = student.call("metropolis", LOG_PROB, x0, STEPS, WIDTH, 1234, timeout=120)
    return x0, samples, rate


def expected_acceptance(rng, n=1_000_000):
    """Acceptance of Gaussian proposals in equilibrium, by direct Monte Carlo."""
    x = rng.normal(scale=np.sqrt(1 / (2 * BETA)), size=(n, 1, DIM))
    y = x + WIDTH * rng.normal(size=x.shape)
    return float(np.mean(np.minimum(1.0, np.exp(gaussian_log_prob(y) - gaussian_log_prob(x)))))


@pytest.mark.points(0.5)
def test_shapes(run):
    """samples have shape (steps, *x.shape) and the acceptance rate is one number in [0, 1]"""
    x0, samples, rate = run
    assert_finite(samples, (STEPS, *x0.shape), what="samples")
    rate = np.asarray(rate)
    if rate.size != 1 or not 0 <= float(rate) <= 1:
        fail(f"acceptance_rate should be one number between 0 and 1, got shape {rate.shape}")


@pytest.mark.points(1)
def test_gaussian_variance(run):
    """one particle in the trap: the variance per coordinate is 1/(2 beta) within 5 standard errors"""
    _, samples, _ = run
    assert_finite(samples, samples.shape, what="samples")
    last = samples[-1].reshape(-1)  # independent chains: one draw each per coordinate
    sigma2 = 1 / (2 * BETA)
    bound = 5 * sigma2 * np.sqrt(2 / last.size)
    if abs(np.var(last) - sigma2) > bound:
        fail(f"the sampled variance is {np.var(last):.3f}, but the trap at beta = {BETA:g} gives "
             f"{sigma2:.3f} (allowed ±{bound:.3f}): are proposals accepted with probability "
             "min(1, p(x')/p(x))?")
    mean_bound = 5 * np.sqrt(sigma2 / last.size)
    if abs(np.mean(last)) > mean_bound:
        fail(f"the sampled mean is {np.mean(last):.3f}; it should be 0 within ±{mean_bound:.3f}")


@pytest.mark.points(1)
def test_acceptance_rate(run, rng):
    """the acceptance rate is what Metropolis gives for this width (a sampler that accepts everything fails)"""
    _, _, rate = run
    expected = expected_acceptance(rng)
    got = float(np.asarray(rate).reshape(-1)[0])
    if abs(got - expected) > 0.02:
        fail(f"acceptance rate {got:.3f}; Metropolis with this width should accept about {expected:.3f}")


@pytest.mark.points(0.5)
def test_moves_every_coordinate(run):
    """all-particle proposals: an accepted step moves every coordinate of the chain"""
    x0, samples, _ = run
    moved = samples[0] != x0
    per_chain = moved.reshape(CHAINS, -1)
    partial = np.any(per_chain, axis=1) & ~np.all(per_chain, axis=1)
    if np.any(partial):
        fail("some steps moved only part of a chain's coordinates; propose a move of all of them at once")


@pytest.mark.points(0.5)
def test_reproducible(student, rng):
    """the same seed gives the same chains"""
    x0 = rng.normal(size=(16, 3, 2))
    a, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 7)
    b, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 7)
    if a.shape != b.shape or not np.array_equal(a, b):
        fail("two runs with the same seed gave different samples; derive all randomness from `seed`")


@pytest.mark.points(0.5)
def test_seed_matters(student, rng):
    """different seeds give different chains"""
    x0 = rng.normal(size=(16, 3, 2))
    a, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 7)
    b, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 8)
    if a.shape == b.shape and np.array_equal(a, b):
        fail("seeds 7 and 8 gave identical samples; the seed must drive the random numbers")
