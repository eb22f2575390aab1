"""TensorFlow references sent into the kernel while `optimal_control` is graded, as text.

The part asks for five functions that build on each other. So that one mistake costs the
points of its own function only, the checks of `infidelity` and `infidelity_gradient` run
with the reference ``propagator`` below in place of the student's, and those of
`infidelity_gradient`, `optimise_control` and `infidelity_hessian` with the reference
``infidelity`` as well (``uses=USES[...]``). The propagator's own checks come first in
the file and run with the student's code alone.

The functions run only in the kernel, where ``tf`` and ``np`` are in scope; here they are
read as text (``kernel_source``), so this module does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ml4p.grading.source import kernel_source

if TYPE_CHECKING:
    import tensorflow as tf


def propagator(u, dt, h0, hk):
    u = tf.convert_to_tensor(u, tf.float64)
    u = tf.complex(u, tf.zeros_like(u))  # tf.cast would warn in the gradient
    h0 = tf.convert_to_tensor(h0, tf.complex128)
    hk = tf.convert_to_tensor(hk, tf.complex128)
    slices = tf.linalg.expm(tf.constant(-1j * dt, tf.complex128) * (h0 + tf.einsum("jk,kab->jab", u, hk)))
    total = tf.eye(int(h0.shape[0]), dtype=tf.complex128)
    for j in range(int(slices.shape[0])):
        total = slices[j] @ total
    return total


def infidelity(u, dt, h0, hk):
    cnot = tf.constant([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], tf.complex128)
    overlap = tf.linalg.trace(tf.linalg.adjoint(cnot) @ propagator(u, dt, h0, hk))
    return 1 - tf.abs(overlap) ** 2 / 16


PROPAGATOR = kernel_source(propagator)
#: ``infidelity`` on the reference propagator, kept under its own name.
INFIDELITY = kernel_source(propagator, infidelity, rename={"propagator": "_reference_propagator"})

#: What to pass as ``uses=`` for the checks of each function.
USES = {
    "propagator": {},
    "infidelity": {"propagator": PROPAGATOR},
    "infidelity_gradient": {"propagator": PROPAGATOR, "infidelity": INFIDELITY},
    "optimise_control": {"propagator": PROPAGATOR, "infidelity": INFIDELITY},
    "infidelity_hessian": {"propagator": PROPAGATOR, "infidelity": INFIDELITY},
}
