"""Keeps the message of each particle to itself, m_ii = phi_e(h_i, h_i, 0), in the sum over j
(the mask left out): still equivariant, but every feature update is off by m_ii."""
LOSES = ("egnn_layer",)


class SelfMessages(EGNNLayer):
    def call(self, x, h):
        n = tf.shape(x)[1]
        r = x[:, :, None, :] - x[:, None, :, :]
        d2 = tf.reduce_sum(r**2, axis=-1, keepdims=True)
        zeros = tf.zeros_like(d2)
        m = self.phi_e(tf.concat([h[:, :, None, :] + zeros, h[:, None, :, :] + zeros, d2], axis=-1))
        x_new = x + tf.reduce_sum(r * self.phi_x(m), axis=2) / tf.cast(n - 1, x.dtype)
        return x_new, h + self.phi_h(tf.concat([h, tf.reduce_sum(m, axis=2)], axis=-1))


def egnn_layer(features, width, dtype="float32"):
    return SelfMessages(features, width, dtype)
