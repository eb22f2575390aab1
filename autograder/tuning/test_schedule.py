"""Hidden checks for part 5: `warmup_cosine(step, total_steps, warmup_steps, peak, final)`.

Compared with Keras's own `CosineDecay` with a warm-up (in this trusted process): it is
the same schedule with initial_learning_rate 0, warmup_target = peak,
decay_steps = total_steps - warmup_steps and alpha = final / peak.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import assert_close, assert_dtype, assert_finite, fail
from solutions import tuning as oracle

CONFIGS = [(1000, 100, 1e-3, 0.0), (500, 50, 0.1, 1e-3), (2000, 7, 3e-4, 3e-5)]


def keras_schedule(total, warmup, peak, final):
    import keras

    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - warmup, warmup_target=peak,
                                                  warmup_steps=warmup, alpha=final / peak)


@pytest.mark.points(0.25)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "total {}, warm-up {}, peak {}, final {}".format(*c))
def test_matches_keras(student, config):
    """warmup_cosine matches Keras's CosineDecay with a warm-up, at every step"""
    total, warmup, peak, final = config
    steps = np.unique(np.concatenate([np.arange(0, warmup + 3), np.linspace(0, total + 50, 97).astype(int)]))
    got = student.call("warmup_cosine", steps, total, warmup, peak, final)
    assert_finite(got, steps.shape, what="the learning rates of an array of steps")
    schedule = keras_schedule(total, warmup, peak, final)
    want = np.array([float(schedule(int(s))) for s in steps])
    bad = np.flatnonzero(np.abs(got - want) > 1e-5 * peak)
    if bad.size:
        s = steps[bad[0]]
        fail(f"at step {s} (total {total}, warm-up {warmup}) the learning rate is {got[bad[0]]:.6g}; it should be "
             f"{want[bad[0]]:.6g}")
    assert_close(got, oracle.warmup_cosine(steps, total, warmup, peak, final), what="the schedule", rtol=1e-5,
                 atol=1e-7 * peak)


@pytest.mark.points(0.25)
def test_without_warmup(student):
    """with warmup_steps = 0 the cosine starts at the peak at step 0"""
    steps = np.arange(0, 120, 7)
    got = student.call("warmup_cosine", steps, 100, 0, 2.0, 0.5)
    assert_finite(got, steps.shape, what="the learning rates")
    assert_close(got, oracle.warmup_cosine(steps, 100, 0, 2.0, 0.5), what="the schedule without warm-up",
                 rtol=1e-5, atol=1e-6)


@pytest.mark.points(0.25, given="test_matches_keras")
def test_shapes_and_dtype(student):
    """a scalar step gives a scalar, an array of steps an array of its shape, float32"""
    scalar = student.call("warmup_cosine", 5, 100, 10, 1.0, 0.0)
    if np.shape(scalar) != ():
        fail(f"warmup_cosine(5, ...) should be a scalar, not of shape {np.shape(scalar)}")
    grid = student.call("warmup_cosine", np.arange(12).reshape(3, 4), 100, 10, 1.0, 0.0)
    assert_finite(grid, (3, 4), what="warmup_cosine of a (3, 4) array of steps")
    assert_dtype(grid, np.float32, what="the learning rates")


@pytest.mark.points(0.75)
def test_in_tf_function(student):
    """warmup_cosine works inside tf.function with an int64 step tensor, as an optimizer calls it"""
    total, warmup, peak, final = 300, 30, 1e-2, 1e-4
    steps = np.array([0, 1, 15, 29, 30, 31, 100, 299, 300, 400])
    got = student.call(DRIVER, steps, total, warmup, peak, final, uses=USES["schedule_compiled"])
    assert_close(got, oracle.warmup_cosine(steps, total, warmup, peak, final),
                 what="the schedule inside tf.function", rtol=1e-5, atol=1e-7 * peak)
