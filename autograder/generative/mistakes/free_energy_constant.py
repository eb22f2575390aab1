"""No physics: a constant estimate with no error."""
LOSES = ("free_energy",)
DEGENERATE = True


def free_energy(z, layers, beta):
    return tf.constant(0.0, tf.float64), tf.constant(0.0, tf.float64)
