"""Hidden checks for part 3, `gradient_descent(x, steps, eta)`: x <- x + eta * forces(x).

Graded with the reference `energy` and `forces` in place of the student's.
Ground states are compared with `solutions.coulomb_gas.REFERENCE_GROUND_STATES`.
"""
import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import assert_close, assert_finite, fail
from solutions import coulomb_gas as oracle

USE = USES["gradient_descent"]

#: (steps, eta, random starts) that relax every reference (n, dim) to its ground state.
RELAX = {"steps": 1000, "eta": 0.1, "starts": 16}


def relax(student, x, steps, eta):
    return student.call("gradient_descent", x, steps, eta, uses=USE, timeout=120)


@pytest.mark.points(1)
def test_matches_reference(student, rng):
    """a few steps match the reference update x <- x + eta * forces(x)"""
    x0 = rng.normal(size=(3, 5, 2))
    x = relax(student, x0, 20, 0.01)
    assert_close(x, oracle.gradient_descent(x0, 20, 0.01), what="configurations after 20 steps", rtol=1e-8,
                 atol=1e-10)


@pytest.mark.points(0.5, given="test_matches_reference")
def test_batch_is_independent(student, rng):
    """relaxing a batch equals relaxing each configuration on its own"""
    x0 = rng.normal(size=(4, 6, 2))
    together = relax(student, x0, 50, 0.01)
    assert_finite(together, x0.shape, what="relaxed batch")
    for i in range(len(x0)):
        alone = relax(student, x0[i], 50, 0.01)
        assert_close(together[i], alone, what="one configuration relaxed alone vs in a batch", rtol=1e-10,
                     atol=1e-12)


@pytest.mark.points(0.5)
def test_two_particles(student, rng):
    """two particles relax to energy 3/2, at distance 1 along the line they started on, centred"""
    x0 = rng.normal(size=(8, 2, 2))
    x = relax(student, x0, 1000, 0.05)
    assert_finite(x, x0.shape, what="relaxed pairs")
    assert_close(oracle.energy(x), np.full(8, 1.5), what="energy of relaxed pairs", rtol=1e-8)
    distance = np.linalg.norm(x[:, 0] - x[:, 1], axis=-1)
    assert_close(distance, np.ones(8), what="distance of relaxed pairs", rtol=1e-6)
    # The forces on a pair act along the line joining it, so the descent keeps its direction;
    # the centre of mass shrinks by (1 - 2 eta) per step. A fixed answer cannot know either.
    start = x0[:, 0] - x0[:, 1]
    assert_close(x[:, 0] - x[:, 1], start / np.linalg.norm(start, axis=-1, keepdims=True),
                 what="the relaxed pairs' separation vectors (the direction they started in)", rtol=1e-6, atol=1e-8)
    assert_close(x.mean(axis=1), np.zeros((8, 2)), what="the relaxed pairs' centres of mass", rtol=0, atol=1e-8)


@pytest.mark.points(0.25)
@pytest.mark.parametrize("n, dim", sorted(oracle.REFERENCE_GROUND_STATES), ids=lambda v: str(v))
def test_ground_state(student, rng, n, dim):
    """random starts relax to the known ground-state energy, and never below it"""
    x0 = rng.normal(size=(RELAX["starts"], n, dim))
    x = relax(student, x0, RELAX["steps"], RELAX["eta"])
    assert_finite(x, x0.shape, what="relaxed configurations")
    energies = oracle.energy(x)
    reference = oracle.REFERENCE_GROUND_STATES[(n, dim)]
    if energies.min() < reference * (1 - 1e-7):
        fail(f"n = {n}, dim = {dim}: an energy below the ground state ({energies.min():.6f} < {reference:.6f}); "
             "are the configurations returned unchanged?")
    if energies.min() > reference * (1 + 1e-6):
        fail(f"n = {n}, dim = {dim}: the lowest relaxed energy {energies.min():.6f} is above the ground state "
             f"{reference:.6f}; are all `steps` steps taken?")
