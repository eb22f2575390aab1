"""Trusted code sent into the kernel, as text, while `inverse_problem` is graded.

* ``hamiltonian`` and ``ground_state``: the references of part 2a (graded before), swapped in
  for the student's, so that a mistake there costs points in `ground_state` only;
* ``density_loss``: the reference loss, swapped in while `fit_potential` is graded;
* drivers, installed as ``_ml4p_driver``: they run the student's `density_loss` or `density_pt`
  under a ``tf.GradientTape`` and return arrays only (the value and the gradient or VJP),
  which the checks compare with the oracle's perturbation theory in the trusted process.

The functions run only in the kernel, where ``tf`` and ``np`` are in scope; here they are read
as text (``kernel_source``), so this module does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ml4p.grading.source import _student, kernel_source

if TYPE_CHECKING:
    import numpy as np
    import tensorflow as tf

DRIVER = "_ml4p_driver"


def hamiltonian(v, dx):
    v = tf.convert_to_tensor(v, tf.float64)
    off = tf.fill([tf.shape(v)[0] - 1], tf.constant(-0.5 / dx**2, tf.float64))
    return tf.linalg.diag(v + 1.0 / dx**2) + tf.linalg.diag(off, k=1) + tf.linalg.diag(off, k=-1)


def ground_state(v, dx):
    energies, states = tf.linalg.eigh(hamiltonian(v, dx))
    return energies[0], states[:, 0] ** 2 / dx


def density_loss(v, target, dx):
    density = ground_state(v, dx)[1]
    return dx * tf.reduce_sum(tf.abs(density - tf.convert_to_tensor(target, tf.float64)))




def loss_gradient_driver(v, target, dx):
    """(loss, d loss / d v) of the student's `density_loss` by tf.GradientTape, as arrays."""
    v = tf.constant(v, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(v)
        loss = _student("density_loss")(v, target, dx)
    gradient = tape.gradient(loss, v)
    if gradient is None:
        raise TypeError("the tape found no gradient of density_loss with respect to v: compute it with "
                        "TensorFlow operations from v (no .numpy(), no NumPy functions)")
    return np.asarray(loss, dtype=np.float64), np.asarray(gradient, dtype=np.float64)


def pt_driver(v, dx, upstream):
    """(rho, sum_x upstream(x) d rho(x) / d v) of the student's `density_pt`, as arrays."""
    v = tf.constant(v, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(v)
        density = _student("density_pt")(v, dx)
    vjp = tape.gradient(density, v, output_gradients=tf.constant(upstream, density.dtype))
    if vjp is None:
        raise TypeError("the tape found no gradient of density_pt with respect to v: decorate the function "
                        "of v with tf.custom_gradient and return (density, backward)")
    return np.asarray(density, dtype=np.float64), np.asarray(vjp, dtype=np.float64)


GROUND_STATE = kernel_source(hamiltonian, ground_state)
#: The reference part 2a, in place of the student's, for every check of this part.
BELOW = {"hamiltonian": kernel_source(hamiltonian), "ground_state": GROUND_STATE}

#: What to pass as ``uses=`` for the checks of each function.
USES = {
    "density_loss": BELOW,
    "loss_gradient": {**BELOW, DRIVER: kernel_source(_student, loss_gradient_driver,
                                                     rename={"loss_gradient_driver": DRIVER})},
    "density_pt": {**BELOW, DRIVER: kernel_source(_student, pt_driver, rename={"pt_driver": DRIVER})},
    "fit_potential": {**BELOW, "density_loss": kernel_source(hamiltonian, ground_state, density_loss)},
}
