"""Trusted code sent into the student's kernel as source text: references and drivers.

* ``coulomb_energy``: the notebook's given energy, sent in for every part that uses it, so
  that an edited copy in the notebook changes nothing.
* ``conditioner``: a trusted copy of the notebook's given `Conditioner`; the drivers build
  the flows they test from it, holding weights the check chose.
* references of the graded functions, swapped in for the student's while later parts are
  graded (``USES``), so that a mistake costs the points of its own part only.
* drivers, installed as ``_ml4p_driver``: they build conditioners in the kernel, call the
  student's functions on them and return arrays only (outputs, gradients, the weights
  the conditioners hold afterwards). The checks compare those with the NumPy oracle
  (``solutions/generative.py``) on the same weights, in the trusted process.

The functions run only in the kernel, where ``tf`` and ``np`` are in scope; here they are
read as text (``kernel_source``), so this module does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ml4p.grading.source import _student, kernel_source

if TYPE_CHECKING:
    import tensorflow as tf

DRIVER = "_ml4p_driver"

# ------------------------------------------------------------------ given code, trusted copies


def coulomb_energy(x):
    x = tf.convert_to_tensor(x)
    n = x.shape[-2]
    diff = x[..., :, None, :] - x[..., None, :, :]
    eye = tf.eye(n, dtype=x.dtype)
    r = tf.sqrt(tf.reduce_sum(diff**2, axis=-1) + eye)
    upper = tf.linalg.band_part(tf.ones_like(eye), 0, -1) - eye
    return tf.reduce_sum(upper / r, axis=[-2, -1]) + tf.reduce_sum(x**2, axis=[-2, -1])


def conditioner(n, dim, width):
    import keras

    class ReferenceConditioner(keras.Model):
        def __init__(self):
            super().__init__(dtype="float64")
            self.net = keras.Sequential([
                keras.layers.Dense(width, activation="tanh", dtype="float64"),
                keras.layers.Dense(width, activation="tanh", dtype="float64"),
                keras.layers.Dense(2 * n * dim, kernel_initializer="zeros", dtype="float64"),
            ])

        def call(self, u):
            out = self.net(tf.reshape(u, (-1, n * dim)))
            s, t = tf.split(out, 2, axis=-1)
            return tf.reshape(s, tf.shape(u)), tf.reshape(t, tf.shape(u))

    made = ReferenceConditioner()
    made(tf.zeros((1, n, dim), tf.float64))
    return made


def flow_variables(layers):
    return [v for _, made in layers for v in made.trainable_variables]


# ------------------------------------------------------------------ references of graded functions


def coupling_forward(x, mask, conditioner):
    s, t = conditioner(mask * x)
    return mask * x + (1 - mask) * (x * tf.exp(s) + t), tf.reduce_sum((1 - mask) * s, axis=[-2, -1])


def coupling_inverse(y, mask, conditioner):
    s, t = conditioner(mask * y)
    return mask * y + (1 - mask) * (y - t) * tf.exp(-s), -tf.reduce_sum((1 - mask) * s, axis=[-2, -1])


def flow_forward(z, layers):
    x, log_det = z, tf.zeros(tf.shape(z)[:1], z.dtype)
    for mask, made in layers:
        x, step = coupling_forward(x, mask, made)
        log_det += step
    return x, log_det


def flow_inverse(x, layers):
    z, log_det = x, tf.zeros(tf.shape(x)[:1], x.dtype)
    for mask, made in reversed(layers):
        z, step = coupling_inverse(z, mask, made)
        log_det += step
    return z, log_det


def log_normal(z):
    d = z.shape[-2] * z.shape[-1]
    return -0.5 * tf.reduce_sum(z**2, axis=[-2, -1]) - 0.5 * d * np.log(2 * np.pi)


def log_prob(x, layers):
    z, log_det = flow_inverse(x, layers)
    return log_normal(z) + log_det


def sample(z, layers):
    x, log_det = flow_forward(z, layers)
    return x, log_normal(z) - log_det


def free_energy(z, layers, beta):
    x, log_q = sample(z, layers)
    f = log_q / beta + coulomb_energy(x)
    return tf.reduce_mean(f), tf.math.reduce_std(f) / tf.sqrt(tf.cast(tf.size(f), f.dtype))


# ------------------------------------------------------------------ shared by the drivers




def _flow(n, dim, width, layers):
    """[(mask, conditioner)] of reference conditioners holding the weights sent, and what they hold."""
    made, held = [], []
    for mask, weights in layers:
        one = conditioner(n, dim, width)
        one.net.set_weights([np.asarray(w) for w in weights])
        made.append((tf.constant(mask, tf.float64), one))
        held.append(tuple(np.asarray(w) for w in one.net.get_weights()))
    return made, tuple(held)


def _pair(result, what):
    """A function's (tensor, tensor) result as two float64 arrays, or a TypeError saying what came back."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{what} should return a pair (a tensor, a tensor), not {type(result).__name__}")
    return tuple(np.asarray(item, dtype=np.float64) for item in result)


# ------------------------------------------------------------------ drivers


def coupling_driver(n, dim, width, mask, weights, x, probes):
    """The student's couplings on one reference conditioner holding `weights`: forward of x,
    inverse of that, inverse of x, and forward of the probes (for the Jacobian)."""
    (layer,), held = _flow(n, dim, width, [(mask, weights)])
    mask, made = layer
    forward, inverse = _student("coupling_forward"), _student("coupling_inverse")
    y, log_det = _pair(forward(tf.constant(x), mask, made), "coupling_forward")
    back, back_log_det = _pair(inverse(tf.constant(y), mask, made), "coupling_inverse")
    x_inverse, inverse_log_det = _pair(inverse(tf.constant(x), mask, made), "coupling_inverse")
    probed, _ = _pair(forward(tf.constant(probes), mask, made), "coupling_forward")
    return held[0], y, log_det, back, back_log_det, x_inverse, inverse_log_det, probed


def flow_driver(n, dim, width, layers, z, x):
    """The student's flow functions on reference conditioners holding `layers`' weights."""
    made, held = _flow(n, dim, width, layers)
    x_f, log_det_f = _pair(_student("flow_forward")(tf.constant(z), made), "flow_forward")
    z_i, log_det_i = _pair(_student("flow_inverse")(tf.constant(x), made), "flow_inverse")
    back, _ = _pair(_student("flow_inverse")(tf.constant(x_f), made), "flow_inverse")
    log_q = np.asarray(_student("log_prob")(tf.constant(x), made), dtype=np.float64)
    x_s, log_q_s = _pair(_student("sample")(tf.constant(z), made), "sample")
    return held, x_f, log_det_f, z_i, log_det_i, back, log_q, x_s, log_q_s


def density_driver(n, dim, width, layers, x):
    """ln q of the student's `log_prob` on the points x (a grid, for the normalisation)."""
    made, _ = _flow(n, dim, width, layers)
    return np.asarray(_student("log_prob")(tf.constant(x), made), dtype=np.float64)


def free_energy_driver(n, dim, width, layers, z, beta):
    """The student's (F, error) and the gradient of F with respect to every conditioner weight."""
    made, held = _flow(n, dim, width, layers)
    variables = flow_variables(made)
    with tf.GradientTape() as tape:
        result = _student("free_energy")(tf.constant(z), made, beta)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"free_energy should return a pair (F, its error), not {type(result).__name__}")
        value = result[0]
    gradient = tape.gradient(value, variables)
    if any(g is None for g in gradient):
        raise ValueError("F does not depend on every weight of the flow (a gradient is None): is the estimate "
                         "computed with TensorFlow from the flow's samples?")
    return (held, np.asarray(value, dtype=np.float64), np.asarray(result[1], dtype=np.float64),
            tuple(np.asarray(g, dtype=np.float64) for g in gradient))


def training_driver(n, dim, depth, width, seed, beta, steps, batch_size, learning_rate):
    """A fresh reference flow (zero last layers: the identity), trained by the student's
    `train_flow`; returns the weights its conditioners hold then and the losses returned."""
    import keras

    keras.utils.set_random_seed(seed)
    made = []
    for layer in range(depth):
        mask = tf.constant(((np.arange(n * dim) + layer) % 2).reshape(n, dim), tf.float64)
        made.append((mask, conditioner(n, dim, width)))
    losses = _student("train_flow")(made, beta, steps, batch_size, learning_rate, seed)
    try:
        losses = np.asarray([float(value) for value in np.ravel(np.asarray(losses, dtype=object))])
    except (TypeError, ValueError) as error:
        raise TypeError("train_flow should return the free-energy estimate of each step (a list or an array "
                        f"of numbers): {error}") from None
    return tuple(tuple(np.asarray(w) for w in one.net.get_weights()) for _, one in made), losses


# ------------------------------------------------------------------ source texts

_SHARED = (_student, conditioner, _flow, _pair)
COUPLING = kernel_source(coupling_forward, coupling_inverse)
FLOW = kernel_source(coupling_forward, coupling_inverse, flow_forward, flow_inverse, log_normal, log_prob, sample)
FREE_ENERGY = kernel_source(coupling_forward, coupling_inverse, flow_forward, flow_inverse, log_normal, log_prob,
                            sample, coulomb_energy, free_energy)



def _all(source, *names):
    """``uses`` entries binding each of `names` to its definition in one trusted source."""
    return {name: source for name in names}


COUPLINGS = _all(COUPLING, "coupling_forward", "coupling_inverse")
FLOWS = _all(FLOW, "coupling_forward", "coupling_inverse", "flow_forward", "flow_inverse", "log_normal", "log_prob",
             "sample")
ENERGY = {"coulomb_energy": kernel_source(coulomb_energy)}

#: What to pass as ``uses=`` when grading each part.
USES = {
    "coupling": {DRIVER: kernel_source(*_SHARED, coupling_driver, rename={"coupling_driver": DRIVER})},
    "flow": {**COUPLINGS, DRIVER: kernel_source(*_SHARED, flow_driver, rename={"flow_driver": DRIVER})},
    "flow_density": {**COUPLINGS, DRIVER: kernel_source(*_SHARED, density_driver, rename={"density_driver": DRIVER})},
    "free_energy": {**FLOWS, **ENERGY, DRIVER: kernel_source(*_SHARED, flow_variables, free_energy_driver,
                                                            rename={"free_energy_driver": DRIVER})},
    "training": {**_all(FREE_ENERGY, "coupling_forward", "coupling_inverse", "flow_forward", "flow_inverse",
                        "log_normal", "log_prob", "sample", "coulomb_energy", "free_energy"),
                 "flow_variables": kernel_source(flow_variables),
                 DRIVER: kernel_source(*_SHARED, training_driver, rename={"training_driver": DRIVER})},
    "importance": ENERGY,
}
