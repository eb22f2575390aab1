"""Hidden checks for part 2, `force(q, beta)` = -grad V by automatic differentiation.

Graded with the reference `potential` in place of the student's.
"""
import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import assert_close, assert_dtype, assert_finite, directional_gradient_error, fail
from solutions import oscillator as oracle

USE = USES["force"]
#: What a zero force fails; the symmetries it passes by itself count only with it.
CORRECT = "test_matches_reference"


def chains(rng, batch, n, dtype=np.float64):
    return rng.normal(size=(*batch, n)).astype(dtype)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("batch", [(), (3,), (2, 4)], ids=lambda s: f"batch {s}")
def test_matches_reference(student, rng, batch):
    """force matches the spring-by-spring reference in float64"""
    for n, beta in [(2, 0.0), (7, 0.7)]:
        q = chains(rng, batch, n)
        assert_close(student.call("force", q, beta, uses=USE), oracle.force(q, beta),
                     what=f"force on a {q.shape} batch, beta = {beta}")


@pytest.mark.points(0.5)
def test_centred_differences(student, rng):
    """force agrees with centred finite differences of the potential (float64)"""
    q = chains(rng, (5,), 6)
    f = student.call("force", q, 0.7, uses=USE)
    assert_finite(f, q.shape, what="force")
    # directional_gradient_error works on (..., n, dim): each mass is a point in one dimension
    error = directional_gradient_error(lambda x: oracle.potential(x[..., 0], 0.7), -f[..., None], q[..., None], rng)
    if error > 1e-6:
        fail(f"-force is not the gradient of the potential: relative error {error:.1e} along random "
             "directions (should be around 1e-9)")


@pytest.mark.points(0.5)
@pytest.mark.parametrize("k", [1, 3])
def test_normal_mode(student, k):
    """in a harmonic normal mode every mass is pulled back by omega_k^2 times its displacement"""
    q = 0.3 * oracle.normal_mode(8, k)
    assert_close(student.call("force", q, 0.0, uses=USE), -oracle.mode_frequency(8, k) ** 2 * q,
                 what=f"force in normal mode {k}", atol=1e-12)


@pytest.mark.points(0.25)
def test_float32(student, rng):
    """force works in float32 and keeps the dtype"""
    q = chains(rng, (3,), 5, np.float32)
    f = student.call("force", q, 0.7, uses=USE)
    assert_dtype(f, np.float32, what="force")
    assert_close(f, oracle.force(q.astype(np.float64), 0.7), what="float32 force", dtype=np.float32, rtol=1e-4)


@pytest.mark.points(0.25, given=CORRECT)
def test_no_net_force(student, rng):
    """the springs' forces cancel in pairs (Newton's third law): the total force is 0"""
    q = chains(rng, (4,), 8)
    total = student.call("force", q, 0.7, uses=USE).sum(axis=-1)
    assert_close(total, np.zeros(4), what="total force", atol=1e-10)


@pytest.mark.points(0.25, given=CORRECT)
def test_translation_invariance(student, rng):
    """moving the whole chain leaves every force unchanged"""
    q = chains(rng, (4,), 6)
    shift = rng.normal(scale=3.0, size=(4, 1))
    assert_close(student.call("force", q + shift, 0.7, uses=USE), student.call("force", q, 0.7, uses=USE),
                 what="force on a shifted chain", rtol=1e-8, atol=1e-10)
