"""Infidelity 1 - Re Tr(CNOT^dagger U) / 4: it punishes an unobservable global phase."""
LOSES = ("optimal_control",)


def infidelity(u, dt, h0, hk):
    overlap = tf.linalg.trace(tf.linalg.adjoint(CNOT) @ propagator(u, dt, h0, hk))
    return 1 - tf.math.real(overlap) / 4
