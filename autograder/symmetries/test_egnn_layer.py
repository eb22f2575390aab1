"""Hidden checks for part 1, `egnn_layer(features, width, dtype)`: one E(n)-equivariant layer.

A driver builds the student's layer in the kernel, loads into its MLPs phi_e, phi_x, phi_h
weights chosen here, runs it on configurations and their translated, rotated, reflected
and permuted images, and returns the weights it then holds and its outputs. The outputs
are compared here with the NumPy oracle on those weights, and with each other for the
symmetries. The symmetries hold for a layer that does nothing, so they count only when
the layer matches the oracle.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, MLPS, USES
from symmetry_cases import IMAGES, SYMMETRY_TOLERANCE, images

from ml4p.grading.numerics import assert_close, assert_dtype, fail
from solutions import symmetries as oracle

USE = USES["egnn_layer"]
FEATURES, WIDTH = 5, 8
#: (batch, particles, dimension) of the configurations.
SHAPES = [(3, 5, 3), (2, 4, 2)]
DTYPES = {"float64": np.float64, "float32": np.float32}
#: (rtol, atol) against the float64 oracle, by dtype.
ORACLE_TOLERANCE = {np.dtype(np.float64): (1e-10, 1e-10), np.dtype(np.float32): (1e-4, 1e-4)}
CORRECT = "test_matches_oracle"


@pytest.fixture(scope="module")
def runs(student):
    """dtype name -> one run per shape: (sent weights, held weights, the case, x' stack, h' stack, compiled)."""
    out = {}
    for name, dtype in DTYPES.items():
        rng = np.random.default_rng([20260716, len(name)])
        out[name] = []
        for batch, n, dim in SHAPES:
            weights = oracle.layer_weights(rng, FEATURES, WIDTH)
            sent = tuple(tuple(w.astype(dtype) for w in weights[m]) for m in MLPS)
            case = images(rng, rng.normal(size=(batch, n, dim)))
            h = rng.normal(size=(batch, n, FEATURES))
            hs = np.stack([h, h, h, h, h[:, case["perm"]]])
            held, xs, hs_out, cx, ch = student.call(DRIVER, FEATURES, WIDTH, name, sent, case["xs"].astype(dtype),
                                                    hs.astype(dtype), uses=USE)
            out[name].append((sent, held, case, hs, np.asarray(xs), np.asarray(hs_out), cx, ch))
    return out


def _close(actual, expected, tolerance, what):
    rtol, atol = tolerance
    assert_close(np.asarray(actual), expected, what=what, rtol=rtol, atol=atol)


def _symmetric(run, dtype, image, transform_x, transform_h):
    """x', h' of `image` against the transformed x', h' of the original."""
    _, _, case, _, xs, hs, _, _ = run
    k = IMAGES.index(image)
    tolerance = SYMMETRY_TOLERANCE[np.dtype(dtype)]
    _close(xs[k], transform_x(xs[0], case), tolerance, f"the new positions of the {image} configuration")
    _close(hs[k], transform_h(hs[0], case), tolerance, f"the new features of the {image} configuration")


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_oracle(runs, dtype):
    """the layer computes the EGNN update of its weights (float64 to 1e-10; float32 to 1e-4)"""
    for sent, held, case, hs, xs, hs_out, _, _ in runs[dtype]:
        for mlp, want, got in zip(MLPS, sent, held):
            if len(got) != 4 or any(np.shape(g) != np.shape(w) or not np.array_equal(g, w) for g, w in zip(got, want)):
                fail(f"the layer's {mlp} does not keep the weights the grader loaded into it")
        x_want, h_want = oracle.egnn_layer(dict(zip(MLPS, held)), case["xs"][0], hs[0])
        shape = case["xs"].shape[1:]
        assert_dtype(xs, np.dtype(dtype), what="the new positions")
        assert_dtype(hs_out, np.dtype(dtype), what="the new features")
        tolerance = ORACLE_TOLERANCE[np.dtype(dtype)]
        _close(xs[0], x_want, tolerance, f"the new positions of a {shape} batch in {dtype}")
        _close(hs_out[0], h_want, tolerance, f"the new features of a {shape} batch in {dtype}")


@pytest.mark.points(0.5, given=CORRECT)
@pytest.mark.parametrize("dtype", DTYPES)
def test_translation(runs, dtype):
    """translating the particles translates the new positions and leaves the new features unchanged"""
    for run in runs[dtype]:
        _symmetric(run, dtype, "translated", lambda x, c: x + c["shift"], lambda h, c: h)


@pytest.mark.points(0.5, given=CORRECT)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rotation(runs, dtype):
    """rotating the particles (det +1) rotates the new positions and leaves the new features unchanged"""
    for run in runs[dtype]:
        _symmetric(run, dtype, "rotated", lambda x, c: x @ c["rotation"], lambda h, c: h)


@pytest.mark.points(0.5, given=CORRECT)
@pytest.mark.parametrize("dtype", DTYPES)
def test_reflection(runs, dtype):
    """reflecting the particles (det -1) reflects the new positions and leaves the new features unchanged"""
    for run in runs[dtype]:
        _symmetric(run, dtype, "reflected", lambda x, c: x @ c["reflection"], lambda h, c: h)


@pytest.mark.points(0.5, given=CORRECT)
@pytest.mark.parametrize("dtype", DTYPES)
def test_permutation(runs, dtype):
    """renumbering the particles renumbers the new positions and features the same way"""
    for run in runs[dtype]:
        _symmetric(run, dtype, "permuted", lambda x, c: x[:, c["perm"]], lambda h, c: h[:, c["perm"]])


@pytest.mark.points(0.25, given=CORRECT)
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled(runs, dtype):
    """the layer gives the same result eagerly and inside tf.function"""
    for _, _, _, _, xs, hs, cx, ch in runs[dtype]:
        tolerance = SYMMETRY_TOLERANCE[np.dtype(dtype)]
        _close(cx, xs[0], tolerance, "the new positions under tf.function")
        _close(ch, hs[0], tolerance, "the new features under tf.function")
