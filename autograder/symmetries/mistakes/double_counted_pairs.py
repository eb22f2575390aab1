"""Sums 1/r over every ordered pair i != j: each pair counted twice, U doubled."""
LOSES = ("fit",)


def pair_energy(x):
    x = tf.convert_to_tensor(x)
    n = x.shape[-2]
    d2 = tf.reduce_sum((x[..., :, None, :] - x[..., None, :, :]) ** 2, axis=-1)
    off = ~np.eye(n, dtype=bool)
    d = tf.sqrt(tf.where(off, d2, tf.ones_like(d2)))
    return tf.reduce_sum(tf.where(off, 1 / d, tf.zeros_like(d)), axis=[-2, -1])
