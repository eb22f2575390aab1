"""Moves each particle along its absolute position x_i instead of the relative vectors x_i - x_j:
still turns with rotations, but a translation changes the step."""
LOSES = ("egnn_layer",)


class AbsoluteStep(EGNNLayer):
    def call(self, x, h):
        n = tf.shape(x)[1]
        r = x[:, :, None, :] - x[:, None, :, :]
        d2 = tf.reduce_sum(r**2, axis=-1, keepdims=True)
        zeros = tf.zeros_like(d2)
        m = self.phi_e(tf.concat([h[:, :, None, :] + zeros, h[:, None, :, :] + zeros, d2], axis=-1))
        m = m * (1 - tf.eye(n, dtype=x.dtype))[:, :, None]
        absolute = x[:, :, None, :] + zeros
        x_new = x + tf.reduce_sum(absolute * self.phi_x(m), axis=2) / tf.cast(n - 1, x.dtype)
        return x_new, h + self.phi_h(tf.concat([h, tf.reduce_sum(m, axis=2)], axis=-1))


def egnn_layer(features, width, dtype="float32"):
    return AbsoluteStep(features, width, dtype)
