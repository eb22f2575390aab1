"""No reweighting: the plain mean energy of the samples for <H> and for F, and every sample counted."""
LOSES = ("importance",)
DEGENERATE = True


def importance_estimates(x, log_q, beta):
    e = tf.reduce_mean(coulomb_energy(x))
    return e, e, tf.constant(1.0, tf.float64)
