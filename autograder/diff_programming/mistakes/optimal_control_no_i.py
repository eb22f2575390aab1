"""Exponentiates -dt H instead of -i dt H: an imaginary-time step, not unitary."""
LOSES = ("optimal_control",)


def propagator(u, dt, h0, hk):
    u = tf.convert_to_tensor(u, tf.float64)
    u = tf.complex(u, tf.zeros_like(u))  # tf.cast would warn in the gradient
    h0 = tf.convert_to_tensor(h0, tf.complex128)
    hk = tf.convert_to_tensor(hk, tf.complex128)
    slices = tf.linalg.expm(tf.constant(-dt, tf.complex128) * (h0 + tf.einsum("jk,kab->jab", u, hk)))
    total = tf.eye(h0.shape[0], dtype=tf.complex128)
    for j in range(slices.shape[0]):
        total = slices[j] @ total
    return total
