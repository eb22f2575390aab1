"""No physics at all: zeros, the input echoed, a chain that never moves.

Zero energy, zero forces, gradient descent that returns its input, and
a Metropolis "chain" that never moves (its start plus 1e-9 noise at every step), reporting the
acceptance rate of one batch of proposals from the start."""
LOSES = ("energy", "forces", "gradient_descent", "metropolis")
DEGENERATE = True


def energy(x):
    x = tf.convert_to_tensor(x)
    return tf.zeros(tf.shape(x)[:-2], dtype=x.dtype)


def forces(x):
    return tf.zeros_like(tf.convert_to_tensor(x))


def gradient_descent(x, steps, eta):
    return tf.convert_to_tensor(x)


def metropolis(log_prob, x, steps, width, seed):
    x = tf.convert_to_tensor(x)
    jitter = tf.random.stateless_normal((steps, *x.shape), seed=[seed, 1], dtype=x.dtype)
    proposal = x + width * tf.random.stateless_normal(tf.shape(x), seed=[seed, 2], dtype=x.dtype)
    rate = tf.reduce_mean(tf.minimum(tf.ones((), x.dtype), tf.exp(log_prob(proposal) - log_prob(x))))
    return x[None] + 1e-9 * jitter, rate
