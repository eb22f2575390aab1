"""The tuning checks' trusted readers (autograder/tuning/tf_formats.py) against TensorFlow:
real checkpoints and event files written by TensorFlow are read as TensorFlow reads them,
patched checkpoints restore, and damaged files raise FormatError."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ml4p  # noqa: F401 - quiet TensorFlow before it is imported
from ml4p.course import materials_root

sys.path.insert(0, str(materials_root() / "autograder" / "tuning"))
from tf_formats import FormatError, checkpoint_prefixes, patch_checkpoint, read_checkpoint, read_scalars  # noqa: E402

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

SHAPES = [(3, 4), (4,), (4, 2), (2,)]
STEP, BEST = 7, 0.375
STEP_NAME, BEST_NAME = "step/.ATTRIBUTES/VARIABLE_VALUE", "best/.ATTRIBUTES/VARIABLE_VALUE"


def build():
    """A small model and an Adam optimizer with its variables built (as a fresh one to restore into)."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def checkpoint_of(model, optimizer, step, best):
    """The notebook's save_checkpoint's structure."""
    return tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(step, dtype=tf.int64),
                               best=tf.Variable(best, dtype=tf.float64))


def files_in(directory: Path) -> dict:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def write(files: dict, directory: Path) -> Path:
    for name, data in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
    return directory


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(files, prefix, weights) of a checkpoint of a model with weights chosen here, after an Adam step."""
    rng = np.random.default_rng(11)
    weights = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    model, optimizer = build()
    optimizer.apply_gradients(zip([tf.constant(rng.normal(size=s), tf.float32) for s in SHAPES],
                                  model.trainable_variables))
    model.set_weights(weights)  # after the step: the weights saved are those chosen here
    directory = tmp_path_factory.mktemp("saved")
    manager = tf.train.CheckpointManager(checkpoint_of(model, optimizer, STEP, BEST), str(directory), max_to_keep=3)
    path = manager.save(checkpoint_number=STEP)
    files = files_in(directory)
    assert checkpoint_prefixes(files) == [Path(path).name]
    return files, Path(path).name, [w.copy() for w in weights], directory


def tensorflows(path) -> dict:
    reader = tf.train.load_checkpoint(str(path))
    return {name: reader.get_tensor(name) for name, dtype in reader.get_variable_to_dtype_map().items()
            if dtype != tf.string}


def holding(tensors: dict, value) -> list:
    value = np.asarray(value)
    return [n for n, t in tensors.items() if t.dtype == value.dtype and t.shape == value.shape
            and np.array_equal(t, value)]


def iterations_name(tensors: dict) -> str:
    (name,) = [n for n in tensors if n.startswith("optimizer/") and "iterations" in n]
    return name


def test_reads_what_tensorflow_reads(saved):
    files, prefix, weights, directory = saved
    ours = read_checkpoint(files, prefix).tensors
    theirs = tensorflows(directory / prefix)
    # weights, Adam's two moments of each, its step count and learning rate, step, best, save_counter
    assert len(theirs) == 3 * len(SHAPES) + 5
    assert sorted(ours) == sorted(theirs)
    for name, value in theirs.items():
        assert ours[name].dtype == np.asarray(value).dtype and ours[name].shape == np.shape(value), name
        assert np.array_equal(ours[name], value), name
    # ... and the values chosen here
    assert all(len(holding(ours, w)) == 1 for w in weights)
    assert ours[STEP_NAME] == STEP and ours[STEP_NAME].dtype == np.int64
    assert ours[BEST_NAME] == BEST and ours[BEST_NAME].dtype == np.float64
    assert ours[iterations_name(ours)] == 1


def test_patched_checkpoint_restores_the_new_values(saved, tmp_path):
    files, prefix, _, _ = saved
    checkpoint = read_checkpoint(files, prefix)
    rng = np.random.default_rng(12)
    new = {name: (rng.normal(size=v.shape) * 10).astype(v.dtype) for name, v in checkpoint.tensors.items()}
    new[STEP_NAME], new[BEST_NAME] = np.int64(123456), np.float64(0.1)
    new[iterations_name(new)] = np.int64(98765)
    weight_names = [holding(checkpoint.tensors, w)[0] for w in saved[2]]
    patched = patch_checkpoint(files, checkpoint, new)
    assert patched[checkpoint.index_name] != files[checkpoint.index_name]
    write(patched, tmp_path)

    model, optimizer = build()
    fresh = checkpoint_of(model, optimizer, 0, 0.0)
    fresh.restore(str(tmp_path / prefix)).assert_consumed()
    assert int(fresh.step.numpy()) == 123456 and float(fresh.best.numpy()) == 0.1
    assert int(optimizer.iterations.numpy()) == 98765
    for got, name in zip(model.get_weights(), weight_names, strict=True):
        assert np.array_equal(got, new[name]), name
    # every tensor: the restored objects, written again (save_counter unchanged), hold exactly the new values
    restored = tensorflows(fresh.write(str(tmp_path / "again" / "ckpt")))
    assert sorted(restored) == sorted(new)
    for name, value in new.items():
        assert np.array_equal(restored[name], value), name
    # TensorFlow's own reader, too
    direct = tensorflows(tmp_path / prefix)
    assert all(np.array_equal(direct[name], value) for name, value in new.items())


def test_patch_keeps_dtype_and_shape(saved):
    files, prefix, _, _ = saved
    checkpoint = read_checkpoint(files, prefix)
    (name,) = holding(checkpoint.tensors, saved[2][0])
    with pytest.raises(FormatError):
        patch_checkpoint(files, checkpoint, {name: np.zeros((4, 3), np.float32)})
    with pytest.raises(FormatError):
        patch_checkpoint(files, checkpoint, {STEP_NAME: np.zeros(2, np.int64)})


def damaged(files: dict, name: str):
    """Every truncation of files[name], and every file with one bit of one byte flipped."""
    data = files[name]
    for n in range(len(data)):
        yield "truncated", n, {**files, name: data[:n]}
    for k in range(len(data)):
        flipped = bytearray(data)
        flipped[k] ^= 1 << (k % 8)
        yield "flipped", k, {**files, name: bytes(flipped)}


@pytest.mark.timeout(60)
def test_damaged_checkpoint_raises_format_error(saved):
    files, prefix, _, _ = saved
    names = [prefix + ".index", *(n for n in files if n.startswith(prefix + ".data-"))]
    assert len(names) == 2
    start, count = time.perf_counter(), 0
    for name in names:
        for how, where, broken in damaged(files, name):
            with pytest.raises(FormatError):
                read_checkpoint(broken, prefix)
                pytest.fail(f"{name} {how} at {where}: read without an error")
            count += 1
    assert count == 2 * sum(len(files[n]) for n in names)
    with pytest.raises(FormatError):
        read_checkpoint({prefix + ".index": files[prefix + ".index"]}, prefix)  # no data file
    with pytest.raises(FormatError):
        read_checkpoint(files, "nothing")
    assert time.perf_counter() - start < 30


def scalars_written(directory: Path):
    """(tag, step, value) written by tf.summary.scalar (values exact in float32)."""
    written = [("loss", 10, 2.25), ("accuracy", 10, 0.125), ("loss", 20, 1.5), ("accuracy", 20, 0.5),
               ("loss", 35, -0.75), ("accuracy", 35, 0.875)]
    writer = tf.summary.create_file_writer(str(directory))
    with writer.as_default():
        for tag, step, value in written:
            tf.summary.scalar(tag, value, step=step)
    writer.flush()
    writer.close()
    return written


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    directory = tmp_path_factory.mktemp("events")
    written = scalars_written(directory)
    (path,) = [p for p in directory.iterdir() if ".tfevents." in p.name]
    return path.read_bytes(), written


def test_reads_scalars_of_tf_summary(events):
    data, written = events
    assert read_scalars(data) == written


def test_reads_simple_values(tmp_path):
    """The older form of a scalar summary (Summary.Value.simple_value), as TensorBoard's writer writes it."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for step, value in [(3, 0.5), (4, -8.0)]:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="lr", simple_value=value)])
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0, summary=summary))
    writer.close()
    (path,) = list(tmp_path.iterdir())
    assert read_scalars(path.read_bytes()) == [("lr", 3, 0.5), ("lr", 4, -8.0)]


def record_ends(data: bytes) -> set:
    """Where the records of a TFRecord file end (uint64 length, 4 + length + 4 bytes of crcs and data)."""
    ends, pos = {0}, 0
    while pos < len(data):
        pos += 16 + int.from_bytes(data[pos : pos + 8], "little")
        ends.add(pos)
    assert pos == len(data)
    return ends


@pytest.mark.timeout(60)
def test_damaged_event_file_raises_format_error(events):
    data, written = events
    ends = record_ends(data)
    assert len(ends) == 2 + len(written)  # the start, the file-version record, one record per scalar
    for how, where, broken in damaged({"e": data}, "e"):
        if how == "truncated" and where in ends:  # a shorter file of whole records: the scalars before
            scalars = read_scalars(broken["e"])
            assert scalars == written[: len(scalars)]
            continue
        with pytest.raises(FormatError):
            read_scalars(broken["e"])
            pytest.fail(f"{how} at {where}: read without an error")
