"""Numbers the controls k N + j (u transposed, as in the course's reshape(n_ctrl, n_basis)), not j K + k."""
LOSES = ("optimal_control",)


def infidelity_hessian(u, dt, h0, hk):
    u = tf.convert_to_tensor(u, tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(u)
        with tf.GradientTape() as inner:
            inner.watch(u)
            loss = infidelity(u, dt, h0, hk)
        gradient = tf.reshape(tf.transpose(inner.gradient(loss, u)), [-1])
    jac = outer.jacobian(gradient, u)  # (K N, N, K)
    return tf.reshape(tf.transpose(jac, [0, 2, 1]), [tf.size(u), tf.size(u)])
