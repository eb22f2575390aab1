"""Hidden checks for part 2b, the inverse problem: `density_loss(v, target, dx)`,
`density_pt(v, dx)` (the density with a perturbation-theory gradient, `tf.custom_gradient`)
and `fit_potential(v0, target, dx, steps, learning_rate)` -> (v, history).

Every check runs with the reference `hamiltonian` and `ground_state` in place of the
student's (`reference_inverse_problem.USES`), and `fit_potential` with the reference
`density_loss` too, so that each mistake costs the points of its own function. Gradients
are taken in the kernel by a driver that returns arrays; they are compared here with the
oracle's perturbation theory written out state by state, and with centred differences of
the oracle's loss. The fitted potential comes back as an array and its loss is computed
here, for a target drawn here.
"""
import numpy as np
import pytest
from inputs import random_potential
from reference_inverse_problem import DRIVER, USES

from ml4p.grading.numerics import as_array, assert_close, fail, returned
from solutions import diff_programming as oracle

#: The fit the check asks for: 400 Adam steps at learning rate 1 on 80 points, from
#: v0 = x^2 / 2 towards a triangle of random centre and width. The reference ends between
#: 0.046 and 0.062 on six such targets (start 0.41 to 0.78); a fit that never moves keeps its start.
N_FIT, STEPS, LEARNING_RATE, FIT_BOUND = 80, 400, 1.0, 0.1


def random_target(rng, n, dx):
    """A positive density normalised to sum * dx = 1, not a ground state of anything simple."""
    t = np.exp(rng.normal(size=n)) * np.hanning(n + 2)[1:-1]
    return t / (np.sum(t) * dx)


# ------------------------------------------------------------------ the loss


@pytest.mark.points(0.25)
@pytest.mark.parametrize("n", [3, 50], ids=lambda n: f"n {n}")
def test_loss_matches_reference(student, rng, n):
    """density_loss is sum |rho - target| dx (float64)"""
    dx = rng.uniform(0.02, 0.2)
    v, target = random_potential(rng, n), random_target(rng, n, dx)
    got = student.call("density_loss", v, target, dx, uses=USES["density_loss"])
    assert_close(as_array(got), oracle.density_loss(v, target, dx), what="the loss", rtol=1e-9, atol=1e-12)


@pytest.mark.points(0.5)
def test_loss_gradient(student, rng):
    """the tape's gradient of density_loss equals perturbation theory and centred differences"""
    n, dx = 40, rng.uniform(0.02, 0.2)
    v, target = random_potential(rng, n), random_target(rng, n, dx)
    _, gradient = returned(student.call(DRIVER, v, target, dx, uses=USES["loss_gradient"]), 2,
                           what="the driver (the loss and its gradient)")
    want = oracle.density_loss_gradient(v, target, dx)
    assert_close(gradient, want, what="the gradient of density_loss", rtol=1e-7, atol=1e-9 * np.max(np.abs(want)))
    direction = rng.normal(size=n)
    h = 1e-5
    numeric = (oracle.density_loss(v + h * direction, target, dx) - oracle.density_loss(v - h * direction, target, dx)) / (2 * h)
    assert_close(np.asarray(np.sum(gradient * direction)), numeric, what="the gradient along a random direction",
                 rtol=1e-5, atol=1e-9)


# ------------------------------------------------------------------ the custom gradient


@pytest.mark.points(0.25)
def test_density_pt_values(student, rng):
    """density_pt's values are the ground-state density"""
    n, dx = 30, rng.uniform(0.02, 0.2)
    v = random_potential(rng, n)
    density, _ = returned(student.call(DRIVER, v, dx, rng.normal(size=n), uses=USES["density_pt"]), 2,
                          what="the driver (the density and its VJP)")
    want = oracle.ground_state(v, dx)[1]
    assert_close(density, want, what="density_pt's density", rtol=1e-8, atol=1e-10 * np.max(want))


@pytest.mark.points(0.4)
@pytest.mark.parametrize("case", ["n 2", "n 12", "n 60", "double well"])
def test_pt_gradient_matches_reference(student, rng, case):
    """density_pt's VJP is first-order perturbation theory: sum over k > 0 with 1 / (E_0 - E_k)"""
    if case == "double well":  # two wells, slightly tilted: the two lowest levels 0.012 apart, the next 16
        n, dx = 80, 0.05
        s = np.linspace(-1, 1, n)
        v = 400 * (s**2 - 0.36) ** 2 + 0.01 * s
    else:
        n, dx = int(case.split()[1]), rng.uniform(0.05, 0.3)
        v = random_potential(rng, n)
    upstream = rng.normal(size=n)
    _, vjp = returned(student.call(DRIVER, v, dx, upstream, uses=USES["density_pt"]), 2,
                      what="the driver (the density and its VJP)")
    want = oracle.density_vjp(v, dx, upstream)
    assert_close(vjp, want, what="the gradient of density_pt (its VJP for a random upstream gradient)",
                 rtol=1e-7, atol=1e-8 * np.max(np.abs(want)))


# ------------------------------------------------------------------ the fit


@pytest.mark.points(1.15)
def test_fit_reaches_target(student, rng):
    """fit_potential, from v0 = x^2 / 2, brings the loss for a target chosen here below 0.1"""
    _, dx, target, v0 = oracle.triangle_problem(N_FIT, centre=rng.uniform(-0.2, 0.2),
                                                 half_width=rng.uniform(0.35, 0.6))
    v, history = returned(student.call("fit_potential", v0, target, dx, STEPS, LEARNING_RATE,
                                       uses=USES["fit_potential"], timeout=120), 2,
                          what="fit_potential (the potential and the history of the loss)")
    if not isinstance(v, np.ndarray) or v.shape != v0.shape or not np.all(np.isfinite(v)):
        fail(f"fit_potential should return a finite potential of the shape of v0, {v0.shape}")
    history = np.ravel(np.asarray(history, dtype=np.float64))
    if history.shape != (STEPS,):
        fail(f"fit_potential(..., steps={STEPS}, ...) returned a history of {history.size} values: one loss per step")
    assert_close(history[:1], [oracle.density_loss(v0, target, dx)],
                 what="the first value of the history (the loss of v0, before the first step)", rtol=1e-8, atol=1e-12)
    final = oracle.density_loss(v, target, dx)
    if not final < FIT_BOUND:
        fail(f"the potential returned has loss {final:.3f} (started at {history[0]:.3f}; Adam at learning rate "
             f"{LEARNING_RATE} brings it below {FIT_BOUND} in {STEPS} steps: do update the potential)")
