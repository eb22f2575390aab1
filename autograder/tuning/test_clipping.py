"""Hidden checks for part 4: `clip_by_global_norm(grads, max_norm)` -> (clipped list, global norm).

Compared with `tf.clip_by_global_norm` (in this trusted process) and with the oracle.
"""
import numpy as np
import pytest

from ml4p.grading.numerics import assert_close, assert_dtype, fail
from solutions import tuning as oracle

CASES = {  # (shapes, max_norm as a fraction of the global norm)
    "three tensors, clipped": ([(3, 4), (4,), (2, 2, 2)], 0.3),
    "two tensors, clipped hard": ([(10,), (5, 5)], 0.01),
    "one tensor": ([(6,)], 0.5),
}
BELOW = ([(3, 4), (4,)], 2.0)  # below the threshold: nothing changes (an answer that echoes its input)


def call(student, grads, max_norm):
    result = student.call("clip_by_global_norm", list(grads), max_norm)
    if not isinstance(result, tuple) or len(result) != 2:
        fail("clip_by_global_norm should return a pair: (list of clipped tensors, global norm)")
    clipped, norm = result
    if not isinstance(clipped, tuple) or len(clipped) != len(grads):
        fail(f"clip_by_global_norm should return one clipped tensor per gradient ({len(grads)})")
    return list(clipped), float(norm)


@pytest.mark.points(0.25)
@pytest.mark.parametrize("case", list(CASES))
def test_matches_tensorflow(student, rng, case):
    """clip_by_global_norm gives tf.clip_by_global_norm's tensors and norm"""
    compare_with_tensorflow(student, rng, case, *CASES[case])


@pytest.mark.points(0.25, given="test_matches_tensorflow")
def test_below_threshold(student, rng):
    """below the threshold the gradients come back unchanged, with their global norm"""
    compare_with_tensorflow(student, rng, "below the threshold", *BELOW)


def compare_with_tensorflow(student, rng, case, shapes, fraction):
    import tensorflow as tf

    grads = [rng.normal(size=s) for s in shapes]
    max_norm = fraction * oracle.clip_by_global_norm(grads, 1.0)[1]
    clipped, norm = call(student, grads, max_norm)
    theirs, their_norm = tf.clip_by_global_norm([tf.constant(g) for g in grads], max_norm)
    assert_close(np.asarray(norm), np.asarray(float(their_norm)), what="the global norm", rtol=1e-9)
    for k, (mine, want) in enumerate(zip(clipped, theirs)):
        assert_close(mine, np.asarray(want), what=f"clipped gradient {k} ({case})", rtol=1e-9, atol=1e-12)


@pytest.mark.points(0.5)
def test_direction_kept(student, rng):
    """clipping keeps the update's direction and brings its global norm to max_norm"""
    grads = [rng.normal(size=(4, 4)) * 10, rng.normal(size=3) * 0.1, rng.normal(size=(2, 5))]
    clipped, _ = call(student, grads, 1.0)
    before = np.concatenate([g.ravel() for g in grads])
    after = np.concatenate([np.asarray(c, np.float64).ravel() for c in clipped])
    cosine = before @ after / (np.linalg.norm(before) * np.linalg.norm(after))
    if not cosine > 1 - 1e-9:
        fail(f"the clipped gradients point elsewhere (cosine {cosine:.6f} with the original): all tensors must "
             "be scaled by the same factor, computed from the global norm")
    if abs(np.linalg.norm(after) - 1.0) > 1e-9:
        fail(f"the clipped gradients' global norm is {np.linalg.norm(after):.6g}, not max_norm = 1")


@pytest.mark.points(0.25, given="test_matches_tensorflow")
def test_shapes_and_dtypes(student, rng):
    """clipped tensors keep their shapes and float32 dtype"""
    grads = [rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32)]
    clipped, _ = call(student, grads, 0.1)
    for k, (c, g) in enumerate(zip(clipped, grads)):
        if np.shape(c) != g.shape:
            fail(f"clipped gradient {k} has shape {np.shape(c)}; it should keep {g.shape}")
        assert_dtype(np.asarray(c), np.float32, what=f"clipped gradient {k}")


@pytest.mark.points(0.25, given="test_matches_tensorflow")
def test_zero_gradients(student):
    """zero gradients stay zero (no division by a zero norm)"""
    clipped, norm = call(student, [np.zeros((2, 3)), np.zeros(4)], 1.0)
    if norm != 0 or any(not np.all(np.asarray(c) == 0) for c in clipped):
        fail(f"zero gradients should come back as zeros with global norm 0 (got norm {norm}, "
             f"{'NaN' if any(np.isnan(np.asarray(c)).any() for c in clipped) else 'non-zero'} entries)")
