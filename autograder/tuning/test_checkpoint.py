"""Hidden checks for part 6: `save_checkpoint` and `restore_checkpoint`.

The values a checkpoint must hold are chosen here: weights, Adam's step count and moments,
the step and the best metric, sent in as arrays and given to a model and an optimizer by the
driver before `save_checkpoint` saves them. The files it wrote come back as bytes and are read
here (`tf_formats`): they must hold those values. Then the checkpoint is rewritten here to
hold *other* values, which the kernel has never seen, and handed to `restore_checkpoint` in a
new directory: what it restores into a fresh model and optimizer comes back as arrays and
must be those values. So neither a checkpoint kept in memory nor one copied from the
caller's objects passes: the values can only come from the files.
"""
import re

import numpy as np
import pytest
from reference_tf import DRIVER, USES
from tf_formats import FormatError, checkpoint_prefixes, patch_checkpoint, read_checkpoint

from ml4p.grading.numerics import fail

SHAPES = [(12, 16), (16,), (16, 3), (3,)]  # the driver's model: Dense(16) and Dense(3) on 12 inputs
EXTRA = 6  # steps trained after restoring
N, KEEP = 5, 2  # checkpoints saved in a row, and kept


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    x = rng.normal(size=(256, 12)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)


def draw_state(rng, low):
    """weights, iterations, moments, velocities, step, best: every value distinct."""
    return {"weights": [rng.normal(scale=0.5, size=s).astype(np.float32) for s in SHAPES],
            "iterations": np.int64(rng.integers(low, low + 100)),
            "momentums": [rng.normal(scale=0.01, size=s).astype(np.float32) for s in SHAPES],
            "velocities": [(rng.uniform(0.5, 2, size=s) * 1e-4).astype(np.float32) for s in SHAPES],
            "step": int(rng.integers(low + 200, low + 300)), "best": float(rng.uniform(0.1, 1.0))}


def files_of(raw):
    files = {}
    for name, data in raw:
        files[np.asarray(name, np.uint8).tobytes().decode(errors="replace")] = np.asarray(data, np.uint8).tobytes()
    return files


def as_raw(files):
    return tuple((np.frombuffer(name.encode(), np.uint8), np.frombuffer(data, np.uint8))
                 for name, data in sorted(files.items()))


def holding(checkpoint, value, exact=True):
    """The names of the checkpoint's tensors that hold `value` (an array, or a number)."""
    value = np.asarray(value)
    names = []
    for name, tensor in checkpoint.tensors.items():
        if tensor.shape != value.shape:
            continue
        if exact and tensor.dtype == value.dtype and np.array_equal(tensor, value):
            names.append(name)
        elif not exact and tensor.dtype.kind == "f" and abs(float(tensor) - float(value)) <= 1e-6 * abs(float(value)):
            names.append(name)
        elif not exact and tensor.dtype.kind in "iu" and float(tensor) == float(value):
            names.append(name)
    return names


def read(files, what, prefix=None):
    prefixes = checkpoint_prefixes(files)
    if prefix is None:
        if len(prefixes) != 1:
            fail(f"{what}: the directory should hold one checkpoint (one .index file); it holds {len(prefixes)} "
                 f"({', '.join(sorted(files))[:200] or 'no files at all'})")
        prefix = prefixes[0]
    try:
        return read_checkpoint(files, prefix)
    except FormatError as error:
        fail(f"{what}: {prefix} is not a TensorFlow checkpoint that can be read ({error})")


@pytest.fixture(scope="module")
def states():
    rng = np.random.default_rng(2024)
    return draw_state(rng, 100), draw_state(rng, 1000)  # saved, restored


@pytest.fixture(scope="module")
def saved(student, states):
    a = states[0]
    raw, series = student.call(DRIVER, a["weights"], a["iterations"], a["momentums"], a["velocities"], a["step"],
                               a["best"], N, KEEP, uses=USES["checkpoint_save"], timeout=120)
    return files_of(raw), files_of(series)


@pytest.fixture(scope="module")
def where(saved, states):
    """For each saved value: the names of the tensors holding it in the checkpoint on disk."""
    checkpoint = read(saved[0], "save_checkpoint")
    a = states[0]
    found = {"iterations": holding(checkpoint, a["iterations"]), "step": holding(checkpoint, a["step"], exact=False),
             "best": holding(checkpoint, a["best"], exact=False)}
    for key in ("weights", "momentums", "velocities"):
        for k, value in enumerate(a[key]):
            found[key, k] = holding(checkpoint, value)
    return checkpoint, found


def require(found, keys, what):
    missing = [key for key in keys if not found[key]]
    if missing:
        fail(f"the checkpoint that save_checkpoint wrote does not hold {what} it was given")


@pytest.fixture(scope="module")
def restored(student, saved, where, states, data):
    """restore_checkpoint of the checkpoint rewritten to hold the second state."""
    checkpoint, found = where
    b = states[1]
    values = {}
    for key, names in found.items():
        new = b[key[0]][key[1]] if isinstance(key, tuple) else b[key]
        for name in names:
            values[name] = np.asarray(new).astype(checkpoint.tensors[name].dtype)
    files = patch_checkpoint(saved[0], checkpoint, values)
    step, best, weights, iterations, momentums, velocities, resumed = student.call(
        DRIVER, as_raw(files), *data, EXTRA, uses=USES["checkpoint_restore"], timeout=120)
    return {"step": float(step), "best": float(best), "weights": weights, "iterations": iterations,
            "momentums": momentums, "velocities": velocities, "resumed": resumed}


def largest_difference(got, want):
    if len(got) != len(want) or any(np.shape(g) != np.shape(w) for g, w in zip(got, want)):
        return np.inf
    return max(float(np.max(np.abs(np.asarray(g, np.float64) - np.asarray(w, np.float64)))) for g, w in zip(got, want))


@pytest.mark.points(0.75)
def test_restores_model(where, restored, states):
    """the checkpoint on disk holds the model's weights, and restore_checkpoint puts them back exactly"""
    require(where[1], [("weights", k) for k in range(len(SHAPES))], "the model's weights")
    difference = largest_difference(restored["weights"], states[1]["weights"])
    if difference != 0.0:
        fail(f"restored into a fresh model, the weights differ from those in the checkpoint by up to "
             f"{difference:.3g}: restore the checkpoint in the directory given, into the model given")


@pytest.mark.points(0.75)
def test_restores_optimizer(where, restored, states):
    """the checkpoint holds the optimizer: its step count and Adam's moments come back exactly"""
    n = len(SHAPES)
    require(where[1], ["iterations", *[(key, k) for key in ("momentums", "velocities") for k in range(n)]],
            "the optimizer's state (its step count and Adam's moment estimates) that the optimizer")
    b = states[1]
    difference = max(largest_difference(restored["momentums"], b["momentums"]),
                     largest_difference(restored["velocities"], b["velocities"]),
                     largest_difference([restored["iterations"]], [b["iterations"]]))
    if difference != 0.0:
        fail(f"restored into a fresh optimizer, its variables (step count, Adam's moment estimates) differ from "
             f"those in the checkpoint by up to {difference:.3g}")


@pytest.mark.points(0.25)
def test_step_and_best_metric(where, restored, states):
    """the checkpoint holds the step and the best metric, and restore_checkpoint returns them"""
    require(where[1], ["step", "best"], "the step and the best metric")
    b = states[1]
    step, best = restored["step"], restored["best"]
    if step != b["step"] or not abs(best - b["best"]) <= 1e-6 * b["best"]:
        fail(f"restore_checkpoint returned (step, best metric) = ({step:g}, {best:.6g}); the checkpoint holds "
             f"({b['step']}, {b['best']:.6g})")


@pytest.mark.points(0.75)
def test_resume_equals_uninterrupted(student, where, restored, states, data):
    """a run restored from a checkpoint and resumed takes the same steps as one never interrupted"""
    require(where[1], list(where[1]), "everything (weights, optimizer, step, best metric)")
    b = states[1]
    if restored["step"] != b["step"]:
        fail(f"restore_checkpoint returned step {restored['step']:g}, the checkpoint holds step {b['step']}")
    want = student.call(DRIVER, b["weights"], b["iterations"], b["momentums"], b["velocities"], *data, b["step"],
                        b["step"] + EXTRA, uses=USES["checkpoint_reference"], timeout=120)
    difference = largest_difference(restored["resumed"], want)
    if difference != 0.0:
        fail(f"{EXTRA} steps after restoring, the weights are up to {difference:.3g} away from those of the run "
             "that was never interrupted; they should be equal, bit for bit")


@pytest.mark.points(0.5)
def test_keeps_newest_and_empty_directory(student, saved):
    """only the newest max_to_keep checkpoints are kept, the newest is restored; no checkpoint gives (0, inf)"""
    files = saved[1]
    numbers = {int(m.group(1)): p for p in checkpoint_prefixes(files) for m in [re.search(r"-(\d+)$", p)] if m}
    if sorted(numbers) != list(range(N - KEEP + 1, N + 1)):
        fail(f"after saving steps 1-{N} with max_to_keep={KEEP}, the directory holds checkpoints {sorted(numbers)}; "
             f"it should hold {list(range(N - KEEP + 1, N + 1))} (name them by step: checkpoint_number=step)")
    rng = np.random.default_rng(7)
    truth = {}
    for number, prefix in numbers.items():
        checkpoint = read(files, f"checkpoint {number}", prefix)
        steps, bests = holding(checkpoint, number, exact=False), holding(checkpoint, 1.0 / number, exact=False)
        if not steps or not bests:
            fail(f"checkpoint {number} does not hold its step ({number}) and best metric (1/{number})")
        truth[number] = (int(rng.integers(5000, 6000)), float(rng.uniform(1, 2)))
        values = {name: np.asarray(truth[number][0]).astype(checkpoint.tensors[name].dtype) for name in steps}
        values.update({name: np.asarray(truth[number][1]).astype(checkpoint.tensors[name].dtype) for name in bests})
        files = patch_checkpoint(files, checkpoint, values)
    untouched = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    step, best, empty_step, empty_best, after = student.call(DRIVER, as_raw(files), untouched,
                                                             uses=USES["checkpoint_newest"], timeout=120)
    want_step, want_best = truth[N]
    if float(step) != want_step or not abs(float(best) - want_best) <= 1e-6 * want_best:
        fail(f"restore_checkpoint returned (step, best) = ({float(step):g}, {float(best):.6g}), not the newest "
             f"checkpoint's ({want_step}, {want_best:.6g})")
    if float(empty_step) != 0 or not np.isinf(float(empty_best)) or float(empty_best) < 0:
        fail(f"without a checkpoint, restore_checkpoint should return (0, inf), not ({float(empty_step):g}, "
             f"{float(empty_best):g})")
    if largest_difference(after, untouched) != 0:
        fail("without a checkpoint, restore_checkpoint changed the model it was given")
