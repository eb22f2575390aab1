"""The differentiable-programming oracle against exact results and finite differences.

The hidden checks compare students' gradients with `solutions/diff_programming.py`; these
tests make sure its hand-written derivatives and its exact answers are right, independently
of the TensorFlow solution (the notebook runs and `ml4p check` cover that).
"""
from __future__ import annotations

import numpy as np
import pytest

from ml4p.grading.numerics import centred_difference
from solutions import diff_programming as oracle


def smooth_potential(rng, n):
    s = np.linspace(-1, 1, n)
    return 5 * sum(rng.normal() * np.cos(k * np.pi * s + rng.uniform(0, 6)) for k in range(1, 4)) + 10 * s**2


@pytest.mark.parametrize("n", [2, 9, 40])
def test_box_levels_are_the_grid_formula(n):
    """With v = 0 the grid levels are (2 / dx^2) sin^2(k pi / 2(n + 1)), below (k pi)^2 / 2L^2."""
    dx = 0.3
    levels = np.linalg.eigvalsh(oracle.hamiltonian(np.zeros(n), dx))
    k = np.arange(1, n + 1)
    np.testing.assert_allclose(levels, 2 / dx**2 * np.sin(k * np.pi / (2 * (n + 1))) ** 2, rtol=1e-12)
    assert np.all(levels[:3] < oracle.box_levels(n, dx, min(3, n)))
    np.testing.assert_allclose(oracle.ground_state(np.zeros(n), dx)[1], oracle.box_ground_density(n, dx), rtol=1e-10)


def test_harmonic_levels_converge_as_dx_squared():
    """Halving the spacing divides the oscillator's level errors by about four."""
    errors = []
    for n in (201, 401):
        x = np.linspace(-8, 8, n)
        levels = np.linalg.eigvalsh(oracle.hamiltonian(x**2 / 2, x[1] - x[0]))[:4]
        errors.append(np.abs(levels - oracle.harmonic_levels(1.0, 4)))
    ratio = errors[0] / errors[1]
    assert np.all((3.8 < ratio) & (ratio < 4.2)), ratio


def test_density_vjp_against_differences():
    """Perturbation theory's VJP equals centred differences of the density, near-degenerate wells included."""
    rng = np.random.default_rng(0)
    s = np.linspace(-1, 1, 80)
    for v, dx in [(smooth_potential(rng, 30), 0.1), (400 * (s**2 - 0.36) ** 2 + 0.01 * s, 0.05)]:
        u, direction = rng.normal(size=len(v)), rng.normal(size=len(v))
        numeric = centred_difference(lambda p, u=u, dx=dx: np.sum(u * oracle.ground_state(p, dx)[1]), v, direction,
                                     h=1e-6)
        np.testing.assert_allclose(np.sum(oracle.density_vjp(v, dx, u) * direction), numeric, rtol=1e-6)


def test_loss_gradient_against_differences():
    """The loss gradient built on the VJP equals centred differences of the loss."""
    rng = np.random.default_rng(1)
    _, dx, target, v0 = oracle.triangle_problem(60, centre=0.1, half_width=0.4)
    direction = rng.normal(size=60)
    numeric = centred_difference(lambda p: oracle.density_loss(p, target, dx), v0, direction, h=1e-5)
    np.testing.assert_allclose(np.sum(oracle.density_loss_gradient(v0, target, dx) * direction), numeric, rtol=1e-6)


def test_course_problem_starts_where_the_course_does():
    """The course's notebook prints the starting loss 0.38652714355091977 (its inverse_schrodinger.ipynb)."""
    _, dx, target, v0 = oracle.triangle_problem(300)
    assert abs(oracle.density_loss(v0, target, dx) - 0.38652714355091977) < 1e-12
    assert abs(np.sum(target) * dx - 1) < 1e-12


def random_system(rng, k=3):
    a = rng.normal(size=(k + 1, 4, 4)) + 1j * rng.normal(size=(k + 1, 4, 4))
    h = (a + np.conj(np.swapaxes(a, -1, -2))) / 2
    return h[0], h[1:]


def test_propagator_without_controls_is_the_drift():
    """No controls: U = exp(-i T ZZ / 2), so the infidelity is 1 - cos^2(T / 2) / 4 (J = 1)."""
    u = np.zeros((8, 4))
    np.testing.assert_allclose(oracle.propagator(u, 0.25), np.diag(np.exp(-1j * np.array([1, -1, -1, 1]))), atol=1e-13)
    assert abs(oracle.infidelity(u, 0.25) - (1 - np.cos(1.0) ** 2 / 4)) < 1e-13


def test_propagator_is_ordered_and_unitary():
    """The later slice stands on the left; the product is unitary."""
    rng = np.random.default_rng(2)
    h0, hk = random_system(rng)
    u = rng.normal(size=(2, 3))
    first, second = (oracle.propagator(u[j:j + 1], 0.3, h0, hk) for j in (0, 1))
    np.testing.assert_allclose(oracle.propagator(u, 0.3, h0, hk), second @ first, atol=1e-13)
    assert not np.allclose(second @ first, first @ second, atol=1e-3)
    big = oracle.propagator(3 * rng.normal(size=(20, 3)), 0.5, h0, hk)
    np.testing.assert_allclose(big.conj().T @ big, np.eye(4), atol=1e-12)


def test_infidelity_gradient_against_differences():
    """The written-out gradient (divided differences in each slice's eigenbasis) equals centred differences."""
    rng = np.random.default_rng(3)
    h0, hk = random_system(rng)
    u = rng.normal(size=(6, 3))
    for _ in range(3):
        direction = rng.normal(size=u.shape)
        numeric = centred_difference(lambda p: oracle.infidelity(p, 0.3, h0, hk), u, direction, h=1e-5)
        np.testing.assert_allclose(np.sum(oracle.infidelity_gradient(u, 0.3, h0, hk) * direction), numeric,
                                   rtol=1e-7, atol=1e-11)


def test_optimum_and_its_hessian():
    """BFGS reaches the CNOT gate; the Hessian there is symmetric, positive and of rank 15 (SU(4))."""
    u = oracle.optimal_controls(np.random.default_rng(4).normal(size=(5, 4)), 0.8)
    assert oracle.infidelity(u, 0.8) < 1e-12
    hessian = oracle.infidelity_hessian(u, 0.8)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-8 * np.abs(hessian).max())
    values = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    assert values.min() > -1e-6 * values.max()
    assert int(np.sum(values > 1e-6 * values.max())) == 15
