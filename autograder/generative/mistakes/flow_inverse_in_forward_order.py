"""The inverse couplings applied in the forward order (f_1^-1 first), which undoes nothing."""
LOSES = ("flow",)


def flow_inverse(x, layers):
    z, log_det = x, tf.zeros(tf.shape(x)[:1], x.dtype)
    for mask, conditioner in layers:
        z, step = coupling_inverse(z, mask, conditioner)
        log_det += step
    return z, log_det
