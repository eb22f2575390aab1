"""Trusted code sent into the student's kernel as source text (see ../mnist/reference_tf.py).

* ``KernelCode`` expressions: the functions, models and initialisers a check hands to a
  student function as arguments (``f`` of ``numerical_gradient``, ``model_fn`` of
  ``overfit_small_batch``, ``initializer`` of ``activation_stds``);
* *drivers*, installed as ``_ml4p_driver``: they create what cannot travel through the
  proxy (Keras models, optimizers, files in the kernel's file system), call the student's
  functions on them in the notebook's namespace, and return numbers only.

Every source runs in a fresh scope holding ``tf`` and ``np``.
"""
from ml4p.grading.proxy import KernelCode

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


def _model_fn(layers: str) -> KernelCode:
    return KernelCode(
        "lambda: (lambda keras: (keras.utils.set_random_seed(0), keras.Sequential("
        f"[keras.Input((784,)), {layers}]))[1])(__import__('keras'))")


#: The MNIST assignment's MLP (a sound model), and a model whose output ignores its input.
SOUND_MLP = _model_fn("keras.layers.Dense(128, activation='relu'), keras.layers.Dense(64, activation='relu'), "
                      "keras.layers.Dense(10)")
BLIND_MODEL = _model_fn("keras.layers.Lambda(lambda v: 0.0 * v[:, :1]), keras.layers.Dense(10)")

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

# ------------------------------------------------------------------ drivers

# Shared by the drivers: the notebook's namespace, a student function from it, a small model.
_COMMON = '''
def _student(name):
    from IPython import get_ipython
    value = get_ipython().user_ns.get(name)
    if value is None or not callable(value):
        raise NameError(f"`{name}` is not defined as a function: did its cell run without errors?")
    return value


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
    loss = float("nan")
    for t in range(first, last):
        idx = np.random.default_rng(t).choice(len(x), 16, replace=False)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y[idx], model(x[idx], training=True), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
    return float(loss)


def _largest_difference(a, b):
    a, b = list(a), list(b)
    if len(a) != len(b):
        return np.inf
    diffs = [np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)), initial=0.0)
             if np.shape(u) == np.shape(v) else np.inf for u, v in zip(a, b)]
    return float(max(diffs, default=0.0))


def _optimizer_state(optimizer, model):
    if not optimizer.built:  # restored variables appear when the optimizer creates them
        optimizer.build(model.trainable_variables)
    return [np.asarray(v) for v in optimizer.variables]


def _temporary_directory():
    import tempfile
    return tempfile.mkdtemp(prefix="ml4p-check-")
'''

#: warmup_cosine inside tf.function, with an int64 step tensor (as an optimizer calls it).
SCHEDULE_COMPILED_DRIVER = _COMMON + '''
def _ml4p_driver(steps, total_steps, warmup_steps, peak, final):
    schedule = tf.function(lambda s: _student("warmup_cosine")(s, total_steps, warmup_steps, peak, final))
    return np.array([float(schedule(tf.constant(s, tf.int64))) for s in steps])
'''

#: save, then restore into a fresh model and optimizer (other initial weights); returns
#: (largest weight difference, largest optimizer-variable difference, restored step,
#: restored best metric).
CHECKPOINT_ROUND_TRIP_DRIVER = _COMMON + '''
def _ml4p_driver(x, y, steps, step_number, best_metric):
    directory = _temporary_directory()
    model, optimizer = _fresh(0)
    _train(model, optimizer, x, y, 0, steps)
    _student("save_checkpoint")(directory, model, optimizer, step_number, best_metric)
    restored, restored_optimizer = _fresh(1)
    step, best = _student("restore_checkpoint")(directory, restored, restored_optimizer)
    return (np.asarray(_largest_difference(restored.get_weights(), model.get_weights())),
            np.asarray(_largest_difference(_optimizer_state(restored_optimizer, restored),
                                           _optimizer_state(optimizer, model))),
            np.asarray(step, np.float64), np.asarray(best, np.float64))
'''

#: A run of `total` steps left alone vs the same run saved at `interrupt`, restored into a
#: fresh model and optimizer, and continued; returns (largest weight difference, restored step).
CHECKPOINT_RESUME_DRIVER = _COMMON + '''
def _ml4p_driver(x, y, total, interrupt):
    straight, straight_optimizer = _fresh(0)
    _train(straight, straight_optimizer, x, y, 0, total)
    directory = _temporary_directory()
    first, first_optimizer = _fresh(0)
    loss = _train(first, first_optimizer, x, y, 0, interrupt)
    _student("save_checkpoint")(directory, first, first_optimizer, interrupt, loss)
    resumed, resumed_optimizer = _fresh(5)
    step, _ = _student("restore_checkpoint")(directory, resumed, resumed_optimizer)
    _train(resumed, resumed_optimizer, x, y, int(step), total)
    return np.asarray(_largest_difference(resumed.get_weights(), straight.get_weights())), np.asarray(step)
'''

#: Checkpoints at steps 1..n with max_to_keep=keep; returns (the step numbers of the `.index`
#: files left, restored step, restored best, restore from an empty directory: step, best, and the
#: largest change of the model it was given).
CHECKPOINT_KEEP_DRIVER = _COMMON + '''
def _ml4p_driver(x, y, n, keep):
    import pathlib, re
    directory = _temporary_directory()
    model, optimizer = _fresh(0)
    for step in range(1, n + 1):
        _train(model, optimizer, x, y, step - 1, step)
        _student("save_checkpoint")(directory, model, optimizer, step, 1.0 / step, keep)
    kept = sorted(int(m.group(1)) for p in pathlib.Path(directory).iterdir()
                  for m in [re.search(r"-(\\d+)\\.index$", p.name)] if m)
    restored, restored_optimizer = _fresh(1)
    step, best = _student("restore_checkpoint")(directory, restored, restored_optimizer)
    untouched, untouched_optimizer = _fresh(2)
    before = [np.array(w) for w in untouched.get_weights()]
    empty_step, empty_best = _student("restore_checkpoint")(_temporary_directory(), untouched,
                                                              untouched_optimizer)
    return (np.asarray(kept, np.int64), np.asarray(step, np.float64), np.asarray(best, np.float64),
            np.asarray(empty_step, np.float64), np.asarray(empty_best, np.float64),
            np.asarray(_largest_difference(untouched.get_weights(), before)))
'''

#: write_metadata in a fresh git repository (if git runs here) and outside any; returns the two
#: files' bytes, and JSON bytes of what the kernel knows: its versions, sys.argv, the commit.
METADATA_DRIVER = _COMMON + '''
def _ml4p_driver(seed, learning_rate, batch_size, name):
    import json, os, pathlib, platform, subprocess, sys
    import keras

    def as_bytes(text):
        return np.frombuffer(text.encode(), np.uint8)

    hyperparameters = {"learning_rate": learning_rate, "batch_size": batch_size, "name": name}
    repository = pathlib.Path(_temporary_directory())
    commit = None
    try:
        env = {**os.environ, "GIT_AUTHOR_NAME": "grader", "GIT_AUTHOR_EMAIL": "grader@localhost",
               "GIT_COMMITTER_NAME": "grader", "GIT_COMMITTER_EMAIL": "grader@localhost",
               "GIT_CONFIG_GLOBAL": os.devnull}
        for command in (["git", "init", "-q"], ["git", "commit", "-q", "--allow-empty", "-m", "run"]):
            subprocess.run(command, cwd=repository, env=env, check=True, capture_output=True, timeout=20)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repository, env=env, check=True,
                                capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    outside = pathlib.Path(_temporary_directory())
    files = []
    here = os.getcwd()
    for directory in (repository, outside):
        os.chdir(directory)
        try:
            _student("write_metadata")(str(directory / "run" / "metadata.json"), seed, hyperparameters)
        finally:
            os.chdir(here)
        path = directory / "run" / "metadata.json"
        files.append(as_bytes(path.read_text()) if path.exists() else np.zeros(0, np.uint8))
    known = {"versions": {"python": platform.python_version(), "numpy": np.__version__,
                          "tensorflow": tf.__version__, "keras": keras.__version__},
             "command": list(sys.argv), "git_commit": commit, "hyperparameters": hyperparameters}
    return files[0], files[1], as_bytes(json.dumps(known))
'''

#: log_metrics at the given steps; returns (metrics.csv's bytes, and the TensorBoard scalars
#: found in the directory: rows (index of the tag in `names` or -1, step, value)).
METRICS_DRIVER = _COMMON + '''
def _ml4p_driver(names, steps, values):
    import pathlib
    directory = pathlib.Path(_temporary_directory()) / "run"
    for step, row in zip(steps, values):
        _student("log_metrics")(str(directory), int(step), {n: float(v) for n, v in zip(names, row)})
    path = directory / "metrics.csv"
    text = path.read_bytes() if path.exists() else b""
    scalars = []
    for events in sorted(directory.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                number = (float(tf.make_ndarray(value.tensor)) if value.HasField("tensor")
                          else float(value.simple_value))
                index = names.index(value.tag) if value.tag in names else -1
                scalars.append((index, event.step, number))
    return np.frombuffer(text, np.uint8), np.asarray(scalars, np.float64).reshape(-1, 3)
'''

#: What to pass as ``uses=`` for each driver.
USES = {
    "schedule_compiled": {DRIVER: SCHEDULE_COMPILED_DRIVER},
    "checkpoint_round_trip": {DRIVER: CHECKPOINT_ROUND_TRIP_DRIVER},
    "checkpoint_resume": {DRIVER: CHECKPOINT_RESUME_DRIVER},
    "checkpoint_keep": {DRIVER: CHECKPOINT_KEEP_DRIVER},
    "metadata": {DRIVER: METADATA_DRIVER},
    "metrics": {DRIVER: METRICS_DRIVER},
}
