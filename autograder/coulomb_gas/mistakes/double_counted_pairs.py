"""Sums 1/r over all ordered pairs i != j, so every pair is counted twice."""
LOSES = ("energy",)


def energy(x):
    x = tf.convert_to_tensor(x)
    n = x.shape[-2]
    eye = tf.eye(n, dtype=x.dtype)
    diff = x[..., :, None, :] - x[..., None, :, :]
    r = tf.sqrt(tf.reduce_sum(diff**2, axis=-1) + eye)
    return tf.reduce_sum((1 - eye) / r, axis=(-2, -1)) + tf.reduce_sum(x**2, axis=(-2, -1))
