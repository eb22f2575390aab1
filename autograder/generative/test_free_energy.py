"""Hidden checks for part 3, `free_energy(z, layers, beta)`: the variational free energy.

They run with the reference flow and the given energy in place of the notebook's
(`USES`). A driver builds flows of trusted conditioners holding weights chosen here, and
returns the student's estimate, its error and the gradient of the estimate with respect
to every weight (a tape in the kernel: data). Here they are compared with the NumPy oracle
on the same base samples, the gradient with centred differences of the oracle's estimate,
and on Gaussian flows with the exact F[q] = F + KL(q || p) / beta, above F, which the
trusted process knows in closed form.
"""
import math

import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_close, fail, returned
from solutions import generative as oracle

USE = USES["free_energy"]
WIDTH, DEPTH = 8, 4
#: (n, dim, beta, batch) of the comparisons with the oracle.
CASES = [(2, 2, 10.0, 64), (3, 2, 2.0, 32)]
CORRECT = "test_matches_oracle"


def _case_id(case):
    return f"n={case[0]} dim={case[1]} beta={case[2]:g}"


def _call(student, n, dim, layers, z, beta):
    return returned(student.call(DRIVER, n, dim, WIDTH, layers, z, beta, uses=USE), 4,
                    what="the grader's driver (F, its error, the gradient)")


@pytest.fixture(scope="module")
def runs(student):
    out = {}
    for case in CASES:
        n, dim, beta, batch = case
        rng = np.random.default_rng([20261205, 4, n, dim])
        layers = oracle.random_layers(rng, n, dim, DEPTH, WIDTH, scale=0.3)
        z = rng.normal(size=(batch, n, dim))
        out[case] = (layers, z, _call(student, n, dim, layers, z, beta))
    return out


@pytest.mark.points(1)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_oracle(runs, case):
    """F is the mean of ln q(x) / beta + H(x) over the flow's samples, with its standard error"""
    _, _, beta, _ = case
    layers, z, (_, value, error, _) = runs[case]
    want, want_error = oracle.free_energy(z, layers, beta)
    assert_close(value, np.asarray(want), what="the free-energy estimate", rtol=1e-10, atol=1e-10)
    assert_close(error, np.asarray(want_error), what="its standard error (std / sqrt(batch))", rtol=1e-8,
                 atol=1e-10)


@pytest.mark.points(1, given=CORRECT)
@pytest.mark.parametrize("case", CASES[:1], ids=_case_id)
def test_gradient(runs, case):
    """the tape's gradient of F with respect to the flow's weights matches centred differences (1e-6)"""
    n, dim, beta, _ = case
    layers, z, (_, _, _, gradient) = runs[case]
    flat = [w for _, weights in layers for w in weights]
    if len(gradient) != len(flat) or any(np.shape(g) != np.shape(w) for g, w in zip(gradient, flat)):
        fail("the gradient does not have one array per weight of the flow")
    rng = np.random.default_rng([20261205, 5])
    h = 1e-5
    for _ in range(3):
        direction = [rng.normal(size=np.shape(w)) for w in flat]
        norm = math.sqrt(sum(float(np.sum(d**2)) for d in direction))
        direction = [d / norm for d in direction]

        def moved(sign, direction=direction):
            items = iter(w + sign * h * d for w, d in zip(flat, direction))
            return [(mask, tuple(next(items) for _ in weights)) for mask, weights in layers]

        want = (oracle.free_energy(z, moved(1), beta)[0] - oracle.free_energy(z, moved(-1), beta)[0]) / (2 * h)
        got = sum(float(np.sum(g * d)) for g, d in zip(gradient, direction))
        if abs(got - want) > 1e-6 * max(1.0, abs(want)):
            fail(f"a directional derivative of F is {got:.8g} by the tape, {want:.8g} by centred differences")


def gaussian_flow(n, dim, beta, ratio):
    """Two couplings (each changes every other coordinate once) that scale N(0, 1) to N(0, sigma^2),
    sigma^2 = ratio / (2 beta): the Boltzmann distribution of n = 1 when ratio = 1."""
    d = n * dim
    log_sigma = 0.5 * math.log(ratio / (2 * beta))
    zeros = [np.zeros((d, WIDTH)), np.zeros(WIDTH), np.zeros((WIDTH, WIDTH)), np.zeros(WIDTH),
             np.zeros((WIDTH, 2 * d))]
    last = np.concatenate([np.full(d, log_sigma), np.zeros(d)])
    return [(mask, (*zeros, last)) for mask in oracle.masks(n, dim, 2)]


@pytest.mark.points(0.5)
def test_exact_at_the_boltzmann_distribution(student):
    """a flow equal to the Boltzmann distribution (n = 1) gives the exact F with zero error"""
    beta = 10.0
    layers = gaussian_flow(1, 2, beta, 1.0)
    z = np.random.default_rng([20261205, 6]).normal(size=(50, 1, 2))
    _, value, error, _ = _call(student, 1, 2, layers, z, beta)
    exact = oracle.exact_free_energy(1, 2, beta)
    if not (np.shape(value) == () and abs(float(value) - exact) < 1e-10):
        fail("when q is the Boltzmann distribution, ln q / beta + H is the same for every sample (-ln Z / beta); "
             f"the estimate is {np.ravel(value)[:1]}")
    if not (np.shape(error) == () and abs(float(error)) < 1e-10):
        fail("when q is the Boltzmann distribution the estimate's error should be 0")


@pytest.mark.points(0.5)
@pytest.mark.parametrize("ratio", [0.6, 1.6], ids=lambda r: f"width ratio {r}")
def test_variational_bound(student, ratio):
    """for a Gaussian q of the wrong width the estimate agrees with F + KL(q||p)/beta > F within 4 errors"""
    beta, d = 10.0, 2
    layers = gaussian_flow(1, 2, beta, ratio)
    z = np.random.default_rng([20261205, 7, int(10 * ratio)]).normal(size=(4000, 1, 2))
    _, value, error, _ = _call(student, 1, 2, layers, z, beta)
    kl = d / 2 * (ratio - 1 - math.log(ratio))  # KL(N(0, r s^2) || N(0, s^2)) in d dimensions
    exact = oracle.exact_free_energy(1, 2, beta) + kl / beta
    if np.shape(value) != () or np.shape(error) != ():
        fail("free_energy should return two numbers")
    value, error = float(value), float(error)
    if not (math.isfinite(value) and math.isfinite(error) and error > 0):
        fail(f"the estimate {value:.6g} +- {error:.3g} is not a finite number with a positive error")
    if abs(value - exact) > 4 * error + 1e-12:
        fail(f"the estimate {value:.6f} +- {error:.2g} is not within 4 errors of F[q] (a bound above the exact F)")
