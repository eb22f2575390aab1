"""Glorot uniform with fan_in alone, limit sqrt(3 / fan_in): right only for square kernels."""
LOSES = ("initializers",)


def glorot_uniform(shape, seed):
    fan_in, _ = shape
    limit = np.sqrt(3 / fan_in)
    return tf.random.stateless_uniform(shape, seed=(seed, 0), minval=-limit, maxval=limit, dtype=tf.float32)
