"""Hidden checks for part 3, `verlet(q, p, dt, steps, beta)`: velocity-Verlet steps of unit masses.

Graded with the reference `potential` and `force` in place of the student's.
"""
import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import assert_close, assert_dtype, fail
from solutions import oscillator as oracle

USE = USES["verlet"]
BETA = 0.7
#: What an integrator that never moves fails; the conservation laws it keeps count only with it.
CORRECT = "test_matches_reference"


def state(rng, batch, n, scale=0.5, dtype=np.float64):
    """Random positions and momenta, (..., n) each."""
    return tuple(rng.normal(scale=scale, size=(2, *batch, n)).astype(dtype))


@pytest.mark.points(0.5)
@pytest.mark.parametrize("steps", [1, 40])
@pytest.mark.parametrize("batch", [(), (3,)], ids=lambda s: f"batch {s}")
def test_matches_reference(student, rng, batch, steps):
    """verlet's positions and momenta match the reference after a few steps (float64)"""
    q, p = state(rng, batch, 6)
    got_q, got_p = student.call("verlet", q, p, 0.05, steps, BETA, uses=USE)
    want_q, want_p = oracle.verlet(q, p, 0.05, steps, BETA)
    assert_close(got_q, want_q, what=f"positions after {steps} step(s)")
    assert_close(got_p, want_p, what=f"momenta after {steps} step(s)")


@pytest.mark.points(0.25)
def test_float32(student, rng):
    """verlet works in float32 and keeps the dtype"""
    q, p = state(rng, (2,), 5, dtype=np.float32)
    got_q, got_p = student.call("verlet", q, p, 0.05, 10, BETA, uses=USE)
    want_q, want_p = oracle.verlet(q, p, 0.05, 10, BETA)
    for got, want, what in [(got_q, want_q, "positions"), (got_p, want_p, "momenta")]:
        assert_dtype(got, np.float32, what=what)
        assert_close(got, want, what=f"float32 {what}", dtype=np.float32, rtol=1e-4, atol=1e-5)


@pytest.mark.points(0.5, given=CORRECT)
def test_energy_is_conserved(student, rng):
    """the energy stays within 1 % of its start over 200 steps (Verlet is symplectic)"""
    q, p = state(rng, (4,), 8, scale=0.3)
    start = oracle.hamiltonian(q, p, BETA)
    got_q, got_p = student.call("verlet", q, p, 0.05, 200, BETA, uses=USE)
    change = np.max(np.abs(oracle.hamiltonian(got_q, got_p, BETA) - start) / start)
    if not np.isfinite(change):
        fail("the chain diverged (positions or momenta not finite) within 200 steps of dt = 0.05 "
             "(velocity Verlet keeps the energy within about 2e-3; first-order schemes drift, then blow up)")
    if not change < 1e-2:
        fail(f"the energy changed by {change:.1e} of its start value in 200 steps of dt = 0.05 "
             "(velocity Verlet keeps it within about 2e-3; first-order schemes drift by several percent)")


@pytest.mark.points(0.5, given=CORRECT)
def test_time_reversal(student, rng):
    """running forward, flipping the momenta and running again returns to the start"""
    q, p = state(rng, (3,), 6)
    q1, p1 = student.call("verlet", q, p, 0.05, 25, BETA, uses=USE)
    q2, p2 = student.call("verlet", q1, -p1, 0.05, 25, BETA, uses=USE)
    assert_close(q2, q, what="positions after running back", rtol=1e-8, atol=1e-10)
    assert_close(-p2, p, what="momenta after running back", rtol=1e-8, atol=1e-10)


@pytest.mark.points(0.25, given=CORRECT)
def test_momentum_is_conserved(student, rng):
    """the total momentum does not change (no net force on the chain)"""
    q, p = state(rng, (4,), 7)
    _, got_p = student.call("verlet", q, p, 0.05, 40, BETA, uses=USE)
    assert_close(got_p.sum(axis=-1), p.sum(axis=-1), what="total momentum", rtol=1e-9, atol=1e-10)
