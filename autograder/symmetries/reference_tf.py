"""Trusted code sent into the student's kernel as source text: the reference layer, and drivers.

* ``egnn_layer``: the reference layer, swapped in for the student's while `energy_model`
  is graded, so that a mistake in the layer costs points in `egnn_layer` only.
* ``energy_model`` and ``mlp_energy_model``: the two models the student's `fit_energy` trains
  while `fit` is graded (built by the driver, so no mistake of parts 1 and 2 matters there).
* drivers, installed as ``_ml4p_driver``: they build the student's layer or model in the
  kernel, load into it weights the check chose, run it on the inputs the check sent
  and return arrays only: the weights the object holds afterwards, its outputs. The
  checks compare those outputs with the NumPy oracle run on those weights, and the
  symmetries with each other, in the trusted process; nothing the kernel computes
  about the object decides a grade by itself.

The functions run only in the kernel, where ``tf`` and ``np`` are in scope; here they
are read as text (``kernel_source``), so this module does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ml4p.grading.source import _student, kernel_source

if TYPE_CHECKING:
    import tensorflow as tf

DRIVER = "_ml4p_driver"
MLPS = ("phi_e", "phi_x", "phi_h")

# ------------------------------------------------------------------ reference


def egnn_layer(features, width, dtype="float32"):
    import keras

    def two_layers(out, last):
        return keras.Sequential([keras.layers.Dense(width, activation="silu", dtype=dtype),
                                 keras.layers.Dense(out, activation=last, dtype=dtype)])

    class ReferenceLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__(dtype=dtype)
            self.phi_e = two_layers(width, "silu")
            self.phi_x = two_layers(1, None)
            self.phi_h = two_layers(features, None)

        def call(self, x, h):
            n = tf.shape(x)[-2]
            r = x[:, :, None, :] - x[:, None, :, :]
            d2 = tf.reduce_sum(r**2, axis=-1, keepdims=True)
            pad = tf.zeros_like(d2)
            m = self.phi_e(tf.concat([h[:, :, None, :] + pad, h[:, None, :, :] + pad, d2], axis=-1))
            m = m * (1 - tf.eye(n, dtype=m.dtype))[:, :, None]
            step = tf.reduce_sum(r * self.phi_x(m), axis=-2) / tf.cast(n - 1, x.dtype)
            return x + step, h + self.phi_h(tf.concat([h, tf.reduce_sum(m, axis=-2)], axis=-1))

    return ReferenceLayer()


def energy_model(features, width, depth, dtype="float32"):
    import keras

    class ReferenceModel(keras.Model):
        def __init__(self):
            super().__init__(dtype=dtype)
            self.blocks = [egnn_layer(features, width, dtype) for _ in range(depth)]
            self.readout = keras.Sequential([keras.layers.Dense(width, activation="silu", dtype=dtype),
                                             keras.layers.Dense(1, dtype=dtype)])

        def call(self, x):
            h = tf.ones(tf.concat([tf.shape(x)[:-1], [features]], axis=0), dtype=x.dtype)
            for block in self.blocks:
                x, h = block(x, h)
            return tf.reduce_sum(self.readout(h)[..., 0], axis=-1)

    return ReferenceModel()


def mlp_energy_model(n, dim, width, dtype="float32"):
    import keras

    class FlatMLP(keras.Model):
        def __init__(self):
            super().__init__(dtype=dtype)
            self.net = keras.Sequential([keras.layers.Reshape((n * dim,)),
                                         keras.layers.Dense(width, activation="silu", dtype=dtype),
                                         keras.layers.Dense(width, activation="silu", dtype=dtype),
                                         keras.layers.Dense(1, dtype=dtype)])

        def call(self, x):
            return self.net(x)[:, 0]

    return FlatMLP()


# ------------------------------------------------------------------ shared by the drivers




def _mlp(layer, name):
    """The layer's MLP `name`, or an AttributeError saying what the grader reads."""
    mlp = getattr(layer, name, None)
    if mlp is None or not hasattr(mlp, "set_weights"):
        raise AttributeError(f"the layer has no Keras MLP `{name}`: the grader reads the weights of its "
                             "three MLPs phi_e, phi_x and phi_h")
    return mlp


def _load(layer, weights):
    """Put the weights sent (k0, b0, k1, b1 per MLP) into the layer's MLPs; returns what they hold then."""
    held = []
    for name, arrays in zip(MLPS, weights):
        mlp = _mlp(layer, name)
        shapes = [tuple(np.shape(w)) for w in mlp.get_weights()]
        wanted = [tuple(np.shape(a)) for a in arrays]
        if shapes != wanted:
            raise ValueError(f"the layer's {name} has weights of shapes {shapes}; Dense(width, silu) then "
                             f"Dense as described has {wanted}")
        mlp.set_weights([np.asarray(a) for a in arrays])
        held.append(tuple(np.asarray(w) for w in mlp.get_weights()))
    return tuple(held)


# ------------------------------------------------------------------ drivers


def layer_driver(features, width, dtype, weights, xs, hs):
    """The student's `egnn_layer(features, width, dtype)`, holding `weights`, on each (x, h) of
    xs, hs (K, B, n, ...); returns (weights held, x' (K, ...), h' (K, ...), x' and h' of the
    first input through tf.function)."""
    layer = _student("egnn_layer")(features, width, dtype)
    layer(tf.constant(xs[0], dtype), tf.constant(hs[0], dtype))
    held = _load(layer, weights)
    k, b = len(xs), len(xs[0])  # all K batches in one call: configurations do not interact
    x_new, h_new = layer(tf.constant(np.concatenate(xs), dtype), tf.constant(np.concatenate(hs), dtype))
    compiled = tf.function(lambda x, h: layer(x, h))(tf.constant(xs[0], dtype), tf.constant(hs[0], dtype))
    return (held, np.asarray(x_new).reshape(k, b, *np.shape(x_new)[1:]),
            np.asarray(h_new).reshape(k, b, *np.shape(h_new)[1:]), np.asarray(compiled[0]), np.asarray(compiled[1]))


def model_driver(features, width, depth, dtype, weights, readout, xs):
    """The student's `energy_model(features, width, depth, dtype)`, its layers holding `weights`
    and its readout `readout`; returns (weights held per layer, readout held, energies (K, B),
    forces by the student's `forces` (K, B, n, dim), energies of xs[0] through tf.function)."""
    model = _student("energy_model")(features, width, depth, dtype)
    model(tf.constant(xs[0], dtype))
    blocks = list(getattr(model, "blocks", None) or [])
    if len(blocks) != depth:
        raise AttributeError(f"the model should keep its {depth} layers in a list `blocks`, in the order "
                             f"they are applied; it holds {len(blocks)}")
    held = tuple(_load(block, w) for block, w in zip(blocks, weights))
    head = getattr(model, "readout", None)
    if head is None or not hasattr(head, "set_weights"):
        raise AttributeError("the model has no Keras MLP `readout`: the grader reads its weights")
    head.set_weights([np.asarray(a) for a in readout])
    head_held = tuple(np.asarray(w) for w in head.get_weights())
    every = tf.constant(np.concatenate(xs), dtype)  # all K batches in one call: configurations do not interact
    energies = np.asarray(model(every)).reshape(len(xs), -1)
    forces = np.asarray(_student("forces")(model, every)).reshape(np.shape(xs))
    compiled = np.asarray(tf.function(lambda x: model(x))(tf.constant(xs[0], dtype)))
    return held, head_held, energies, forces, compiled


def fit_driver(kind, shape, x, e, steps, batch_size, learning_rate, seed):
    """A fresh reference model, `kind` "egnn" (shape: features, width, depth) or "mlp" (shape:
    n, dim, width), seeded with `seed`, trained by the student's
    `fit_energy(model, x, e, steps, batch_size, learning_rate)`; returns (the weights the model
    holds then, flat, in the order of `get_weights`, the losses returned, as float64)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = energy_model(*shape, "float32") if kind == "egnn" else mlp_energy_model(*shape, "float32")
    model(tf.constant(x[:1]))
    losses = _student("fit_energy")(model, x, e, steps, batch_size, learning_rate)
    try:
        losses = np.asarray([float(value) for value in np.ravel(np.asarray(losses, dtype=object))])
    except (TypeError, ValueError) as error:
        raise TypeError("fit_energy should return the loss of each step (a list or an array of "
                        f"numbers): {error}") from None
    return tuple(np.asarray(w) for w in model.get_weights()), losses


# ------------------------------------------------------------------ source texts


def _driver_source(driver) -> str:
    return kernel_source(_student, _mlp, _load, driver, rename={driver.__name__: DRIVER})


EGNN_LAYER = kernel_source(egnn_layer)

#: What to pass as ``uses=`` when grading each part.
USES = {
    "egnn_layer": {DRIVER: _driver_source(layer_driver)},
    "energy_model": {"egnn_layer": EGNN_LAYER, DRIVER: _driver_source(model_driver)},
    "fit": {DRIVER: kernel_source(_student, egnn_layer, energy_model, mlp_energy_model, fit_driver,
                                  rename={"fit_driver": DRIVER})},
    "antisymmetric": {},
}
