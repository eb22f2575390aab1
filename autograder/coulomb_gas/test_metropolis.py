"""Hidden checks for part 4, `metropolis(log_prob, x, steps, width, seed)`.

The exact case: one particle in the trap at inverse temperature beta samples
p(x) ~ exp(-beta |x|^2), a Gaussian with variance 1/(2 beta) per coordinate.

The chains start *out of equilibrium*, all at one point far from the trap's centre,
so a chain that never moves (or barely) cannot have the right statistics. What the
chains do on their way is compared with what Metropolis with this width does: a long
run of the NumPy oracle `solutions.coulomb_gas.metropolis` (from the same start, in
this trusted process) gives the expected path of the mean and of |x|^2, the expected
acceptance and the expected autocorrelation in equilibrium, and the spread of its
chains gives the standard errors. So a sampler that teleports (independent exact
draws, ignoring the proposal) fails as well as one that never moves. Every
statistical tolerance is at least 5 standard errors.

One long student call and one oracle run are shared by the statistical checks
(module fixtures); everything is decided from the arrays that came back.
"""
import math

import numpy as np
import pytest

from ml4p.grading.numerics import assert_finite, fail
from ml4p.grading.plugin import ahead
from ml4p.grading.proxy import KernelCode
from solutions import coulomb_gas as oracle

BETA = 1.0
WIDTH = 0.8
CHAINS = 2000
STEPS = 300
DIM = 2
START = (2.0, -1.5)  # every chain starts here, 2.5 from the centre (3.5 standard deviations)
LOG_PROB = KernelCode(f"lambda x: -{BETA!r} * tf.reduce_sum(x * x, axis=(-2, -1))")

ORACLE_CHAINS = 10_000
ORACLE_SEED = 20260214
#: Steps after which the path is compared (the chains relax in about 30 steps).
PATH_STEPS = (1, 2, 3, 5, 8, 13, 21, 34, 55)
#: Equilibrium: the steps from BURN on (the oracle's mean is 0 within its noise by then).
BURN = 100
#: Steps whose states are pooled as (nearly) independent draws for the shape of the
#: distribution: 50 steps apart, the autocorrelation of x is about 1e-5.
DRAW_STEPS = (100, 150, 200, 250, 300)
LAGS = (1, 5)
Z = 5.0  # standard errors allowed
RATE_SLACK = 1e-3  # reported acceptance vs the fraction of steps that moved a chain
PARTIAL_MOVES = 1e-3  # of the moves, the fraction that may leave a coordinate unchanged

# Checks that a frozen chain, echoed or constant samples, or independent exact draws fail:
# the ones they pass by themselves count only together with these.
DYNAMICS = ("test_relaxation_path", "test_autocorrelation", "test_acceptance_rate")


def gaussian_log_prob(x):
    return -BETA * np.sum(x * x, axis=(-2, -1))


def far_start(chains):
    return np.broadcast_to(np.asarray(START, np.float64), (chains, 1, DIM)).copy()


# ------------------------------------------------------------------ statistics
# Each takes samples (STEPS, chains, 1, DIM) and the start (chains, 1, DIM) and returns
# per-chain values; checks compare the student's chain mean with the oracle's, the
# oracle's spread over its chains giving the standard error.

def path_values(samples):
    """(len(PATH_STEPS), chains, DIM + 1): x and |x|^2 after each of PATH_STEPS."""
    x = samples[[t - 1 for t in PATH_STEPS], :, 0, :]
    return np.concatenate([x, np.sum(x * x, axis=-1, keepdims=True)], axis=-1)


def equilibrium_values(samples):
    """(DIM + 1, chains): per chain, the mean of x and of |x|^2 over the equilibrium steps."""
    x = samples[BURN:, :, 0, :]
    return np.concatenate([np.mean(x, axis=0), np.mean(np.sum(x * x, axis=-1), axis=0)[:, None]], axis=-1).T


def lag_values(samples):
    """(len(LAGS), chains): per chain, the mean of x_t . x_{t+k} over the equilibrium steps."""
    x = samples[BURN:, :, 0, :]
    return np.stack([np.mean(np.sum(x[:-k] * x[k:], axis=-1), axis=0) for k in LAGS])


def moved(x0, samples):
    """(STEPS, chains) bool: whether step t changed the chain's state."""
    before = np.concatenate([x0[None], samples[:-1]])
    return np.any((samples != before).reshape(samples.shape[0], samples.shape[1], -1), axis=-1)


def z_scores(student_values, oracle_values):
    """(student chain mean - oracle chain mean) / standard error, chains on axis -1."""
    n, m = student_values.shape[-1], oracle_values.shape[-1]
    spread = np.var(oracle_values, axis=-1, ddof=1)
    se = np.sqrt(spread * (1 / n + 1 / m))
    return (np.mean(student_values, axis=-1) - np.mean(oracle_values, axis=-1)) / se


def ks_exponential(values):
    """Kolmogorov-Smirnov distance of the values from Exp(1)."""
    v = np.sort(values)
    cdf = 1 - np.exp(-v)
    n = v.size
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


# ------------------------------------------------------------------ fixtures

@ahead
def oracle_run():
    """What Metropolis with this width does from the far start: one long oracle run (computed while
    the notebook executes)."""
    x0 = far_start(ORACLE_CHAINS)
    samples, rate = oracle.metropolis(gaussian_log_prob, x0, STEPS, WIDTH, ORACLE_SEED)
    return {"path": path_values(samples), "lags": lag_values(samples), "equilibrium": equilibrium_values(samples),
            "moves": np.mean(moved(x0, samples), axis=0), "rate": rate}


@pytest.fixture(scope="module")
def expected():
    return oracle_run()


@pytest.fixture(scope="module")
def run(student):
    """One long call shared by the statistical checks (the costly part)."""
    x0 = far_start(CHAINS)
    samples, rate = student.call("metropolis", LOG_PROB, x0, STEPS, WIDTH, 1234, timeout=120)
    return x0, samples, rate


def chains_of(run):
    """The samples, checked to be finite and of shape (STEPS, CHAINS, 1, DIM), as float64."""
    x0, samples, _ = run
    assert_finite(samples, (STEPS, *x0.shape), what="samples")
    return samples.astype(np.float64)


# ------------------------------------------------------------------ checks

@pytest.mark.points(1)
def test_relaxation_path(run, expected):
    """from a start far from the centre, the chains relax the way Metropolis with this width does"""
    samples = chains_of(run)
    z = z_scores(np.moveaxis(path_values(samples), 1, -1), np.moveaxis(expected["path"], 1, -1))
    worst = np.unravel_index(np.argmax(np.abs(z)), z.shape)
    if not np.all(np.isfinite(z)) or abs(z[worst]) > Z:
        what = "|x|^2" if worst[1] == DIM else f"coordinate {worst[1]}"
        steps = PATH_STEPS[worst[0]]
        fail(f"after {steps} step{'s' * (steps > 1)} from a start far out, the chains' mean of {what} is "
             f"{abs(z[worst]):.1f} standard errors from what Metropolis with this width gives (allowed {Z:g}): "
             "each step proposes x' = x + width * N(0, 1) and accepts it with probability min(1, p(x')/p(x))")


@pytest.mark.points(1, given=DYNAMICS)
def test_relaxes_to_gaussian(run, expected):
    """one particle in the trap: the chains end in the Gaussian of variance 1/(2 beta) per coordinate"""
    samples = chains_of(run)
    # The moments over all equilibrium steps, against the exact values; the standard error
    # comes from the spread of the oracle's chains (it includes the autocorrelation).
    got = np.mean(equilibrium_values(samples), axis=-1)
    exact = np.array([0.0] * DIM + [DIM / (2 * BETA)])
    se = np.std(expected["equilibrium"], axis=-1, ddof=1) / np.sqrt(CHAINS)
    z = (got - exact) / se
    if not np.all(np.isfinite(z)) or abs(z[DIM]) > Z:
        fail(f"in equilibrium the sampled mean of x^2 per coordinate is {got[DIM] / DIM:.3f}, but the trap at "
             f"beta = {BETA:g} gives a variance of {1 / (2 * BETA):.3f} ({abs(z[DIM]):.1f} standard errors off, "
             f"allowed {Z:g}): "
             "are proposals accepted with probability min(1, p(x')/p(x))?")
    if np.max(np.abs(z[:DIM])) > Z:
        fail(f"in equilibrium the sampled mean is {np.round(got[:DIM], 3)}; it should be 0 "
             f"({np.max(np.abs(z[:DIM])):.1f} standard errors off, allowed {Z:g})")
    # The shape, not only the moments: at steps far apart (nearly independent draws),
    # beta |x|^2 of a 2D Gaussian of variance 1/(2 beta) per coordinate is Exp(1).
    draws = samples[[t - 1 for t in DRAW_STEPS], :, 0, :]  # (times, chains, DIM)
    distance = ks_exponential(BETA * np.sum(draws * draws, axis=-1).reshape(-1))
    critical = math.sqrt(math.log(2 / 6e-7) / (2 * draws.shape[0] * draws.shape[1]))  # the 5-sigma tail
    if distance > critical:
        fail(f"in equilibrium the distribution of |x|^2 is not that of the Gaussian: Kolmogorov-Smirnov "
             f"distance {distance:.3f} (allowed {critical:.3f})")


@pytest.mark.points(0.5)
def test_autocorrelation(run, expected):
    """in equilibrium, successive states are as correlated as Metropolis with this width makes them"""
    samples = chains_of(run)
    z = z_scores(lag_values(samples), expected["lags"])
    sigma2 = DIM / (2 * BETA)
    for k, zk, got, want in zip(LAGS, z, np.mean(lag_values(samples), axis=-1), np.mean(expected["lags"], axis=-1)):
        if not np.isfinite(zk) or abs(zk) > Z:
            fail(f"in equilibrium the lag-{k} autocorrelation of the chains is {got / sigma2:.3f}; Metropolis with "
                 f"this width gives {want / sigma2:.3f} ({abs(zk):.1f} standard errors off, allowed {Z:g}): "
                 "a chain moves by one accepted proposal x + width * N(0, 1) or stays where it is")


@pytest.mark.points(0.5)
def test_acceptance_rate(run, expected):
    """the reported acceptance rate is the fraction of steps that moved a chain, and what Metropolis gives"""
    x0, _, rate = run
    samples = chains_of(run)
    rate = np.asarray(rate, dtype=np.float64).reshape(-1)
    if rate.size != 1 or not np.isfinite(rate[0]):
        fail(f"acceptance_rate should be one number, got shape {np.shape(run[2])}")
    moves = np.mean(moved(x0, samples), axis=0)  # per chain: the fraction of steps it moved
    if abs(rate[0] - np.mean(moves)) > RATE_SLACK:
        fail(f"acceptance_rate is {rate[0]:.4f}, but the chains moved in a fraction {np.mean(moves):.4f} of the "
             "steps: a chain moves exactly when its proposal is accepted")
    z = z_scores(moves[None], expected["moves"][None])[0]
    if abs(z) > Z:
        fail(f"the chains accepted {np.mean(moves):.3f} of the proposals; Metropolis with this width accepts "
             f"{expected['rate']:.3f} on this run ({abs(z):.1f} standard errors off, allowed {Z:g})")


@pytest.mark.points(0.25, given=DYNAMICS)
def test_shapes(run):
    """samples have shape (steps, *x.shape) and the acceptance rate is one number in [0, 1]"""
    x0, samples, rate = run
    assert_finite(samples, (STEPS, *x0.shape), what="samples")
    rate = np.asarray(rate)
    if rate.size != 1 or not 0 <= float(rate.reshape(-1)[0]) <= 1:
        fail(f"acceptance_rate should be one number between 0 and 1, got shape {rate.shape}")


@pytest.mark.points(0.25, given=DYNAMICS)
def test_moves_every_coordinate(run):
    """all-particle proposals: an accepted step moves every coordinate of the chain"""
    x0, _, _ = run
    samples = chains_of(run)
    before = np.concatenate([x0[None], samples[:-1]])
    changed = (samples != before).reshape(STEPS, CHAINS, -1)
    partial = np.any(changed, axis=-1) & ~np.all(changed, axis=-1)
    # A proposal whose noise is exactly 0 in one coordinate (float32 noise can be) moves the
    # others only: allow such rare coincidences, not a sampler that updates coordinates one by one.
    if np.sum(partial) > PARTIAL_MOVES * max(1, np.sum(np.any(changed, axis=-1))):
        fail(f"{np.sum(partial)} steps moved only part of a chain's coordinates; propose a move of all of "
             "them at once")


@pytest.mark.points(0.25, given=DYNAMICS)
def test_reproducible(student, rng):
    """the same seed gives the same chains"""
    x0 = rng.normal(size=(16, 3, 2))
    a, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 7)
    b, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 7)
    if a.shape != b.shape or not np.array_equal(a, b):
        fail("two runs with the same seed gave different samples; derive all randomness from `seed`")


@pytest.mark.points(0.25, given=DYNAMICS)
def test_seed_matters(student, rng):
    """different seeds give different chains"""
    x0 = rng.normal(size=(16, 3, 2))
    a, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 7)
    b, _ = student.call("metropolis", LOG_PROB, x0, 20, WIDTH, 8)
    if a.shape == b.shape and np.array_equal(a, b):
        fail("seeds 7 and 8 gave identical samples; the seed must drive the random numbers")
