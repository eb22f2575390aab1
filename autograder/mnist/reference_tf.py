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

The checks decide from arrays that come back, in the trusted process: a model's
logits, parameter count and accuracy are computed there, in NumPy, from the model's
weights (and a model's own outputs only serve to check that it computes what those
weights say). Student code can read and change everything a driver holds or is
given (its caller's frame, the model object and its class), so what the kernel
computes with such an object never decides a grade by itself. And no driver ships
the reference of a part graded after the part under test (the grader refuses it).

Every source runs in a fresh scope holding ``tf`` and ``np``; a driver's globals
are that scope, not the notebook's, so a student's globals cannot shadow it. The
functions below run only there: this module reads them as text (``kernel_source``)
and does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ml4p.grading.source import kernel_source

if TYPE_CHECKING:
    import tensorflow as tf


DRIVER = "_ml4p_driver"

# ------------------------------------------------------------------ references


def preprocess(images, labels):
    images = np.asarray(images)
    x = images.reshape(len(images), 28 * 28).astype(np.float32) / 255
    y = np.eye(10, dtype=np.float32)[np.asarray(labels).astype(np.int64)]
    return x, y


def build_model():
    import keras
    return keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ])


def cross_entropy(logits, labels):
    logits = tf.convert_to_tensor(logits)
    labels = tf.cast(labels, logits.dtype)
    return -tf.reduce_mean(tf.reduce_sum(labels * tf.nn.log_softmax(logits, axis=-1), axis=-1))


# ------------------------------------------------------------------ shared by the drivers


def _notebook():
    """The notebook's namespace."""
    from IPython import get_ipython
    return get_ipython().user_ns


def _student(name, what="function"):
    """The student's `name` from the notebook, or a NameError saying what is missing."""
    value = _notebook().get(name)
    if value is None or (what == "function" and not callable(value)):
        raise NameError(f"`{name}` is not defined as a {what}: did its cell run without errors?")
    return value


def _strategy():
    import ml4p.device
    return ml4p.device.strategy()


# ------------------------------------------------------------------ drivers


def build_model_driver(x):
    """A fresh model from the student's `build_model`, built under the strategy; returns (its
    weights, `get_weights()` order, its outputs on x). The check counts the parameters from
    the arrays and compares the outputs with a NumPy forward pass of them."""
    with _strategy().scope():
        model = _student("build_model")()
    outputs = np.asarray(model(tf.constant(x, tf.float32), training=False))
    return tuple(np.asarray(w) for w in model.get_weights()), outputs


def cross_entropy_gradient_driver(logits, labels):
    """The student's loss and its gradient w.r.t. the logits, by tf.GradientTape."""
    z = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = _student("cross_entropy")(z, tf.constant(labels))
    grad = tape.gradient(loss, z)
    if grad is None:
        raise ValueError("no gradient flows from the loss back to the logits: compute it with "
                         "TensorFlow operations only (no NumPy, no .numpy())")
    return loss, grad


def cross_entropy_compiled_driver(logits, labels):
    """The student's cross_entropy compiled with tf.function, as the training step uses it."""
    return tf.function(_student("cross_entropy"))(tf.constant(logits), tf.constant(labels))


def train_driver(images, labels, epochs, batch_size, learning_rate, seed):
    """train, isolated: a fresh reference model (the reference `build_model` is installed),
    trained by the student's `train` (with the reference `cross_entropy` installed) on images
    preprocessed here; returns (history, the trained model's weights). The check computes the
    model's logits from the weights, in the trusted process."""
    import keras
    keras.utils.set_random_seed(seed)
    x, y = preprocess(images, labels)
    with _strategy().scope():
        model = _student("build_model")()
    history = _student("train")(model, x, y, epochs, batch_size, learning_rate, seed)
    try:
        history = np.asarray(history, np.float64)
    except (TypeError, ValueError):
        raise TypeError("train should return the history as an array of shape (epochs, 2), not a "
                        f"{type(history).__name__}") from None
    return history, tuple(np.asarray(w) for w in model.get_weights())


def trained_model_driver(x):
    """train, the notebook's result: the weights of the notebook's global `model` and its
    logits on a few images x (preprocessed by the check). The check compares those logits with
    a NumPy forward pass of the weights, then computes the test accuracy from the weights."""
    model = _student("model", "model")
    logits = np.asarray(model(tf.constant(x, tf.float32), training=False))
    return tuple(np.asarray(w) for w in model.get_weights()), logits


def dream_driver(weights, steps, learning_rate):
    """dream: a reference model (the reference `build_model`) holding the weights sent (a
    classifier trained in the trusted process), and the student's `dream` on it; returns
    (images, the model's weights afterwards). The check classifies the images with its own
    weights, in NumPy: nothing done to the model object changes that."""
    with _strategy().scope():
        model = build_model()
    model.set_weights([np.asarray(w, np.float32) for w in weights])
    variables = list(model.weights)
    dreamed = np.asarray(_student("dream")(model, steps, learning_rate))
    return dreamed, tuple(np.asarray(v) for v in variables)


# ------------------------------------------------------------------ source texts


def _driver_source(driver, *references) -> str:
    """`driver` installed as ``_ml4p_driver``, with the shared helpers and `references`
    (reference functions it calls, each as ``_reference_<name>``: the student's stay)."""
    rename = {driver.__name__: DRIVER, **{f.__name__: f"_reference_{f.__name__}" for f in references}}
    return kernel_source(_notebook, _student, _strategy, *references, driver, rename=rename)


PREPROCESS = kernel_source(preprocess)
BUILD_MODEL = kernel_source(build_model)
CROSS_ENTROPY = kernel_source(cross_entropy)
BUILD_MODEL_DRIVER = _driver_source(build_model_driver)
CROSS_ENTROPY_GRADIENT_DRIVER = _driver_source(cross_entropy_gradient_driver)
CROSS_ENTROPY_COMPILED_DRIVER = _driver_source(cross_entropy_compiled_driver)
TRAIN_DRIVER = _driver_source(train_driver, preprocess)
TRAINED_MODEL_DRIVER = _driver_source(trained_model_driver)
DREAM_DRIVER = _driver_source(dream_driver, build_model)

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
