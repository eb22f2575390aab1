"""Hidden checks for part 2a, the ground state on a grid: `hamiltonian(v, dx)` and
`ground_state(v, dx)` -> (E_0, rho), rho = psi_0^2 / dx.

The matrix and the ground state are compared with the oracle on random potentials and
spacings drawn here; the spectra of the student's matrix (eigenvalues computed here, from
the returned matrix) and the ground states are compared with two exact answers: the
particle in a box and the harmonic oscillator, within the grid's discretisation error.
Nothing is sent into the kernel but the inputs.
"""
import numpy as np
import pytest
from inputs import random_potential

from ml4p.grading.numerics import assert_close, assert_dtype, fail, returned
from solutions import diff_programming as oracle

CORRECT = "test_ground_state_matches_reference"


def state(student, v, dx):
    """(E_0, rho) from the student's ground_state, checked for structure."""
    return returned(student.call("ground_state", v, dx), 2, what="ground_state (the energy E_0 and the density rho)")


@pytest.mark.points(0.25)
@pytest.mark.parametrize("n", [1, 2, 7, 40], ids=lambda n: f"n {n}")
def test_hamiltonian_matches_reference(student, rng, n):
    """hamiltonian is the three-point kinetic term with hard walls plus diag(v) (float64)"""
    v, dx = rng.normal(scale=3.0, size=n), rng.uniform(0.05, 0.5)
    got = student.call("hamiltonian", v, dx)
    assert_close(got, oracle.hamiltonian(v, dx), what=f"the Hamiltonian on {n} point(s)")
    assert_dtype(got, np.float64, what="the Hamiltonian")


@pytest.mark.points(0.3)
@pytest.mark.parametrize("n", [2, 9, 60], ids=lambda n: f"n {n}")
def test_ground_state_matches_reference(student, rng, n):
    """ground_state gives the lowest eigenvalue and the density psi_0^2 / dx (float64)"""
    v, dx = random_potential(rng, n), rng.uniform(0.02, 0.3)
    energy, density = state(student, v, dx)
    want_energy, want_density = oracle.ground_state(v, dx)
    assert_close(energy, want_energy, what="E_0")
    assert_dtype(energy, np.float64, what="E_0")
    assert_close(density, want_density, what="the density", rtol=1e-8, atol=1e-10 * np.max(want_density))


@pytest.mark.points(0.4)
def test_particle_in_a_box(student, rng):
    """in a box (v = 0) the levels approach (k pi)^2 / 2L^2 and the density is (2/L) sin^2"""
    n, dx = int(rng.integers(40, 80)), rng.uniform(0.05, 0.2)
    spectrum = np.linalg.eigvalsh(np.asarray(student.call("hamiltonian", np.zeros(n), dx), dtype=np.float64))
    k = np.arange(1, 6)
    error = np.abs(spectrum[:5] / oracle.box_levels(n, dx, 5) - 1)
    allowed = (k * np.pi / (n + 1)) ** 2 / 10  # the grid's levels lie lower by about (k pi / (n + 1))^2 / 12
    if not np.all(error < allowed):
        fail("the lowest five levels of the Hamiltonian with v = 0 are not the box's (k pi)^2 / (2 L^2), "
             "L = (n + 1) dx, within the grid's error (about (k pi / (n + 1))^2 / 12, relative)")
    energy, density = state(student, np.zeros(n), dx)
    assert_close(energy, spectrum[0], what="E_0 in the box", rtol=1e-10)
    assert_close(density, oracle.box_ground_density(n, dx), what="the box's ground-state density",
                 rtol=1e-8, atol=1e-12)


@pytest.mark.points(0.45)
def test_harmonic_oscillator(student, rng):
    """for V = omega^2 x^2 / 2 on a fine grid the levels are (k + 1/2) omega and rho is Gaussian"""
    omega = rng.uniform(0.6, 1.6)
    x = np.linspace(-8, 8, 400)
    dx, v = x[1] - x[0], omega**2 * x**2 / 2
    spectrum = np.linalg.eigvalsh(np.asarray(student.call("hamiltonian", v, dx), dtype=np.float64))
    error = np.max(np.abs(spectrum[:5] / oracle.harmonic_levels(omega, 5) - 1))
    if not error < 2e-3:
        fail(f"the lowest five levels of the oscillator differ from (k + 1/2) omega by {error:.1e} (relative); "
             "on this grid they should agree to about 5e-4")
    energy, density = state(student, v, dx)
    assert_close(energy, omega / 2, what="E_0 of the oscillator", rtol=1e-3)
    exact = oracle.harmonic_ground_density(x, omega)
    deviation = np.max(np.abs(np.asarray(density, dtype=np.float64) - exact)) / np.max(exact)
    if not deviation < 2e-3:
        fail(f"the oscillator's density differs from sqrt(omega / pi) exp(-omega x^2) by {deviation:.1e} of its "
             "peak (should be about 1e-4): is it normalised as sum(rho) dx = 1?")


@pytest.mark.points(0.25, given=CORRECT)
def test_density_normalised_and_shift(student, rng):
    """rho stays normalised, and a constant added to v shifts E_0 by it and leaves rho alone"""
    n, dx = 50, rng.uniform(0.02, 0.3)
    v = random_potential(rng, n)
    energy, density = state(student, v, dx)
    assert_close(np.asarray(np.sum(np.asarray(density, dtype=np.float64)) * dx), 1.0, what="sum(rho) dx", rtol=1e-10)
    shifted_energy, shifted_density = state(student, v + 37.5, dx)
    assert_close(shifted_energy, np.asarray(energy) + 37.5, what="E_0 after v -> v + 37.5", rtol=1e-10)
    assert_close(shifted_density, np.asarray(density), what="rho after v -> v + 37.5", rtol=1e-7,
                 atol=1e-10 * np.max(density))
