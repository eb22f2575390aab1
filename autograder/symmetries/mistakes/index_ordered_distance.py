"""Feeds phi_e the squared distance from particle i to the next one in the numbering, |x_i - x_{i+1}|^2,
instead of |x_i - x_j|^2: invariant under translations and rotations, not under renumbering."""
LOSES = ("egnn_layer",)


class NeighbourInNumbering(EGNNLayer):
    def call(self, x, h):
        n = tf.shape(x)[1]
        r = x[:, :, None, :] - x[:, None, :, :]
        nxt = tf.reduce_sum((x - tf.roll(x, shift=-1, axis=1)) ** 2, axis=-1)
        d2 = nxt[:, :, None, None] + tf.zeros_like(r[..., :1])
        zeros = tf.zeros_like(d2)
        m = self.phi_e(tf.concat([h[:, :, None, :] + zeros, h[:, None, :, :] + zeros, d2], axis=-1))
        m = m * (1 - tf.eye(n, dtype=x.dtype))[:, :, None]
        x_new = x + tf.reduce_sum(r * self.phi_x(m), axis=2) / tf.cast(n - 1, x.dtype)
        return x_new, h + self.phi_h(tf.concat([h, tf.reduce_sum(m, axis=2)], axis=-1))


def egnn_layer(features, width, dtype="float32"):
    return NeighbourInNumbering(features, width, dtype)
