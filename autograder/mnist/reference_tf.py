"""Trusted code sent into the student's kernel as source text.

Two kinds:

* reference versions of the graded functions: while a check grades one part, the
  parts it builds on are replaced by these for the duration of the call
  (``student.call(..., uses=...)``), so that a mistake in ``cross_entropy`` costs
  points in ``cross_entropy`` only;
* *drivers*: small functions installed under the name ``_ml4p_driver`` and called
  instead of a student function, when what the check needs is not a student
  function's return value (a Keras model cannot come back through the proxy, only
  arrays): they reach the notebook's namespace, call the student's code there and
  return numbers.

Every source runs in a fresh scope holding ``tf`` and ``np``; a driver's globals
are that scope, not the notebook's, so a student's globals cannot shadow it.
"""

DRIVER = "_ml4p_driver"

PREPROCESS = '''
def preprocess(images, labels):
    images = np.asarray(images)
    x = images.reshape(len(images), 28 * 28).astype(np.float32) / 255
    y = np.eye(10, dtype=np.float32)[np.asarray(labels).astype(np.int64)]
    return x, y
'''

BUILD_MODEL = '''
def build_model():
    import keras
    return keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ])
'''

CROSS_ENTROPY = '''
def cross_entropy(logits, labels):
    logits = tf.convert_to_tensor(logits)
    labels = tf.cast(labels, logits.dtype)
    return -tf.reduce_mean(tf.reduce_sum(labels * tf.nn.log_softmax(logits, axis=-1), axis=-1))
'''

# Shared by the drivers: the notebook's namespace and a student function from it.
_NOTEBOOK = '''
def _notebook():
    from IPython import get_ipython
    return get_ipython().user_ns


def _student(name, what="function"):
    value = _notebook().get(name)
    if value is None or (what == "function" and not callable(value)):
        raise NameError(f"`{name}` is not defined as a {what}: did its cell run without errors?")
    return value


def _strategy():
    import ml4p.device
    return ml4p.device.strategy()
'''

#: build_model: a fresh model from the student's `build_model`, built under the strategy,
#: applied to x, 2x and -x; returns (count_params, f(x), f(2x), f(-x), weight shapes).
BUILD_MODEL_DRIVER = _NOTEBOOK + '''
def _ml4p_driver(x):
    with _strategy().scope():
        model = _student("build_model")()
    x = tf.constant(x, tf.float32)
    outputs = [np.asarray(model(v, training=False)) for v in (x, 2 * x, -x)]
    shapes = tuple(np.asarray(w.shape, np.int64) for w in model.trainable_weights)
    return (np.asarray(model.count_params(), np.int64), *outputs, shapes)
'''

#: cross_entropy: the student's loss and its gradient w.r.t. the logits, by tf.GradientTape.
CROSS_ENTROPY_GRADIENT_DRIVER = _NOTEBOOK + '''
def _ml4p_driver(logits, labels):
    z = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = _student("cross_entropy")(z, tf.constant(labels))
    grad = tape.gradient(loss, z)
    if grad is None:
        raise ValueError("no gradient flows from the loss back to the logits: compute it with "
                         "TensorFlow operations only (no NumPy, no .numpy())")
    return loss, grad
'''

#: cross_entropy compiled with tf.function, as the training step uses it.
CROSS_ENTROPY_COMPILED_DRIVER = _NOTEBOOK + '''
def _ml4p_driver(logits, labels):
    return tf.function(_student("cross_entropy"))(tf.constant(logits), tf.constant(labels))
'''

#: train, isolated: a fresh reference model (the reference `build_model` is installed),
#: trained by the student's `train` (with the reference `cross_entropy` installed) on
#: images preprocessed here; returns (history, logits on the held-out images,
#: accuracy of the trained model on its training images).
TRAIN_DRIVER = _NOTEBOOK + PREPROCESS.replace("def preprocess(", "def _reference_preprocess(") + '''
def _ml4p_driver(images, labels, held_out, epochs, batch_size, learning_rate, seed):
    import keras
    keras.utils.set_random_seed(seed)
    x, y = _reference_preprocess(images, labels)
    with _strategy().scope():
        model = _student("build_model")()
    history = _student("train")(model, x, y, epochs, batch_size, learning_rate, seed)
    try:
        history = np.asarray(history, np.float64)
    except (TypeError, ValueError):
        raise TypeError("train should return the history as an array of shape (epochs, 2), not a "
                        f"{type(history).__name__}") from None
    x_held_out, _ = _reference_preprocess(held_out, np.zeros(len(held_out), np.int64))
    logits = np.asarray(model(x_held_out, training=False))
    train_logits = np.asarray(model(x, training=False))
    train_accuracy = np.mean(np.argmax(train_logits, -1) == np.asarray(labels))
    return history, logits, np.asarray(train_accuracy)
'''

#: train, the notebook's result: logits of the notebook's global `model` on the images.
TRAINED_MODEL_DRIVER = _NOTEBOOK + PREPROCESS.replace("def preprocess(", "def _reference_preprocess(") + '''
def _ml4p_driver(images):
    model = _student("model", "model")
    x, _ = _reference_preprocess(images, np.zeros(len(images), np.int64))
    return np.concatenate([np.asarray(model(x[i:i + 1000], training=False))
                           for i in range(0, len(x), 1000)])
'''

#: dream: a reference model (the reference `build_model`, trained here for 2 epochs by Keras's
#: own `fit` on the images sent), so that the check does not depend on how well the notebook's
#: `model` was trained, then the student's `dream` on it; returns (images, the model's logits on
#: them, or an empty (0, 10) array if they are not 10 images of 28 x 28, the largest change of
#: any model parameter during `dream`).
DREAM_DRIVER = (_NOTEBOOK + PREPROCESS.replace("def preprocess(", "def _reference_preprocess(")
                + BUILD_MODEL.replace("def build_model(", "def _reference_build_model(") + '''
def _ml4p_driver(images, labels, steps, learning_rate, seed):
    import keras
    keras.utils.set_random_seed(seed)
    x, y = _reference_preprocess(images, labels)
    with _strategy().scope():
        model = _reference_build_model()
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    before = [np.array(w) for w in model.get_weights()]
    dreamed = np.asarray(_student("dream")(model, steps, learning_rate))
    change = max(float(np.max(np.abs(np.asarray(a, np.float64) - b)))
                 for a, b in zip(model.get_weights(), before))
    logits = np.zeros((0, 10), np.float32)
    if dreamed.size == 10 * 784 and dreamed.dtype.kind == "f":
        logits = np.asarray(model(tf.reshape(tf.cast(dreamed, tf.float32), (10, 784)), training=False))
    return dreamed, logits, np.asarray(change)
''')

#: What to pass as ``uses=`` when grading each part.
USES = {
    "preprocess": {},
    "build_model": {DRIVER: BUILD_MODEL_DRIVER},
    "cross_entropy": {},
    "cross_entropy_gradient": {DRIVER: CROSS_ENTROPY_GRADIENT_DRIVER},
    "cross_entropy_compiled": {DRIVER: CROSS_ENTROPY_COMPILED_DRIVER},
    "train": {"build_model": BUILD_MODEL, "cross_entropy": CROSS_ENTROPY, DRIVER: TRAIN_DRIVER},
    "trained_model": {DRIVER: TRAINED_MODEL_DRIVER},
    "dream": {"cross_entropy": CROSS_ENTROPY, DRIVER: DREAM_DRIVER},
}
