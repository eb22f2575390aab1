"""Trusted code sent into the student's kernel as source text: the reference layer, and drivers.

* ``egnn_layer``: the reference layer, swapped in for the student's while `energy_model`
  is graded, so that a mistake in the layer costs points in `egnn_layer` only.
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

from ml4p.grading.source import kernel_source

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


# ------------------------------------------------------------------ shared by the drivers


def _student(name):
    """The student's function `name` from the notebook, or a NameError saying what is missing."""
    from IPython import get_ipython
    value = get_ipython().user_ns.get(name)
    if not callable(value):
        raise NameError(f"`{name}` is not defined as a function: did its cell run without errors?")
    return value


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
    outs = [layer(tf.constant(x, dtype), tf.constant(h, dtype)) for x, h in zip(xs, hs)]
    compiled = tf.function(lambda x, h: layer(x, h))(tf.constant(xs[0], dtype), tf.constant(hs[0], dtype))
    return (held, np.stack([np.asarray(o[0]) for o in outs]), np.stack([np.asarray(o[1]) for o in outs]),
            np.asarray(compiled[0]), np.asarray(compiled[1]))


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
    energies = np.stack([np.asarray(model(tf.constant(x, dtype))) for x in xs])
    forces = np.stack([np.asarray(_student("forces")(model, tf.constant(x, dtype))) for x in xs])
    compiled = np.asarray(tf.function(lambda x: model(x))(tf.constant(xs[0], dtype)))
    return held, head_held, energies, forces, compiled


# ------------------------------------------------------------------ source texts


def _driver_source(driver) -> str:
    return kernel_source(_student, _mlp, _load, driver, rename={driver.__name__: DRIVER})


EGNN_LAYER = kernel_source(egnn_layer)

#: What to pass as ``uses=`` when grading each part.
USES = {
    "egnn_layer": {DRIVER: _driver_source(layer_driver)},
    "energy_model": {"egnn_layer": EGNN_LAYER, DRIVER: _driver_source(model_driver)},
    "antisymmetric": {},
}
