"""Hidden checks for part 5, `importance_estimates(x, log_q, beta)`: reweighting a flow's samples.

The function is called with samples and their ln q made here (the given energy is the
reference, `USES`): samples of random flows (against the oracle, at a beta so large that
exp(-beta H) underflows unless the weights are handled in logarithms), exact Boltzmann
samples of n = 1 (every weight equal: an effective sample size of 1 and F exact), and
Gaussian samples of n = 2 reweighted to the exact <H> and F of quadrature.
"""
import math

import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import assert_close, fail, returned
from solutions import generative as oracle

USE = USES["importance"]
#: (n, dim, beta, samples) of the comparisons with the oracle; beta = 200 makes exp(-beta H) underflow.
CASES = [(2, 2, 10.0, 500), (3, 2, 200.0, 500)]
CORRECT = "test_matches_oracle"
WHAT = "importance_estimates (F, <H>, the effective sample size / N)"


def _case_id(case):
    return f"n={case[0]} dim={case[1]} beta={case[2]:g}"


@pytest.mark.points(1)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_oracle(student, case):
    """F = -ln(mean w) / beta, the self-normalised <H> and the ESS of the weights w = exp(-beta H) / q"""
    n, dim, beta, samples = case
    rng = np.random.default_rng([20261205, 9, n, dim])
    layers = oracle.random_layers(rng, n, dim, 4, 8, scale=0.3)
    x, log_q = oracle.sample(rng.normal(size=(samples, n, dim)), layers)
    got = returned(student.call("importance_estimates", x, log_q, beta, uses=USE), 3, what=WHAT)
    for value, want, what in zip(got, oracle.importance(x, log_q, beta), ("F", "<H>", "the ESS fraction")):
        assert_close(value, np.asarray(want), what=what, rtol=1e-9, atol=1e-10)


@pytest.mark.points(0.5, given=CORRECT)
def test_exact_samples(student):
    """samples of the Boltzmann distribution itself (n = 1) have equal weights: ESS = 1 and F exact"""
    beta = 10.0
    sigma = 1 / math.sqrt(2 * beta)
    x = sigma * np.random.default_rng([20261205, 10]).normal(size=(300, 1, 2))
    log_q = -np.sum(x**2, axis=(-2, -1)) / (2 * sigma**2) - math.log(2 * math.pi * sigma**2)
    f, mean_energy, ess = returned(student.call("importance_estimates", x, log_q, beta, uses=USE), 3, what=WHAT)
    assert_close(f, np.asarray(oracle.exact_free_energy(1, 2, beta)), what="F from exact samples", rtol=1e-10)
    assert_close(mean_energy, np.asarray(np.mean(oracle.energy(x))), what="<H> from exact samples", rtol=1e-10)
    assert_close(ess, np.asarray(1.0), what="the ESS fraction of equal weights", rtol=1e-10)


@pytest.mark.points(1)
def test_reweighting_recovers_exact_values(student):
    """Gaussian samples reweighted to n = 2 (2D, beta = 10) give the exact <H> and F within 5 errors"""
    beta, n, dim, sigma, samples = 10.0, 2, 2, 0.4, 50_000
    x = sigma * np.random.default_rng([20261205, 11]).normal(size=(samples, n, dim))
    log_q = -np.sum(x**2, axis=(-2, -1)) / (2 * sigma**2) - n * dim / 2 * math.log(2 * math.pi * sigma**2)
    f, mean_energy, ess = (float(v) for v in returned(
        student.call("importance_estimates", x, log_q, beta, uses=USE), 3, what=WHAT))
    if not (0 < ess <= 1):
        fail(f"the ESS fraction should lie in (0, 1], not {ess:.3g}")
    # the errors follow from the weights, which the grader computes itself
    e = oracle.energy(x)
    log_w = -beta * e - log_q
    w = np.exp(log_w - log_w.max())
    w_norm = w / w.sum()
    ess_n = 1 / np.sum(w_norm**2)
    energy_error = math.sqrt(np.sum(w_norm * (e - np.sum(w_norm * e)) ** 2) / ess_n)
    f_error = math.sqrt(max(samples / ess_n - 1, 0) / samples) / beta
    exact_energy = oracle.REFERENCE_MEAN_ENERGIES[(n, dim, beta)]
    exact_f = oracle.REFERENCE_FREE_ENERGIES[(n, dim, beta)]
    if abs(mean_energy - exact_energy) > 5 * energy_error:
        fail(f"the reweighted <H> = {mean_energy:.5f} is not within 5 errors ({energy_error:.1g}) of the exact "
             "value")
    if abs(f - exact_f) > 5 * f_error:
        fail(f"the reweighted F = {f:.5f} is not within 5 errors ({f_error:.1g}) of the exact value")
