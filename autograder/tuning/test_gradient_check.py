"""Hidden checks for part 1: `numerical_gradient`, `relative_error`, `check_gradient`, `check_invariance`.

The functions handed to the student's code are trusted TensorFlow/NumPy expressions
(`reference_tf`); the exact gradients come from the oracle, and the finite
differences are also compared with TensorFlow's own, `tf.test.compute_gradient`.
"""
import numpy as np
import pytest
import tensorflow as tf  # at collection, while the notebook runs: not in the time of the first check that needs it
from reference_tf import (
    FIRST_ROW,
    PAIR_SUM,
    REVERSE_ROWS,
    RIGHT_CUSTOM_GRADIENT,
    SMOOTH,
    WRONG_FACTOR_GRADIENT,
    WRONG_OFFSET_GRADIENT,
)

from ml4p.grading.numerics import assert_finite, fail
from solutions import tuning as oracle


def numerical(student, x, **kwargs):
    g = student.call("numerical_gradient", SMOOTH, x, **kwargs)
    assert_finite(g, x.shape, what="numerical_gradient")
    return g


@pytest.mark.points(0.25)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 2, 2)], ids=lambda s: f"x of shape {s}")
def test_matches_exact_gradient(student, rng, shape):
    """numerical_gradient matches the exact gradient (float64, default eps)"""
    x = rng.normal(size=shape)
    error = oracle.relative_error(numerical(student, x), oracle.smooth_gradient(x))
    if error > 1e-8:
        fail(f"numerical_gradient is off by a relative error of {error:.1e} (centred differences with "
             "eps = 1e-5 in float64 reach about 1e-10)")


@pytest.mark.points(0.5)
def test_second_order(student, rng):
    """numerical_gradient is second order in eps (centred, not one-sided)"""
    x = rng.normal(size=6)
    exact = oracle.smooth_gradient(x)
    errors = [oracle.relative_error(numerical(student, x, eps=eps), exact) for eps in (1e-2, 5e-3)]
    if errors[0] > 1e-3:
        fail(f"with eps = 1e-2 the relative error is {errors[0]:.1e}; a centred difference reaches about 1e-5")
    ratio = errors[0] / max(errors[1], 1e-300)
    if not 3 < ratio < 5.5:
        fail(f"halving eps divides the error by {ratio:.2f}; for a centred (second-order) difference it "
             "should divide it by about 4 (a one-sided difference only halves it)")


@pytest.mark.points(0.25)
def test_agrees_with_tensorflow(student, rng):
    """numerical_gradient agrees with tf.test.compute_gradient's finite differences"""
    x = rng.normal(size=7)
    _, (tf_numerical,) = tf.test.compute_gradient(
        lambda v: tf.reduce_sum(tf.sin(v) * v**2) + 0.5 * tf.reduce_sum(v) ** 2, [tf.constant(x)], delta=1e-3)
    error = oracle.relative_error(numerical(student, x, eps=1e-3), np.ravel(tf_numerical))
    if error > 1e-8:
        fail(f"with eps = 1e-3, numerical_gradient and TensorFlow's centred differences differ by a relative "
             f"error of {error:.1e}")


@pytest.mark.points(0.25)
def test_relative_error(student, rng):
    """relative_error is ||a - b|| / (||a|| + ||b||), and 0 for two zero arrays"""
    cases = [(rng.normal(size=(3, 4)), rng.normal(size=(3, 4))), (rng.normal(size=5) * 1e6, rng.normal(size=5)),
             (np.ones(4), np.ones(4) * (1 + 1e-9)), (np.zeros(3), np.zeros(3))]
    for a, b in cases:
        got = float(student.call("relative_error", a, b))
        want = oracle.relative_error(a, b)
        if not abs(got - want) <= 1e-12 + 1e-9 * want:
            fail(f"relative_error of two arrays of shape {a.shape} is {got:.6g}; it should be {want:.6g}")


@pytest.mark.points(0.5, given="test_check_gradient_flags_wrong_gradients")
def test_check_gradient_passes_right_gradients(student, rng):
    """check_gradient passes right gradients (automatic and hand-written) with errors near 1e-10"""
    for f, x in [(SMOOTH, rng.normal(size=(2, 3))), (RIGHT_CUSTOM_GRADIENT, rng.normal(size=4))]:
        error, passed = student.call("check_gradient", f, x)
        if not bool(passed) or not float(error) < 1e-8:
            fail(f"check_gradient rejects a right gradient (relative error {float(error):.1e}, passed "
                 f"{bool(passed)}); a correct check finds errors around 1e-10 in float64")


@pytest.mark.points(0.25)
@pytest.mark.parametrize("f", [WRONG_FACTOR_GRADIENT, WRONG_OFFSET_GRADIENT], ids=["factor 2/3", "offset 1e-4"])
def test_check_gradient_flags_wrong_gradients(student, rng, f):
    """check_gradient flags a planted wrong gradient and reports its relative error"""
    x = rng.uniform(0.5, 1.5, size=5) * rng.choice([-1, 1], size=5)
    error, passed = student.call("check_gradient", f, x)
    wrong = 2 * x**2 if f is WRONG_FACTOR_GRADIENT else 3 * x**2 + 1e-4
    want = oracle.relative_error(wrong, 3 * x**2)
    if bool(passed):
        fail(f"check_gradient passes a wrong gradient (relative error {want:.1e} from the true one)")
    if not abs(float(error) - want) <= 1e-3 * want:
        fail(f"check_gradient reports a relative error of {float(error):.3e} for a gradient whose error is "
             f"{want:.3e}")


@pytest.mark.points(0.25)
def test_check_invariance(student, rng):
    """check_invariance passes an invariant function and flags one that is not"""
    x = rng.normal(size=(6, 2))
    error, passed = student.call("check_invariance", PAIR_SUM, x, REVERSE_ROWS)
    if not bool(passed) or float(error) > 1e-12:
        fail(f"check_invariance rejects a permutation-invariant function (error {float(error):.1e})")
    error, passed = student.call("check_invariance", FIRST_ROW, x, REVERSE_ROWS)
    want = oracle.relative_error(np.sum(x[-1] ** 3), np.sum(x[0] ** 3))
    if bool(passed) or not abs(float(error) - want) <= 1e-9 * want:
        fail(f"check_invariance passes, or misreports, a function that is not invariant (its relative change "
             f"is {want:.3g}; reported {float(error):.3g}, passed {bool(passed)})")
