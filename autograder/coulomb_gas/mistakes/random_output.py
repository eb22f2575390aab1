"""Random numbers of the right shape and dtype for every part: they pass any check of shapes
and dtypes, and nothing else."""
LOSES = ("energy", "forces", "gradient_descent", "metropolis")
DEGENERATE = True


def energy(x):
    x = tf.convert_to_tensor(x)
    return tf.random.normal(tf.shape(x)[:-2], dtype=x.dtype)


def forces(x):
    x = tf.convert_to_tensor(x)
    return tf.random.normal(tf.shape(x), dtype=x.dtype)


def gradient_descent(x, steps, eta):
    x = tf.convert_to_tensor(x)
    return tf.random.normal(tf.shape(x), dtype=x.dtype)


def metropolis(log_prob, x, steps, width, seed):
    x = tf.convert_to_tensor(x)
    samples = tf.random.stateless_normal((steps, *x.shape), seed=[seed, 0], dtype=x.dtype)
    return samples, tf.random.stateless_uniform((), seed=[seed, 1], dtype=x.dtype)
