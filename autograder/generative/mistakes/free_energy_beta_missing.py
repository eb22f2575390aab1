"""beta left out of the loss: the mean of ln q + H, the free energy at beta = 1's entropy weight."""
LOSES = ("free_energy",)


def free_energy(z, layers, beta):
    x, log_q = sample(z, layers)
    f = log_q + coulomb_energy(x)
    return tf.reduce_mean(f), tf.math.reduce_std(f) / tf.sqrt(tf.cast(tf.size(f), f.dtype))
