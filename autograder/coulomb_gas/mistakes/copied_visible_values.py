"""The visible tests' expected values copied, nothing computed; Metropolis teleports.

From the notebook's visible tests and text, with no computation behind them:
the energy is always 3/2 (two charges at +-1/2); every force is the trap's pull on the centre
of mass, -2 mean(x) (zero for that pair, and the total is -2 sum x, as the visible tests ask);
gradient descent returns charges on a ring of radius 1/2 (for two charges, the relaxed pair
of the visible test); Metropolis draws every sample afresh from the Gaussian of variance 1/2
the visible test expects ("teleporting", ignoring the proposal) and reports an acceptance
of 1/2 ("about half of the proposals are accepted")."""
LOSES = ("energy", "forces", "gradient_descent", "metropolis")
DEGENERATE = True


def energy(x):
    x = tf.convert_to_tensor(x)
    return tf.fill(tf.shape(x)[:-2], tf.constant(1.5, x.dtype))


def forces(x):
    x = tf.convert_to_tensor(x)
    return -2 * tf.reduce_mean(x, axis=-2, keepdims=True) + tf.zeros_like(x)


def gradient_descent(x, steps, eta):
    x = tf.convert_to_tensor(x)
    n, dim = x.shape[-2], x.shape[-1]
    angle = 2 * np.pi * np.arange(n) / n
    ring = np.zeros((n, dim))
    ring[:, 0], ring[:, 1] = 0.5 * np.cos(angle), 0.5 * np.sin(angle)
    return tf.constant(ring, x.dtype) + tf.zeros_like(x)


def metropolis(log_prob, x, steps, width, seed):
    x = tf.convert_to_tensor(x)
    samples = np.sqrt(0.5) * tf.random.stateless_normal((steps, *x.shape), seed=[seed, 0], dtype=x.dtype)
    return samples, tf.constant(0.5, x.dtype)
