"""The conditioner fed the whole configuration, c(x) instead of c(m x): the inverse can no longer
recompute s and t from y, so it does not undo the forward map."""
LOSES = ("coupling",)


def coupling_forward(x, mask, conditioner):
    s, t = conditioner(x)
    y = mask * x + (1 - mask) * (x * tf.exp(s) + t)
    return y, tf.reduce_sum((1 - mask) * s, axis=[-2, -1])


def coupling_inverse(y, mask, conditioner):
    s, t = conditioner(y)
    x = mask * y + (1 - mask) * (y - t) * tf.exp(-s)
    return x, -tf.reduce_sum((1 - mask) * s, axis=[-2, -1])
