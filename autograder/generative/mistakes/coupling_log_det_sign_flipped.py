"""The log-determinant with the wrong sign: ln|det dy/dx| written as -sum s (and +sum s for the inverse)."""
LOSES = ("coupling",)


def coupling_forward(x, mask, conditioner):
    s, t = conditioner(mask * x)
    y = mask * x + (1 - mask) * (x * tf.exp(s) + t)
    return y, -tf.reduce_sum((1 - mask) * s, axis=[-2, -1])


def coupling_inverse(y, mask, conditioner):
    s, t = conditioner(mask * y)
    x = mask * y + (1 - mask) * (y - t) * tf.exp(-s)
    return x, tf.reduce_sum((1 - mask) * s, axis=[-2, -1])
