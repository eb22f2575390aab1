"""Trusted code sent into the student's kernel as source text (see ../mnist/reference_tf.py).

* ``KernelCode`` expressions: the functions, models and initialisers a check hands to a
  student function as arguments (``f`` of ``numerical_gradient``, ``model_fn`` of
  ``overfit_small_batch``, ``initializer`` of ``activation_stds``);
* *drivers*, installed as ``_ml4p_driver``: they create what cannot travel through the
  proxy (Keras models, optimizers, files in the kernel's file system), call the student's
  functions on them in the notebook's namespace, and return numbers only.

A driver computes nothing that a check trusts from an object the student's code held (the
student's function can reach the driver's frame, replace methods, keep state in globals):
what it returns is *data* that the checks judge in the trusted process. The values a model
and an optimizer hold are chosen there and sent in as arrays; what the student's code made
comes back as arrays (a model's weights, evaluated there in NumPy) or as the files it wrote,
byte for byte (checkpoints and TensorBoard event files are read there, by `tf_formats`); a
checkpoint handed back to `restore_checkpoint` holds values the kernel has never seen.

Every source runs in a fresh scope holding ``tf`` and ``np``. The driver functions below run
only there: this module reads them as text (``kernel_source``) and does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ml4p.grading.proxy import KernelCode
from ml4p.grading.source import _student, kernel_source

if TYPE_CHECKING:
    import tensorflow as tf

DRIVER = "_ml4p_driver"

# ------------------------------------------------------------------ part 1: gradients

#: solutions.tuning.smooth, in TensorFlow (works on NumPy arrays and tensors alike).
SMOOTH = KernelCode("lambda x: tf.reduce_sum(tf.sin(x) * x**2) + 0.5 * tf.reduce_sum(x) ** 2")
#: the same function with a hand-written gradient that is exact ...
RIGHT_CUSTOM_GRADIENT = KernelCode(
    "tf.custom_gradient(lambda x: (tf.reduce_sum(x**3), lambda dy: dy * 3 * x**2))")
#: ... or wrong by a factor (2 for 3) or by a small offset (1e-4 per coordinate).
WRONG_FACTOR_GRADIENT = KernelCode(
    "tf.custom_gradient(lambda x: (tf.reduce_sum(x**3), lambda dy: dy * 2 * x**2))")
WRONG_OFFSET_GRADIENT = KernelCode(
    "tf.custom_gradient(lambda x: (tf.reduce_sum(x**3), lambda dy: dy * (3 * x**2 + 1e-4)))")

#: Invariant under any permutation of the rows (pairwise distances), and a function that is not.
PAIR_SUM = KernelCode(
    "lambda x: np.sum(np.sqrt(np.sum((np.asarray(x)[:, None] - np.asarray(x)[None]) ** 2, axis=-1)))")
FIRST_ROW = KernelCode("lambda x: np.sum(np.asarray(x)[0] ** 3)")
REVERSE_ROWS = KernelCode("lambda x: np.asarray(x)[::-1]")

# ------------------------------------------------------------------ part 2: over-fitting
# (OVERFIT_DRIVER below: the models are built with weights chosen in the trusted process)

# ------------------------------------------------------------------ part 3: initialisation


def normal_initializer(std: str) -> KernelCode:
    """initializer(shape, seed) with weights N(0, std^2); `std` an expression in fan_in."""
    return KernelCode(
        "lambda shape, seed: tf.random.stateless_normal(shape, seed=(seed, 0), "
        f"stddev=(lambda fan_in: {std})(shape[0]), dtype=tf.float32)")


HE = normal_initializer("np.sqrt(2 / fan_in)")
GLOROT_SQUARE = normal_initializer("np.sqrt(1 / fan_in)")  # Glorot's variance for a square layer
RELU = KernelCode("tf.nn.relu")
TANH = KernelCode("tf.tanh")


# ------------------------------------------------------------------ shared by the drivers
# The notebook's namespace and a student function from it, small models, the values of a model
# and its Adam optimizer in and out as arrays, files in and out as bytes.




def _fresh(seed):
    import keras
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="tanh"),
                              keras.layers.Dense(3)])
    return model, keras.optimizers.Adam(1e-2)


def _train(model, optimizer, x, y, first, last):
    """Steps first..last-1 of Adam on batches of 16 that depend on the step alone."""
    import keras
    tf.config.experimental.enable_op_determinism()
    for t in range(first, last):
        idx = np.random.default_rng(t).choice(len(x), 16, replace=False)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y[idx], model(x[idx], training=True), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))


def _adam(model, optimizer):
    """(iterations, first moments, second moments) of an Adam optimizer, built for the model."""
    if not optimizer.built:  # restored variables appear when the optimizer creates them
        optimizer.build(model.trainable_variables)
    variables = list(optimizer.variables)
    momentums = [v for v in variables if v.path.endswith("_momentum")]
    velocities = [v for v in variables if v.path.endswith("_velocity")]
    if not len(momentums) == len(velocities) == len(model.trainable_variables):
        raise RuntimeError("grader: this Keras's Adam keeps other variables than the checks expect")
    return optimizer.iterations, momentums, velocities


def _assign(model, optimizer, weights, iterations, momentums, velocities):
    for variable, value in zip(model.trainable_variables, weights, strict=True):
        variable.assign(value)
    its, ms, vs = _adam(model, optimizer)
    its.assign(iterations)
    for variable, value in zip(ms + vs, list(momentums) + list(velocities), strict=True):
        variable.assign(value)


def _state(model, optimizer):
    """The model's weights and the optimizer's state, as arrays."""
    its, ms, vs = _adam(model, optimizer)
    return (tuple(np.array(v) for v in model.trainable_variables), np.array(its),
            tuple(np.array(v) for v in ms), tuple(np.array(v) for v in vs))


def _number(value):
    try:
        return float(value)
    except Exception:
        return float("nan")


def _temporary_directory():
    import tempfile
    return tempfile.mkdtemp(prefix="ml4p-check-")


def _files(directory, limit=200):
    """The regular files under directory: ((path as bytes, content as bytes), ...)."""
    import os
    found = []
    for root, _, names in os.walk(directory):
        for name in sorted(names):
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path) and len(found) < limit:
                with open(path, "rb") as f:
                    data = f.read(32 << 20)
                found.append((np.frombuffer(os.path.relpath(path, directory).encode(), np.uint8),
                              np.frombuffer(data, np.uint8)))
    return tuple(found)


def _write_files(files):
    """A new directory holding files ((path as bytes, content as bytes), ...)."""
    import os
    directory = _temporary_directory()
    for name, data in files:
        name = np.asarray(name, np.uint8).tobytes().decode()
        parts = name.split("/")
        if name.startswith("/") or ".." in parts:
            raise ValueError(f"grader: a bad file name {name!r}")
        path = os.path.join(directory, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(np.asarray(data, np.uint8).tobytes())
    return directory


def overfit_driver(kind, weights, x, y, steps, learning_rate):
    """overfit_small_batch with a `model_fn` building, with the weights given (chosen in the
    trusted process), the MNIST MLP (kind 0) or a model whose output ignores its input (kind 1);
    returns (the losses, the accuracy reported, the weights of the last model model_fn built,
    how many it built)."""
    import keras
    made = []

    def model_fn():
        keras.utils.set_random_seed(0)
        if kind == 0:
            layers = [keras.layers.Dense(128, activation="relu"), keras.layers.Dense(64, activation="relu"),
                      keras.layers.Dense(10)]
        else:
            layers = [keras.layers.Lambda(lambda v: 0.0 * v[:, :1]), keras.layers.Dense(10)]
        model = keras.Sequential([keras.Input((784,)), *layers])
        model.set_weights([np.asarray(w) for w in weights])
        made.append(model)
        return model

    losses, accuracy = _student("overfit_small_batch")(model_fn, x, y, steps=steps,
                                                       learning_rate=learning_rate)
    trained = tuple(np.array(w) for w in made[-1].get_weights()) if made else ()
    return np.asarray(losses, np.float64), np.asarray(_number(accuracy)), trained, np.asarray(len(made))


def schedule_compiled_driver(steps, total_steps, warmup_steps, peak, final):
    """warmup_cosine inside tf.function, with an int64 step tensor (as an optimizer calls it)."""
    schedule = tf.function(lambda s: _student("warmup_cosine")(s, total_steps, warmup_steps, peak, final))
    return np.array([float(schedule(tf.constant(s, tf.int64))) for s in steps])


def checkpoint_save_driver(weights, iterations, momentums, velocities, step, best, n, keep):
    """A model and an Adam optimizer given the state sent in (weights, iterations, moments),
    saved by save_checkpoint as `step` with `best`; then checkpoints 1..n of it (best 1 / step)
    with max_to_keep=keep in another directory. Returns the files of the two directories, as
    bytes."""
    model, optimizer = _fresh(0)
    _assign(model, optimizer, weights, iterations, momentums, velocities)
    directory = _temporary_directory()
    _student("save_checkpoint")(directory, model, optimizer, int(step), float(best))
    saved = _files(directory)
    series = _temporary_directory()
    for s in range(1, n + 1):
        _student("save_checkpoint")(series, model, optimizer, s, 1.0 / s, keep)
    return saved, _files(series)


def checkpoint_restore_driver(files, x, y, extra):
    """restore_checkpoint from a new directory holding the files sent in (a checkpoint the
    trusted process wrote), into a fresh model and optimizer; then `extra` more steps of
    training from the step it returned. Returns (step, best, weights, iterations, moments,
    velocities restored, and the weights after the extra steps)."""
    directory = _write_files(files)
    model, optimizer = _fresh(1)
    step, best = _student("restore_checkpoint")(directory, model, optimizer)
    weights, iterations, momentums, velocities = _state(model, optimizer)
    first = int(_number(step)) if 0 <= _number(step) < 1e6 else 0
    _train(model, optimizer, x, y, first, first + extra)
    return (np.asarray(_number(step)), np.asarray(_number(best)), weights, iterations, momentums, velocities,
            tuple(np.array(v) for v in model.trainable_variables))


def checkpoint_reference_driver(weights, iterations, momentums, velocities, x, y, first, last):
    """No student code: the state sent in, trained for steps first..last-1 (what a resumed run
    must give)."""
    model, optimizer = _fresh(4)
    _assign(model, optimizer, weights, iterations, momentums, velocities)
    _train(model, optimizer, x, y, first, last)
    return tuple(np.array(v) for v in model.trainable_variables)


def checkpoint_newest_driver(files, weights):
    """restore_checkpoint from a new directory holding the files sent in (several checkpoints),
    and from an empty one into a model given the weights sent in. Returns (step, best; empty:
    step, best, the model's weights after the call)."""
    model, optimizer = _fresh(2)
    step, best = _student("restore_checkpoint")(_write_files(files), model, optimizer)
    untouched, untouched_optimizer = _fresh(3)
    for variable, value in zip(untouched.trainable_variables, weights, strict=True):
        variable.assign(value)
    empty_step, empty_best = _student("restore_checkpoint")(_temporary_directory(), untouched,
                                                              untouched_optimizer)
    return (np.asarray(_number(step)), np.asarray(_number(best)), np.asarray(_number(empty_step)),
            np.asarray(_number(empty_best)), tuple(np.array(v) for v in untouched.trainable_variables))


def metadata_driver(seed, learning_rate, batch_size, name, message, date):
    """write_metadata in a fresh git repository (if git runs here: its one commit made with the
    message and the dates given, so the trusted process knows its hash) and outside any; returns
    the two files' bytes, whether git ran, and sys.argv as JSON bytes, taken before the call."""
    import json
    import os
    import pathlib
    import subprocess
    import sys

    def as_bytes(text):
        return np.frombuffer(text.encode(), np.uint8)

    command = json.dumps(list(sys.argv))
    repository = pathlib.Path(_temporary_directory())
    git = 0
    try:
        env = {**os.environ, "GIT_AUTHOR_NAME": "grader", "GIT_AUTHOR_EMAIL": "grader@localhost",
               "GIT_COMMITTER_NAME": "grader", "GIT_COMMITTER_EMAIL": "grader@localhost",
               "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
               "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        for command_line in (["git", "init", "-q"], ["git", "commit", "-q", "--allow-empty", "-m", message]):
            subprocess.run(command_line, cwd=repository, env=env, check=True, capture_output=True, timeout=20)
        git = 1
    except (OSError, subprocess.SubprocessError):
        git = 0
    outside = pathlib.Path(_temporary_directory())
    files = []
    here = os.getcwd()
    for directory in (repository, outside):
        hyperparameters = {"learning_rate": learning_rate, "batch_size": batch_size, "name": name}
        os.chdir(directory)
        try:
            _student("write_metadata")(str(directory / "run" / "metadata.json"), seed, hyperparameters)
        finally:
            os.chdir(here)
        path = directory / "run" / "metadata.json"
        files.append(as_bytes(path.read_text()) if path.is_file() else np.zeros(0, np.uint8))
    return files[0], files[1], np.asarray(git), as_bytes(command)


def metrics_driver(names, steps, values):
    """log_metrics at the given steps; returns (metrics.csv's bytes, and the files of the
    directory: ((path, bytes), ...), the TensorBoard event files among them)."""
    import pathlib
    directory = pathlib.Path(_temporary_directory()) / "run"
    for step, row in zip(steps, values):
        _student("log_metrics")(str(directory), int(step), {n: float(v) for n, v in zip(names, row)})
    path = directory / "metrics.csv"
    text = path.read_bytes() if path.is_file() else b""
    return np.frombuffer(text, np.uint8), (_files(directory) if directory.is_dir() else ())


# ------------------------------------------------------------------ source texts

#: The helpers every driver's source holds.
SHARED = (_student, _fresh, _train, _adam, _assign, _state, _number, _temporary_directory, _files, _write_files)


def _driver_source(driver) -> str:
    """`driver` installed as ``_ml4p_driver``, with the helpers shared by the drivers."""
    return kernel_source(*SHARED, driver, rename={driver.__name__: DRIVER})


OVERFIT_DRIVER = _driver_source(overfit_driver)
SCHEDULE_COMPILED_DRIVER = _driver_source(schedule_compiled_driver)
CHECKPOINT_SAVE_DRIVER = _driver_source(checkpoint_save_driver)
CHECKPOINT_RESTORE_DRIVER = _driver_source(checkpoint_restore_driver)
CHECKPOINT_REFERENCE_DRIVER = _driver_source(checkpoint_reference_driver)
CHECKPOINT_NEWEST_DRIVER = _driver_source(checkpoint_newest_driver)
METADATA_DRIVER = _driver_source(metadata_driver)
METRICS_DRIVER = _driver_source(metrics_driver)

#: What to pass as ``uses=`` for each driver.
USES = {
    "overfit": {DRIVER: OVERFIT_DRIVER},
    "schedule_compiled": {DRIVER: SCHEDULE_COMPILED_DRIVER},
    "checkpoint_save": {DRIVER: CHECKPOINT_SAVE_DRIVER},
    "checkpoint_restore": {DRIVER: CHECKPOINT_RESTORE_DRIVER},
    "checkpoint_reference": {DRIVER: CHECKPOINT_REFERENCE_DRIVER},
    "checkpoint_newest": {DRIVER: CHECKPOINT_NEWEST_DRIVER},
    "metadata": {DRIVER: METADATA_DRIVER},
    "metrics": {DRIVER: METRICS_DRIVER},
}
