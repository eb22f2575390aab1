"""<H> as the plain mean of w H, the weights not divided by their sum (nor Z cancelled)."""
LOSES = ("importance",)


def importance_estimates(x, log_q, beta):
    e = coulomb_energy(x)
    log_w = -beta * e - log_q
    n = tf.cast(tf.shape(log_w)[0], log_w.dtype)
    f = -(tf.reduce_logsumexp(log_w) - tf.math.log(n)) / beta
    w = tf.nn.softmax(log_w)
    return f, tf.reduce_mean(tf.exp(log_w) * e), 1.0 / tf.reduce_sum(w**2) / n
