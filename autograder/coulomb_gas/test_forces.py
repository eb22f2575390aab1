"""Hidden checks for part 2, `forces(x)` = -grad H by automatic differentiation.

Graded with the reference `energy` in place of the student's.
"""
import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import (
    assert_close,
    assert_dtype,
    assert_finite,
    directional_gradient_error,
    fail,
    random_orthogonal,
)
from solutions import coulomb_gas as oracle

USE = USES["forces"]
#: What zero forces fail; the equivariances they pass by themselves count only with it.
CORRECT = "test_matches_reference"


def configs(rng, batch, n, dim, dtype=np.float64):
    return rng.normal(size=(*batch, n, dim)).astype(dtype)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("batch", [(), (3,), (2, 4)], ids=lambda s: f"batch {s}")
def test_matches_reference(student, rng, batch):
    """forces match the analytic reference in float64"""
    for n, dim in [(5, 2), (4, 3)]:
        x = configs(rng, batch, n, dim)
        f = student.call("forces", x, uses=USE)
        assert_close(f, oracle.forces(x), what=f"forces on a {x.shape} batch")


@pytest.mark.points(0.5)
def test_centred_differences(student, rng):
    """forces agree with centred finite differences of the energy (float64)"""
    x = configs(rng, (6,), 7, 2)
    f = student.call("forces", x, uses=USE)
    assert_finite(f, x.shape, what="forces")
    error = directional_gradient_error(oracle.energy, -f, x, rng)
    if error > 1e-6:
        fail(f"-forces is not the gradient of the energy: relative error {error:.1e} along random "
             "directions (should be around 1e-9)")


@pytest.mark.points(0.25)
def test_float32(student, rng):
    """forces work in float32 and keep the dtype"""
    x = configs(rng, (3,), 5, 2, np.float32)
    f = student.call("forces", x, uses=USE)
    assert_dtype(f, np.float32, what="forces")
    assert_close(f, oracle.forces(x.astype(np.float64)), what="float32 forces", dtype=np.float32, rtol=1e-4)


@pytest.mark.points(0.25, given=CORRECT)
def test_rotation_equivariance(student, rng):
    """rotating the configuration rotates the forces with it"""
    x = configs(rng, (3,), 6, 3)
    q = random_orthogonal(3, rng)
    assert_close(student.call("forces", x @ q.T, uses=USE), student.call("forces", x, uses=USE) @ q.T,
                 what="forces on a rotated configuration")


@pytest.mark.points(0.25, given=CORRECT)
def test_permutation_equivariance(student, rng):
    """relabelling the particles relabels their forces"""
    x = configs(rng, (3,), 6, 2)
    perm = rng.permutation(6)
    assert_close(student.call("forces", x[..., perm, :], uses=USE),
                 student.call("forces", x, uses=USE)[..., perm, :], what="forces on permuted particles")


@pytest.mark.points(0.25)
def test_total_force_balances_trap(student, rng):
    """pair forces cancel (Newton's third law): the total force is -2 sum_i x_i"""
    x = configs(rng, (4,), 8, 2)
    total = student.call("forces", x, uses=USE).sum(axis=-2)
    assert_close(total, -2 * x.sum(axis=-2), what="total force", rtol=1e-8, atol=1e-8)
