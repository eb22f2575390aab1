"""The generative-models oracle against exact results, direct integration and finite differences.

The hidden checks compare students' flows and estimators with `solutions/generative.py` and
the trained flows with its exact free energies; these tests make sure those are right,
independently of the TensorFlow solution (the notebook runs and `ml4p check` cover that).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from solutions import generative as oracle

BETA = 10.0


def test_stored_values_are_what_the_quadrature_gives():
    for key, value in oracle.REFERENCE_FREE_ENERGIES.items():
        assert oracle.exact_free_energy(*key) == pytest.approx(value, rel=1e-12), key
    for key, value in oracle.REFERENCE_MEAN_ENERGIES.items():
        assert oracle.exact_mean_energy(*key) == pytest.approx(value, rel=1e-12), key


def grid_free_energy(n, dim, beta, half=3.0, points=801):
    """-ln Z / beta by brute force: exp(-beta H) summed on a grid of all n dim coordinates (n dim <= 2)."""
    axis = np.linspace(-half, half, points)
    x = np.stack(np.meshgrid(*[axis] * (n * dim), indexing="ij"), axis=-1).reshape(-1, n, dim)
    with np.errstate(divide="ignore"):
        h = oracle.energy(x)
    z = np.sum(np.exp(-beta * (h - 1.5))) * (axis[1] - axis[0]) ** (n * dim)
    return -(math.log(z) - 1.5 * beta) / beta


@pytest.mark.parametrize("n, dim", [(1, 1), (1, 2), (2, 1)])
def test_free_energy_by_direct_integration(n, dim):
    """The closed form (n = 1) and the centre-of-mass reduction (n = 2) against a brute-force grid."""
    assert oracle.exact_free_energy(n, dim, BETA) == pytest.approx(grid_free_energy(n, dim, BETA), abs=1e-6)


@pytest.mark.parametrize("n, dim", [(1, 2), (2, 1), (2, 2), (2, 3)])
def test_mean_energy_is_the_derivative_of_beta_f(n, dim):
    """<H> = d(beta F)/d beta, by centred differences of the quadrature."""
    h = 1e-4
    derivative = ((BETA + h) * oracle.exact_free_energy(n, dim, BETA + h)
                  - (BETA - h) * oracle.exact_free_energy(n, dim, BETA - h)) / (2 * h)
    assert oracle.exact_mean_energy(n, dim, BETA) == pytest.approx(derivative, rel=1e-7)


def test_two_charges_approach_the_harmonic_limit():
    """At large beta, F -> E0 - (1/beta) ln of the Gaussian integral around the ring of radius 1:
    E0 = 3/2, and the separation's radial curvature is 3 (g = 1/r + r^2/2, g'' = 3 at r = 1)."""
    beta = 400.0
    com = math.log(math.pi / (2 * beta))
    ring = math.log(2 * math.pi * math.sqrt(2 * math.pi / (3 * beta)))  # circumference 2 pi, Gaussian width
    harmonic = 1.5 - (com + ring) / beta
    assert oracle.exact_free_energy(2, 2, beta) == pytest.approx(harmonic, abs=1e-5)


@pytest.fixture
def layers():
    return oracle.random_layers(np.random.default_rng(0), 2, 2, 4, 8, scale=0.4)


def test_flow_inverts_and_its_log_det_is_the_jacobians(layers):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 2, 2))
    x, log_det = oracle.flow_forward(z, layers)
    back, back_log_det = oracle.flow_inverse(x, layers)
    np.testing.assert_allclose(back, z, atol=1e-12)
    np.testing.assert_allclose(log_det + back_log_det, 0, atol=1e-12)
    h = 1e-6
    for b in range(3):
        columns = []
        for k in range(4):
            step = np.zeros(4)
            step[k] = h
            plus = oracle.flow_forward(z[b:b + 1] + step.reshape(1, 2, 2), layers)[0].ravel()
            minus = oracle.flow_forward(z[b:b + 1] - step.reshape(1, 2, 2), layers)[0].ravel()
            columns.append((plus - minus) / (2 * h))
        assert np.linalg.slogdet(np.stack(columns, axis=1))[1] == pytest.approx(log_det[b], abs=1e-7)


def test_log_prob_is_normalised_and_agrees_with_sample():
    layers = oracle.random_layers(np.random.default_rng(2), 1, 2, 4, 8, scale=0.3)
    axis = np.linspace(-9, 9, 181)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 1, 2)
    assert np.sum(np.exp(oracle.log_prob(grid, layers))) * (axis[1] - axis[0]) ** 2 == pytest.approx(1, abs=1e-6)
    x, log_q = oracle.sample(np.random.default_rng(3).normal(size=(5, 1, 2)), layers)
    np.testing.assert_allclose(oracle.log_prob(x, layers), log_q, rtol=1e-12)


def test_estimators_are_exact_at_the_boltzmann_distribution():
    """A flow that scales N(0, 1) to N(0, 1/(2 beta)) is p for n = 1: F exact with zero error,
    equal importance weights."""
    width, log_sigma = 8, 0.5 * math.log(1 / (2 * BETA))
    weights = (np.zeros((2, width)), np.zeros(width), np.zeros((width, width)), np.zeros(width),
               np.zeros((width, 4)), np.array([log_sigma, log_sigma, 0.0, 0.0]))
    layers = [(mask, weights) for mask in oracle.masks(1, 2, 2)]
    z = np.random.default_rng(4).normal(size=(100, 1, 2))
    f, error = oracle.free_energy(z, layers, BETA)
    assert f == pytest.approx(oracle.exact_free_energy(1, 2, BETA), rel=1e-12) and error < 1e-12
    x, log_q = oracle.sample(z, layers)
    f_is, mean_energy, ess = oracle.importance(x, log_q, BETA)
    assert f_is == pytest.approx(f, rel=1e-12) and ess == pytest.approx(1.0, rel=1e-12)
    assert mean_energy == pytest.approx(np.mean(oracle.energy(x)), rel=1e-12)
