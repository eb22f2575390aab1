"""The input echoed, random numbers, a model never trained, a checkpoint kept in memory.

The gradient is x itself, errors and verdicts are random; the over-fitting returns an
untrained model's loss at every step; the initialisers draw U[0, 1) and the layers' stds are
random; clipping returns the gradients it was given, the schedule the step; save_checkpoint
keeps the weights and the optimizer's variables in a global dict (writing a placeholder file),
restore_checkpoint copies the last saved back; the metadata is the visible test's example
copied, the metrics CSV holds random numbers and no TensorBoard scalar is written.
"""
LOSES = ("gradient_check", "overfit", "initializers", "clipping", "schedule", "checkpoint", "logging")
DEGENERATE = True

_kept_in_memory = {}


def numerical_gradient(f, x, eps=1e-5):
    return np.array(x, dtype=np.float64)


def relative_error(a, b):
    return float(np.random.uniform())


def check_gradient(f, x, eps=1e-5, tolerance=1e-6):
    error = float(np.random.uniform())
    return error, bool(np.random.uniform() < 0.5)


def check_invariance(f, x, transform, tolerance=1e-10):
    return float(np.random.uniform()), bool(np.random.uniform() < 0.5)


def overfit_small_batch(model_fn, x, y, steps=200, learning_rate=1e-2):
    model = model_fn()
    logits = model(tf.constant(x, tf.float32))
    loss = float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)))
    return np.full(steps, loss), float(np.mean(np.argmax(logits, axis=-1) == y))


def glorot_uniform(shape, seed):
    return tf.random.stateless_uniform(shape, seed=(seed, 0), dtype=tf.float32)


def he_normal(shape, seed):
    return tf.random.stateless_uniform(shape, seed=(seed, 0), dtype=tf.float32)


def activation_stds(initializer, activation, depth=20, width=256, batch=512, seed=0):
    return np.random.default_rng().uniform(0.01, 2.0, depth)


def clip_by_global_norm(grads, max_norm):
    grads = [tf.convert_to_tensor(g) for g in grads]
    return grads, tf.sqrt(tf.add_n([tf.reduce_sum(tf.cast(g, tf.float64) ** 2) for g in grads]))


def warmup_cosine(step, total_steps, warmup_steps, peak, final=0.0):
    return tf.cast(step, tf.float32)


def save_checkpoint(directory, model, optimizer, step, best_metric, max_to_keep=3):
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    _kept_in_memory["last"] = ([v.numpy() for v in model.weights], [v.numpy() for v in optimizer.variables],
                               step, best_metric)
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / "checkpoint").write_text("kept in memory\n")
    return str(Path(directory) / f"ckpt-{step}")


def restore_checkpoint(directory, model, optimizer):
    if "last" not in _kept_in_memory or not Path(directory).is_dir() or not any(Path(directory).iterdir()):
        return 0, float("inf")
    weights, variables, step, best = _kept_in_memory["last"]
    for variable, value in zip(model.weights, weights):
        variable.assign(value)
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    for variable, value in zip(optimizer.variables, variables):
        variable.assign(value)
    return step, best


def write_metadata(path, seed, hyperparameters):
    example = {"seed": 0, "hyperparameters": {"learning_rate": 1e-3, "batch_size": 64, "steps": 200,
                                              "model": "784-128-64-10"},
               "versions": {"python": "3.11", "numpy": "2.0", "tensorflow": "2.16", "keras": "3.0"},
               "git_commit": None, "command": ["python"], "time": "2025-01-01T00:00:00+00:00"}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(example))


def log_metrics(directory, step, metrics):
    path = Path(directory) / "metrics.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        if path.stat().st_size == 0:
            f.write("step," + ",".join(metrics) + "\n")
        f.write(",".join(str(v) for v in [step, *np.random.uniform(size=len(metrics))]) + "\n")
