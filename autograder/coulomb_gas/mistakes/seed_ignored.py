"""Draws from TensorFlow's global random state: the same seed gives different chains."""
LOSES = ("metropolis",)


def metropolis(log_prob, x, steps, width, seed):
    x = tf.convert_to_tensor(x)
    logp = log_prob(x)
    samples = []
    accepted = tf.zeros((), x.dtype)
    for _ in range(steps):
        y = x + width * tf.random.normal(tf.shape(x), dtype=x.dtype)
        logq = log_prob(y)
        accept = tf.math.log(tf.random.uniform(tf.shape(logp), dtype=x.dtype)) < logq - logp
        x = tf.where(accept[..., None, None], y, x)
        logp = tf.where(accept, logq, logp)
        accepted += tf.reduce_mean(tf.cast(accept, x.dtype))
        samples.append(x)
    return tf.stack(samples), accepted / steps
