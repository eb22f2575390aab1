"""Hidden checks for part 1, `coupling_forward` and `coupling_inverse`: one affine coupling.

A driver builds, in the kernel, a trusted copy of the notebook's `Conditioner` holding
weights chosen here, calls the student's two functions with it and returns arrays: the
outputs, the output of the inverse applied to the forward's output, and the forward's
outputs on probes x +- h e_k. Here they are compared with the NumPy oracle on the same
weights, and the log-determinant with the log |det| of the Jacobian that centred
differences of the student's own forward map give (NumPy's `slogdet`, in this process).
"""
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_close, fail, returned
from solutions import generative as oracle

USE = USES["coupling"]
WIDTH, BATCH = 8, 5
#: (n, dim) of the configurations, and which of the two masks (layer parity).
CASES = [(1, 2, 0), (3, 2, 1), (2, 3, 0), (4, 1, 1)]
STEP = 1e-6  # of the centred differences
CORRECT = ("test_forward_matches_oracle", "test_inverse_matches_oracle")


def _case_id(case):
    n, dim, parity = case
    return f"n={n} dim={dim} mask {parity}"


@pytest.fixture(scope="module")
def runs(student):
    """case -> (mask, weights, x, probes, what came back)."""
    out = {}
    for case in CASES:
        n, dim, parity = case
        rng = np.random.default_rng([20261205, n, dim, parity])
        mask, weights = oracle.random_layers(rng, n, dim, 2, WIDTH, scale=0.5)[parity]
        x = rng.normal(size=(BATCH, n, dim))
        d = n * dim
        steps = STEP * np.eye(d).reshape(d, n, dim)
        probes = np.concatenate([x[:, None] + steps, x[:, None] - steps], axis=1).reshape(-1, n, dim)
        got = returned(student.call(DRIVER, n, dim, WIDTH, mask, weights, x, probes, uses=USE), 8,
                       what="the grader's driver (the couplings' outputs)")
        out[case] = (mask, weights, x, probes, got)
    return out


def _loaded(weights, held):
    if len(held) != len(weights) or any(np.shape(h) != np.shape(w) or not np.array_equal(h, w)
                                        for h, w in zip(held, weights)):
        fail("the conditioner does not hold the weights the grader loaded into it")


@pytest.mark.points(1)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_forward_matches_oracle(runs, case):
    """coupling_forward gives y = m x + (1 - m)(x exp(s) + t) and its log-determinant (float64, to 1e-10)"""
    mask, weights, x, _, (held, y, log_det, *_) = runs[case]
    _loaded(weights, held)
    y_want, log_det_want = oracle.coupling_forward(x, mask, weights)
    assert_close(y, y_want, what="y = coupling_forward(x)[0]", rtol=1e-10, atol=1e-10)
    assert_close(log_det, log_det_want, what="the log-determinant of coupling_forward", rtol=1e-10, atol=1e-10)


@pytest.mark.points(0.75)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_inverse_matches_oracle(runs, case):
    """coupling_inverse gives x = m y + (1 - m)(y - t) exp(-s) and its log-determinant (float64, to 1e-10)"""
    mask, weights, x, _, (_, _, _, _, _, x_inverse, inverse_log_det, _) = runs[case]
    x_want, log_det_want = oracle.coupling_inverse(x, mask, weights)
    assert_close(x_inverse, x_want, what="coupling_inverse(y)[0]", rtol=1e-10, atol=1e-10)
    assert_close(inverse_log_det, log_det_want, what="the log-determinant of coupling_inverse",
                 rtol=1e-10, atol=1e-10)


@pytest.mark.points(0.5, given=CORRECT)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_round_trip(runs, case):
    """coupling_inverse undoes coupling_forward to 1e-10, and their log-determinants cancel"""
    _, _, x, _, (_, _, log_det, back, back_log_det, *_) = runs[case]
    assert_close(back, x, what="coupling_inverse(coupling_forward(x))", rtol=1e-10, atol=1e-10)
    assert_close(log_det + back_log_det, np.zeros_like(log_det), what="the sum of the two log-determinants",
                 atol=1e-10)


@pytest.mark.points(0.75, given="test_forward_matches_oracle")
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_log_det_is_the_jacobians(runs, case):
    """the log-determinant equals log|det| of the Jacobian of coupling_forward (centred differences, to 1e-6)"""
    _, _, x, _, (_, _, log_det, *_, probed) = runs[case]
    batch, n, dim = x.shape
    d = n * dim
    pairs = np.asarray(probed).reshape(batch, 2, d, d)
    jacobians = np.swapaxes((pairs[:, 0] - pairs[:, 1]) / (2 * STEP), 1, 2)  # [b, output, input]
    sign, log_abs = np.linalg.slogdet(jacobians)
    if np.any(sign == 0):
        fail("the Jacobian of coupling_forward is singular: the map is not invertible")
    assert_close(log_det, log_abs, what="the log-determinant against log|det J| of the map itself",
                 rtol=1e-6, atol=1e-6)
