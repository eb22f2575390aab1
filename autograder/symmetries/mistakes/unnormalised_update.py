"""Sums the coordinate steps over the other particles without the 1/(n - 1): the step grows
with the number of particles, and a deep stack of such layers throws them apart."""
LOSES = ("egnn_layer",)


class UnnormalisedStep(EGNNLayer):
    def call(self, x, h):
        n = tf.shape(x)[1]
        r = x[:, :, None, :] - x[:, None, :, :]
        d2 = tf.reduce_sum(r**2, axis=-1, keepdims=True)
        zeros = tf.zeros_like(d2)
        m = self.phi_e(tf.concat([h[:, :, None, :] + zeros, h[:, None, :, :] + zeros, d2], axis=-1))
        m = m * (1 - tf.eye(n, dtype=x.dtype))[:, :, None]
        x_new = x + tf.reduce_sum(r * self.phi_x(m), axis=2)
        return x_new, h + self.phi_h(tf.concat([h, tf.reduce_sum(m, axis=2)], axis=-1))


def egnn_layer(features, width, dtype="float32"):
    return UnnormalisedStep(features, width, dtype)
