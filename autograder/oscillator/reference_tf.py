"""TensorFlow references of the parts the later parts build on, sent into the kernel as text.

While a check grades `force`, the student's `potential` is replaced by ``potential`` below
for that call (``student.call(..., uses=USES["force"])``), so that a mistake in the
potential costs points in `potential` only; `verlet` gets both references.

The functions run only in the kernel, where ``tf`` and ``np`` are in scope; here they are
read as text (``kernel_source``), so this module does not import TensorFlow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ml4p.grading.source import kernel_source

if TYPE_CHECKING:
    import tensorflow as tf


def potential(q, beta):
    q = tf.convert_to_tensor(q)
    d = q[..., 1:] - q[..., :-1]
    return tf.reduce_sum(d**2 / 2 + beta * d**4 / 4, axis=-1)


def force(q, beta):
    q = tf.convert_to_tensor(q)
    with tf.GradientTape() as tape:
        tape.watch(q)
        v = potential(q, beta)
    return -tape.gradient(v, q)


POTENTIAL = kernel_source(potential)
#: ``force`` on the reference potential, under its own name: the student's ``potential`` stays.
FORCE = kernel_source(potential, force, rename={"potential": "_reference_potential"})

#: What to pass as ``uses=`` when grading each part.
USES = {
    "potential": {},
    "force": {"potential": POTENTIAL},
    "verlet": {"potential": POTENTIAL, "force": FORCE},
}
