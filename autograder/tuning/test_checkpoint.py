"""Hidden checks for part 6: `save_checkpoint` and `restore_checkpoint`.

Drivers (`reference_tf`) build small Keras models and Adam optimizers in the kernel,
train them with a loop whose batches depend on the step alone, and call the student's
functions on them; only numbers come back.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import fail


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    x = rng.normal(size=(256, 12)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)


@pytest.fixture(scope="module")
def round_trip(student, data):
    return student.call(DRIVER, *data, 7, 7, 0.25, uses=USES["checkpoint_round_trip"], timeout=120)


@pytest.mark.points(0.75)
def test_restores_model(round_trip):
    """restore_checkpoint puts the saved model's weights back exactly, into a fresh model"""
    if float(round_trip[0]) != 0.0:
        fail(f"after restoring, the model's weights differ from the saved ones by up to {float(round_trip[0]):.3g}")


@pytest.mark.points(0.75)
def test_restores_optimizer(round_trip):
    """the checkpoint holds the optimizer: its step count and Adam's moments come back exactly"""
    if float(round_trip[1]) != 0.0:
        fail(f"after restoring, the optimizer's variables (step count, Adam's moment estimates) differ from the "
             f"saved ones by up to {float(round_trip[1]):.3g}: does the checkpoint include the optimizer?")


@pytest.mark.points(0.25)
def test_step_and_best_metric(round_trip):
    """restore_checkpoint returns the saved step and best metric"""
    step, best = float(round_trip[2]), float(round_trip[3])
    if step != 7 or best != 0.25:
        fail(f"restore_checkpoint returned (step, best metric) = ({step:g}, {best:g}); saved were (7, 0.25)")


@pytest.mark.points(0.75)
def test_resume_equals_uninterrupted(student, data):
    """a run interrupted, restored and resumed ends with the same weights as one left alone"""
    difference, step = student.call(DRIVER, *data, 24, 11, uses=USES["checkpoint_resume"], timeout=120)
    if int(step) != 11:
        fail(f"restore_checkpoint returned step {int(step)}, the checkpoint was saved at step 11")
    if float(difference) != 0.0:
        fail(f"the resumed run ends with weights up to {float(difference):.3g} away from the uninterrupted run's; "
             "they should be equal, bit for bit")


@pytest.mark.points(0.5)
def test_keeps_newest_and_empty_directory(student, data):
    """only the newest max_to_keep checkpoints are kept, the newest is restored; no checkpoint gives (0, inf)"""
    kept, step, best, empty_step, empty_best, change = student.call(DRIVER, *data, 5, 2,
                                                                     uses=USES["checkpoint_keep"], timeout=120)
    if list(np.atleast_1d(kept)) != [4, 5]:
        fail(f"after saving steps 1-5 with max_to_keep=2, the directory holds checkpoints {list(np.atleast_1d(kept))};"
             " it should hold 4 and 5 (name them by step: checkpoint_number=step)")
    if float(step) != 5 or abs(float(best) - 0.2) > 1e-12:
        fail(f"restore_checkpoint restored step {float(step):g} (best {float(best):g}); the newest is step 5")
    if float(empty_step) != 0 or not np.isinf(float(empty_best)) or float(empty_best) < 0:
        fail(f"without a checkpoint, restore_checkpoint should return (0, inf), not ({float(empty_step):g}, "
             f"{float(empty_best):g})")
    if float(change) != 0:
        fail("without a checkpoint, restore_checkpoint changed the model it was given")
