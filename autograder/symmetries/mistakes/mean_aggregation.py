"""Averages the messages over the other particles instead of summing them: the features then
cannot tell how many neighbours a particle has (equivariant still, but not the layer asked for)."""
LOSES = ("egnn_layer",)


class MeanMessages(EGNNLayer):
    def call(self, x, h):
        n = tf.shape(x)[1]
        r = x[:, :, None, :] - x[:, None, :, :]
        d2 = tf.reduce_sum(r**2, axis=-1, keepdims=True)
        zeros = tf.zeros_like(d2)
        m = self.phi_e(tf.concat([h[:, :, None, :] + zeros, h[:, None, :, :] + zeros, d2], axis=-1))
        m = m * (1 - tf.eye(n, dtype=x.dtype))[:, :, None]
        x_new = x + tf.reduce_sum(r * self.phi_x(m), axis=2) / tf.cast(n - 1, x.dtype)
        mean = tf.reduce_sum(m, axis=2) / tf.cast(n - 1, x.dtype)
        return x_new, h + self.phi_h(tf.concat([h, mean], axis=-1))


def egnn_layer(features, width, dtype="float32"):
    return MeanMessages(features, width, dtype)
