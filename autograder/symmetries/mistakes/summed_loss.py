"""Sums the squared errors of a minibatch where their mean is asked for. Adam does not care
(its steps do not depend on the scale of the loss), so the fit is as good; the losses it
returns are batch_size times too large."""
LOSES = ("fit",)


def fit_energy(model, x, e, steps, batch_size=16, learning_rate=3e-3):
    x, e = tf.cast(x, model.dtype), tf.cast(e, model.dtype)
    model(x[:1])
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(indices):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((model(tf.gather(x, indices)) - tf.gather(e, indices)) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
        return loss

    rng = np.random.default_rng()
    size, batch_size = len(e), min(batch_size, len(e))
    order, losses = np.array([], dtype=np.int64), []
    for _ in range(steps):
        if len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(size)])
        indices, order = order[:batch_size], order[batch_size:]
        losses.append(step(tf.constant(indices)))
    return np.array([float(loss) for loss in losses])
