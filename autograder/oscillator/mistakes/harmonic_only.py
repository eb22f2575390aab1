"""Leaves out the quartic term: a harmonic chain whatever beta is."""
LOSES = ("potential",)


def potential(q, beta):
    q = tf.convert_to_tensor(q)
    d = q[..., 1:] - q[..., :-1]
    return tf.reduce_sum(d**2 / 2, axis=-1)
