"""TensorFlow reference functions, sent into the student's kernel as source text.

When a check grades one part, the parts it builds on are replaced by these for
the duration of the call (``student.call(..., uses=...)``), so that a mistake
in ``energy`` costs points in ``energy`` only.

The functions run only in the kernel, where ``tf`` and ``np`` are in scope; here they
are read as text (``kernel_source``), so this module does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ml4p.grading.source import kernel_source

if TYPE_CHECKING:
    import tensorflow as tf


def energy(x):
    x = tf.convert_to_tensor(x)
    n = x.shape[-2]
    eye = tf.eye(n, dtype=x.dtype)
    diff = x[..., :, None, :] - x[..., None, :, :]
    r = tf.sqrt(tf.reduce_sum(diff * diff, axis=-1) + eye)
    pairs = 0.5 * tf.reduce_sum((1 - eye) / r, axis=(-2, -1))
    return pairs + tf.reduce_sum(x * x, axis=(-2, -1))


def forces(x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        e = energy(x)
    return -tape.gradient(e, x)


ENERGY = kernel_source(energy)
#: ``forces`` on the reference energy, under its own name: the student's ``energy`` stays.
FORCES = kernel_source(energy, forces, rename={"energy": "_reference_energy"})

#: What to pass as ``uses=`` when grading each part.
USES = {
    "energy": {},
    "forces": {"energy": ENERGY},
    "gradient_descent": {"energy": ENERGY, "forces": FORCES},
}
