"""Hidden checks for part 3, `slater_determinant(x)`: n fermions in the lowest n trap orbitals.

det[psi_a(x_i)] with the Hermite functions psi_0..psi_{n-1}; the oracle uses the
Vandermonde formula, no determinant. The antisymmetry (a sign flip when two particles
swap, a zero when two coincide) holds for a function that returns zeros, so those
checks count only with the match.
"""
import itertools

import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import assert_close, assert_dtype
from solutions import symmetries as oracle

USE = USES["antisymmetric"]
CORRECT = "test_matches_oracle"


def _scaled(got, want, rtol, what):
    """Closeness relative to the batch's largest |det| (dets span orders of magnitude)."""
    scale = float(np.max(np.abs(want))) or 1.0
    assert_close(np.asarray(got), want, what=what, rtol=rtol, atol=rtol * scale)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("batch", [(4,), (2, 3)], ids=lambda s: f"batch {s}")
def test_matches_oracle(student, rng, batch, n):
    """the determinant matches the oracle on random positions (float64)"""
    x = rng.normal(size=(*batch, n))
    _scaled(student.call("slater_determinant", x, uses=USE), oracle.slater_determinant(x), 1e-9,
            f"the Slater determinant of {n} particles, batch {batch}")


@pytest.mark.points(0.25)
def test_float32(student, rng):
    """the determinant works in float32 and keeps the dtype"""
    x = rng.normal(size=(6, 4)).astype(np.float32)
    got = student.call("slater_determinant", x, uses=USE)
    assert_dtype(got, np.float32, what="the float32 determinant")
    _scaled(got, oracle.slater_determinant(x.astype(np.float64)), 1e-4, "the float32 determinant")


@pytest.mark.points(0.5, given=CORRECT)
def test_swap_flips_the_sign(student, rng):
    """swapping two particles flips the sign of the wave function"""
    x = rng.normal(size=(5, 4))
    swapped = x.copy()
    swapped[:, [1, 3]] = x[:, [3, 1]]
    _scaled(student.call("slater_determinant", swapped, uses=USE),
            -student.call("slater_determinant", x, uses=USE), 1e-10, "the determinant after a swap")


@pytest.mark.points(0.5, given=CORRECT)
def test_permutation_sign(student, rng):
    """every permutation of the particles multiplies the wave function by its sign"""
    x = rng.normal(size=(1, 4))
    perms = list(itertools.permutations(range(4)))
    xs = np.concatenate([x[:, p] for p in perms])
    signs = np.array([np.linalg.det(np.eye(4)[list(p)]) for p in perms])
    got = student.call("slater_determinant", xs, uses=USE)
    _scaled(got, signs * got[0], 1e-10, "the determinants of the permuted configurations")


@pytest.mark.points(0.25, given=CORRECT)
def test_pauli(student, rng):
    """two fermions at the same place: the wave function vanishes"""
    x = rng.normal(size=(4, 3))
    x[:, 2] = x[:, 0]
    reference = np.max(np.abs(oracle.slater_determinant(rng.normal(size=(4, 3)))))
    assert_close(student.call("slater_determinant", x, uses=USE), np.zeros(4),
                 what="the determinant with two particles at one place", atol=1e-12 * max(reference, 1.0))
