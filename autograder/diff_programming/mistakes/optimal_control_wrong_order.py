"""Multiplies the slices in the wrong order, U = exp(-i dt H_1) ... exp(-i dt H_N): the first slice acts last."""
LOSES = ("optimal_control",)


def propagator(u, dt, h0, hk):
    u = tf.convert_to_tensor(u, tf.float64)
    u = tf.complex(u, tf.zeros_like(u))  # tf.cast would warn in the gradient
    h0 = tf.convert_to_tensor(h0, tf.complex128)
    hk = tf.convert_to_tensor(hk, tf.complex128)
    slices = tf.linalg.expm(tf.constant(-1j * dt, tf.complex128) * (h0 + tf.einsum("jk,kab->jab", u, hk)))
    total = tf.eye(h0.shape[0], dtype=tf.complex128)
    for j in range(slices.shape[0]):
        total = total @ slices[j]
    return total
