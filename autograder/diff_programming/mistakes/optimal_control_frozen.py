"""No physics: the identity propagator, a constant infidelity, zero derivatives, an optimiser that never moves."""
LOSES = ("optimal_control",)
DEGENERATE = True


def propagator(u, dt, h0, hk):
    return tf.eye(4, dtype=tf.complex128)


def infidelity(u, dt, h0, hk):
    return tf.constant(0.0, tf.float64)


def infidelity_gradient(u, dt, h0, hk):
    return tf.zeros_like(tf.convert_to_tensor(u, tf.float64))


def optimise_control(u0, dt, h0, hk, steps, learning_rate):
    return np.asarray(u0, dtype=np.float64), np.zeros(steps)


def infidelity_hessian(u, dt, h0, hk):
    n = int(np.size(u))
    return tf.zeros((n, n), tf.float64)
