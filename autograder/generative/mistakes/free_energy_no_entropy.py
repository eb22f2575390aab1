"""The entropy term dropped: the mean energy <H>_q alone, minimised by a flow collapsed onto the ground state."""
LOSES = ("free_energy",)


def free_energy(z, layers, beta):
    x, _ = sample(z, layers)
    f = coulomb_energy(x)
    return tf.reduce_mean(f), tf.math.reduce_std(f) / tf.sqrt(tf.cast(tf.size(f), f.dtype))
