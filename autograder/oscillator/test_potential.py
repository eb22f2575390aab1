"""Hidden checks for part 1, `potential(q, beta)`: V = sum_i [d_i^2 / 2 + beta d_i^4 / 4], d_i = q_{i+1} - q_i."""
import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import assert_close, assert_dtype
from solutions import oscillator as oracle

USE = USES["potential"]
BETAS = (0.0, 0.7)  # harmonic, and with the quartic term
#: What a constant or zero potential fails; the checks it passes by itself count only with it.
CORRECT = "test_matches_reference"


def chains(rng, batch, n, dtype=np.float64):
    return rng.normal(size=(*batch, n)).astype(dtype)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("batch", [(), (3,), (2, 4)], ids=lambda s: f"batch {s}")
def test_matches_reference(student, rng, batch, dtype):
    """potential matches the reference on random chains"""
    for n in (2, 7):
        for beta in BETAS:
            q = chains(rng, batch, n, dtype)
            assert_close(student.call("potential", q, beta, uses=USE), oracle.potential(q.astype(np.float64), beta),
                         what=f"potential of {q.dtype.name} chains of shape {q.shape}, beta = {beta}", dtype=dtype)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("k", [1, 3])
def test_normal_mode(student, k):
    """a harmonic chain in its normal mode k has V = omega_k^2 |q|^2 / 2"""
    q = 0.3 * oracle.normal_mode(8, k)
    want = oracle.mode_frequency(8, k) ** 2 * np.sum(q**2) / 2
    assert_close(student.call("potential", q, 0.0, uses=USE), np.array(want), what=f"potential of normal mode {k}")


@pytest.mark.points(0.25, given=CORRECT)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_keeps_dtype(student, rng, dtype):
    """potential returns the dtype of its input"""
    assert_dtype(student.call("potential", chains(rng, (2,), 4, dtype), 0.5, uses=USE), dtype, what="potential")


@pytest.mark.points(0.5, given=CORRECT)
def test_translation_invariance(student, rng):
    """moving the whole chain leaves its potential unchanged"""
    q = chains(rng, (4,), 6)
    shift = rng.normal(scale=3.0, size=(4, 1))
    assert_close(student.call("potential", q + shift, 0.7, uses=USE), student.call("potential", q, 0.7, uses=USE),
                 what="potential of a shifted chain", rtol=1e-8)


@pytest.mark.points(0.25, given=CORRECT)
def test_reversal_invariance(student, rng):
    """numbering the masses from the other end leaves the potential unchanged"""
    q = chains(rng, (4,), 6)
    assert_close(student.call("potential", q[..., ::-1].copy(), 0.7, uses=USE),
                 student.call("potential", q, 0.7, uses=USE), what="potential of the reversed chain")
