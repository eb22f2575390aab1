"""Hidden checks for part 3, a CNOT gate by optimal control: `propagator(u, dt, h0, hk)`,
`infidelity(u, dt, h0, hk)`, `infidelity_gradient(u, dt, h0, hk)`,
`optimise_control(u0, dt, h0, hk, steps, learning_rate)` and `infidelity_hessian(u, dt, h0, hk)`.

The propagator is compared with the oracle's product of exponentials (each by diagonalising
the Hermitian slice Hamiltonian) for random, non-commuting Hamiltonians drawn here, so a
product in the wrong order fails. The later functions run with the reference propagator (and
infidelity) in place of the student's (`reference_optimal_control.USES`). The optimised
controls come back as an array and their infidelity is computed here by the oracle, for a
duration other than the notebook's. The Hessian is asked for once (tracing its Jacobian is
the part's largest cost), at an optimum the oracle found for a random system: compared with
centred differences of the oracle's written-out gradient, and its symmetry, positivity and
rank judged here.
"""
import numpy as np
import pytest
from reference_optimal_control import USES

from ml4p.grading.numerics import assert_close, assert_finite, fail, returned
from ml4p.grading.plugin import ahead
from solutions import diff_programming as oracle

H0, HK = oracle.H0, oracle.HK  # the notebook's two qubits: ZZ drift, X and Y drives
#: The optimisation the check runs: 10 slices over T = 3.5 (the notebook's visible test has
#: T = 4; the quantum speed limit of the ZZ drift for a CNOT is T = pi/2), Adam from controls
#: ~ N(0, 1). The reference reaches 1e-14 (below 1e-6 after 120 to 135 steps) from each of 15
#: starts tried; its cost is mostly tracing the step, not the number of steps.
SLICES, DT, STEPS, LEARNING_RATE = 10, 0.35, 300, 0.1
PROPAGATOR_OK = "test_propagator_matches_reference"
INFIDELITY_OK = "test_infidelity_matches_reference"
HESSIAN_OK = "test_hessian_matches_reference"


def random_hermitian(rng, *shape, d=4):
    a = rng.normal(size=(*shape, d, d)) + 1j * rng.normal(size=(*shape, d, d))
    return (a + np.conj(np.swapaxes(a, -1, -2))) / 2


def random_system(rng, k=3):
    """A drift and k controls, random Hermitian 4 x 4 matrices: no two slices commute."""
    return random_hermitian(rng), random_hermitian(rng, k)


def real_array(got, shape, *, what):
    """`got` as a float64 array of `shape`, or a failure saying what came back instead."""
    if not isinstance(got, np.ndarray):
        fail(f"{what} should be one array (NumPy or TensorFlow), not a tuple")
    if np.iscomplexobj(got):
        fail(f"{what} should be real (float64), not {got.dtype}")
    assert_finite(got, shape, what=what)
    return got.astype(np.float64)


def assert_complex_close(got, want, *, what, rtol, atol):
    """Real and imaginary parts of `got` within the tolerances of the complex `want`."""
    assert_finite(got, want.shape, what=what)
    if not np.iscomplexobj(got):
        fail(f"{what} should be complex (complex128), not {got.dtype}")
    pair = np.stack([got.real, got.imag]).astype(np.float64)
    assert_close(pair, np.stack([want.real, want.imag]), what=what, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ propagator


@pytest.mark.points(0.5)
@pytest.mark.parametrize("system", ["random", "two qubits"])
def test_propagator_matches_reference(student, rng, system):
    """propagator is the time-ordered product of the slices' exponentials (complex128)"""
    h0, hk = random_system(rng) if system == "random" else (H0, HK)
    u, dt = rng.normal(size=(7, hk.shape[0])), 0.3
    got = student.call("propagator", u, dt, h0, hk, uses=USES["propagator"])
    want = oracle.propagator(u, dt, h0, hk)
    if isinstance(got, np.ndarray) and got.shape == want.shape and np.allclose(
            got, oracle.propagator(u[::-1], dt, h0, hk), rtol=0, atol=1e-8):
        fail("propagator multiplies the slices in the wrong order: the first slice acts first, so "
             "exp(-i dt H_1) stands on the right, U = exp(-i dt H_N) ... exp(-i dt H_1)")
    assert_complex_close(got, want, what="the propagator", rtol=1e-10, atol=1e-12)


@pytest.mark.points(0.25, given=PROPAGATOR_OK)
def test_propagator_is_unitary(student, rng):
    """the propagator of 20 strong slices is unitary to 1e-10"""
    h0, hk = random_system(rng, 4)
    u = 3 * rng.normal(size=(20, 4))
    got = student.call("propagator", u, 0.5, h0, hk, uses=USES["propagator"])
    assert_finite(got, (4, 4), what="the propagator")
    error = np.max(np.abs(got.conj().T @ got - np.eye(4)))
    if not error < 1e-10:
        fail(f"U^dagger U differs from the identity by {error:.1e} (should be below 1e-10): "
             "work in complex128 and exponentiate -i dt H_j")


# ------------------------------------------------------------------ infidelity and its gradient


@pytest.mark.points(0.4)
@pytest.mark.parametrize("system", ["random", "two qubits"])
def test_infidelity_matches_reference(student, rng, system):
    """infidelity is 1 - |Tr(CNOT^dagger U)|^2 / 16 (float64)"""
    h0, hk = random_system(rng) if system == "random" else (H0, HK)
    u = rng.normal(size=(6, hk.shape[0]))
    got = real_array(student.call("infidelity", u, 0.3, h0, hk, uses=USES["infidelity"]), (), what="the infidelity")
    assert_close(got, oracle.infidelity(u, 0.3, h0, hk), what="the infidelity", rtol=1e-10, atol=1e-12)


@pytest.mark.points(0.2, given=INFIDELITY_OK)
def test_infidelity_ignores_global_phase(student, rng):
    """the infidelity does not change when the drift is shifted by a constant (a global phase)"""
    h0, hk = random_system(rng)
    u = rng.normal(size=(6, 3))
    base = real_array(student.call("infidelity", u, 0.3, h0, hk, uses=USES["infidelity"]), (), what="the infidelity")
    shifted = real_array(student.call("infidelity", u, 0.3, h0 + 1.7 * np.eye(4), hk, uses=USES["infidelity"]), (),
                         what="the infidelity")
    assert_close(shifted, base, what="the infidelity after H_0 -> H_0 + c I (U -> exp(-i c T) U)",
                 rtol=1e-10, atol=1e-12)


@pytest.mark.points(0.4)
def test_gradient_matches_reference(student, rng):
    """infidelity_gradient is the gradient of the infidelity with respect to every u[j, k] (float64)"""
    h0, hk = random_system(rng)
    u = rng.normal(size=(6, 3))
    got = student.call("infidelity_gradient", u, 0.3, h0, hk, uses=USES["infidelity_gradient"])
    want = oracle.infidelity_gradient(u, 0.3, h0, hk)
    got = real_array(got, u.shape, what="the gradient of the infidelity, shape (slices, controls),")
    assert_close(got, want, what="the gradient of the infidelity", rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ optimisation


@pytest.mark.points(1.0)
def test_optimisation_reaches_cnot(student, rng):
    """optimise_control, from a start chosen here, reaches the CNOT gate to infidelity below 1e-6"""
    u0 = rng.normal(size=(SLICES, HK.shape[0]))
    got = student.call("optimise_control", u0, DT, H0, HK, STEPS, LEARNING_RATE,
                       uses=USES["optimise_control"], timeout=120)
    u, history = (np.asarray(a) for a in returned(got, 2, what="optimise_control (the optimised controls and "
                                                               "the history of the infidelity)"))
    if u.shape != u0.shape or not np.issubdtype(u.dtype, np.floating) or not np.all(np.isfinite(u)):
        fail(f"optimise_control returned controls of shape {u.shape} and dtype {u.dtype}; they should be "
             f"finite floats of the shape of u0, {u0.shape}")
    history = np.ravel(history).astype(np.float64)
    if history.shape != (STEPS,):
        fail(f"optimise_control(..., steps={STEPS}, ...) returned a history of {history.size} values: one "
             "infidelity per step")
    assert_close(history[:1], [oracle.infidelity(u0, DT, H0, HK)],
                 what="the first value of the history (the infidelity of u0, before the first step)",
                 rtol=1e-8, atol=1e-12)
    final = oracle.infidelity(u, DT, H0, HK)
    if not final < 1e-6:
        fail(f"the controls returned have infidelity {final:.1e} to CNOT (should be below 1e-6; Adam at "
             f"learning rate {LEARNING_RATE} gets there within {STEPS} steps: do update the controls)")


# ------------------------------------------------------------------ Hessian
#: The system and controls of the Hessian's checks: a random drift and K = 4 random controls
#: (a controllable 4-level system), N = 5 slices: 20 controls, so 15 stiff and 5 flat directions.
HESSIAN_SEED, HESSIAN_SLICES, HESSIAN_DT = 20261207, 5, 0.3


@ahead
def oracle_optimum():
    """A random system and controls at which its infidelity is (numerically) zero, found by the oracle,
    and the oracle's Hessian there (computed while the notebook executes)."""
    rng = np.random.default_rng(HESSIAN_SEED)
    h0, hk = random_system(rng, 4)
    u = oracle.optimal_controls(rng.normal(size=(HESSIAN_SLICES, 4)), HESSIAN_DT, h0, hk)
    assert oracle.infidelity(u, HESSIAN_DT, h0, hk) < 1e-12, "the oracle found no optimum (grader error)"
    return u, h0, hk, oracle.infidelity_hessian(u, HESSIAN_DT, h0, hk)  # centred differences of the exact gradient


@pytest.fixture(scope="module")
def optimum():
    return oracle_optimum()[:3]


@pytest.fixture(scope="module")
def hessian_at_optimum(student, optimum):
    """The student's Hessian at the optimum: one call (tracing a Jacobian costs seconds)."""
    u, h0, hk = optimum
    got = student.call("infidelity_hessian", u, HESSIAN_DT, h0, hk, uses=USES["infidelity_hessian"], timeout=120)
    return real_array(got, (u.size, u.size), what=f"the Hessian for {u.shape[0]} slices and {u.shape[1]} controls")


@pytest.mark.points(0.5)
def test_hessian_matches_reference(hessian_at_optimum, optimum):
    """infidelity_hessian is the matrix of second derivatives, index j * K + k, at an optimum of a random system"""
    u, h0, hk = optimum
    want = oracle_optimum()[3]
    assert_close(hessian_at_optimum, want, what=f"the Hessian ({u.size} x {u.size} for {u.shape[0]} slices and "
                 f"{u.shape[1]} controls, a = j K + k)", rtol=1e-6, atol=1e-7 * np.max(np.abs(want)))


@pytest.mark.points(0.25, given=HESSIAN_OK)
def test_hessian_symmetric_and_positive(hessian_at_optimum):
    """at the optimum the Hessian is symmetric and positive semi-definite"""
    h = hessian_at_optimum
    scale = np.max(np.abs(h))
    asymmetry = np.max(np.abs(h - h.T)) / scale
    if not asymmetry < 1e-8:
        fail(f"the Hessian at the optimum is not symmetric: max |H - H^T| / max |H| = {asymmetry:.1e}")
    lowest = np.min(np.linalg.eigvalsh((h + h.T) / 2)) / scale
    if not lowest > -1e-6:
        fail(f"the Hessian at the optimum has a negative eigenvalue ({lowest:.1e} of the largest): a minimum "
             "of the infidelity has none")


@pytest.mark.points(0.25, given=HESSIAN_OK)
def test_hessian_has_fifteen_stiff_directions(hessian_at_optimum):
    """at the optimum the Hessian has 15 nonzero eigenvalues, one per parameter of SU(4)"""
    values = np.linalg.eigvalsh((hessian_at_optimum + hessian_at_optimum.T) / 2)
    large = int(np.sum(values > 1e-6 * np.max(values)))
    if large != 15:
        fail(f"the Hessian at the optimum has {large} eigenvalues above 1e-6 of the largest; a gate up to a "
             "global phase has 15 real parameters, and the other directions should be flat")
