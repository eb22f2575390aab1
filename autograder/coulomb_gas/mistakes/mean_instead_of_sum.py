"""Takes the mean of |x_i|^2 over the particles where the trap energy is their sum."""
LOSES = ("energy",)


def energy(x):
    x = tf.convert_to_tensor(x)
    n = x.shape[-2]
    eye = tf.eye(n, dtype=x.dtype)
    diff = x[..., :, None, :] - x[..., None, :, :]
    r = tf.sqrt(tf.reduce_sum(diff**2, axis=-1) + eye)
    pairs = 0.5 * tf.reduce_sum((1 - eye) / r, axis=(-2, -1))
    return pairs + tf.reduce_mean(tf.reduce_sum(x**2, axis=-1), axis=-1)
