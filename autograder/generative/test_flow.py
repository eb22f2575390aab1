"""Hidden checks for part 2, the flow: `flow_forward`, `flow_inverse`, `log_prob`, `sample`.

They run with the reference couplings in place of the student's (`USES`), on flows of
trusted conditioners holding weights chosen here, and are compared with the NumPy oracle
on the same weights. The density's normalisation is checked by quadrature here: the
student's `log_prob` is evaluated on a grid (1D and 2D flows) and exp(ln q) summed.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_close, fail, returned
from solutions import generative as oracle

WIDTH, DEPTH, BATCH = 8, 4, 6
#: (n, dim) of the flows.
SHAPES = [(1, 2), (3, 2), (2, 3)]
TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}
CORRECT = ("test_forward_matches_oracle", "test_inverse_matches_oracle", "test_log_prob_matches_oracle",
           "test_sample_matches_oracle")


def _shape_id(shape):
    return f"n={shape[0]} dim={shape[1]}"


@pytest.fixture(scope="module")
def runs(student):
    """shape -> (layers, z, x, what came back)."""
    out = {}
    for n, dim in SHAPES:
        rng = np.random.default_rng([20261205, 2, n, dim])
        layers = oracle.random_layers(rng, n, dim, DEPTH, WIDTH, scale=0.4)
        z = rng.normal(size=(BATCH, n, dim))
        x = rng.normal(size=(BATCH, n, dim))
        got = returned(student.call(DRIVER, n, dim, WIDTH, layers, z, x, uses=USES["flow"]), 9,
                       what="the grader's driver (the flow's outputs)")
        out[(n, dim)] = (layers, z, x, got)
    return out


@pytest.mark.points(0.5)
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_forward_matches_oracle(runs, shape):
    """flow_forward applies the couplings in order and adds their log-determinants"""
    layers, z, _, (held, x_f, log_det_f, *_) = runs[shape]
    for (_, weights), kept in zip(layers, held):
        if not all(np.array_equal(w, k) for w, k in zip(weights, kept)):
            fail("the flow's conditioners do not hold the weights the grader loaded into them")
    x_want, log_det_want = oracle.flow_forward(z, layers)
    assert_close(x_f, x_want, what="flow_forward(z)[0]", **TOLERANCE)
    assert_close(log_det_f, log_det_want, what="the log-determinant of flow_forward", **TOLERANCE)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_inverse_matches_oracle(runs, shape):
    """flow_inverse undoes the couplings in reverse order and adds their log-determinants"""
    layers, _, x, (_, _, _, z_i, log_det_i, *_) = runs[shape]
    z_want, log_det_want = oracle.flow_inverse(x, layers)
    assert_close(z_i, z_want, what="flow_inverse(x)[0]", **TOLERANCE)
    assert_close(log_det_i, log_det_want, what="the log-determinant of flow_inverse", **TOLERANCE)


@pytest.mark.points(0.25, given=CORRECT)
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_round_trip(runs, shape):
    """flow_inverse(flow_forward(z)) gives z back to 1e-10"""
    _, z, _, (_, _, _, _, _, back, *_) = runs[shape]
    assert_close(back, z, what="flow_inverse(flow_forward(z)[0])[0]", **TOLERANCE)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_log_prob_matches_oracle(runs, shape):
    """log_prob(x) = ln N(f^-1(x)) + ln|det df^-1/dx|"""
    layers, _, x, (*_, log_q, _, _) = runs[shape]
    assert_close(log_q, oracle.log_prob(x, layers), what="log_prob(x)", **TOLERANCE)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_sample_matches_oracle(runs, shape):
    """sample(z) returns x = f(z) and ln q(x) = ln N(z) - ln|det df/dz|, the density at the output"""
    layers, z, _, (*_, x_s, log_q_s) = runs[shape]
    x_want, log_q_want = oracle.sample(z, layers)
    assert_close(x_s, x_want, what="sample(z)[0]", **TOLERANCE)
    assert_close(log_q_s, log_q_want, what="ln q returned by sample(z)", **TOLERANCE)


#: (n, dim) -> the grid's half-width and points per axis, for the normalisation.
GRIDS = {(1, 1): (9.0, 1001), (2, 1): (12.0, 161), (1, 2): (9.0, 121)}


@pytest.mark.points(0.25, given=CORRECT)
@pytest.mark.parametrize("shape", list(GRIDS), ids=_shape_id)
def test_density_is_normalised(student, shape):
    """q = exp(log_prob) integrates to 1 (quadrature on a grid, 1D and 2D flows, to 1e-4)"""
    n, dim = shape
    rng = np.random.default_rng([20261205, 3, n, dim])
    layers = oracle.random_layers(rng, n, dim, DEPTH, WIDTH, scale=0.2)
    half, points = GRIDS[shape]
    axis = np.linspace(-half, half, points)
    grid = np.stack(np.meshgrid(*[axis] * (n * dim), indexing="ij"), axis=-1).reshape(-1, n, dim)
    log_q = np.asarray(student.call(DRIVER, n, dim, WIDTH, layers, grid, uses=USES["flow_density"]),
                       dtype=np.float64)
    if log_q.shape != (len(grid),):
        fail(f"log_prob of {len(grid)} configurations should have shape ({len(grid)},), not {log_q.shape}")
    if not np.all(np.isfinite(log_q)):
        fail("log_prob is not finite everywhere on the grid")
    total = np.sum(np.exp(log_q)) * (axis[1] - axis[0]) ** (n * dim)
    if abs(total - 1) > 1e-4:
        fail(f"exp(log_prob) integrates to {total:.6f}, not 1")
