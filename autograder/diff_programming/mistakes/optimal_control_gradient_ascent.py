"""Adam fed the gradient with its sign flipped: it climbs the infidelity instead of descending it."""
LOSES = ("optimal_control",)


def optimise_control(u0, dt, h0, hk, steps, learning_rate):
    u = tf.Variable(tf.convert_to_tensor(u0, tf.float64))
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = infidelity(u, dt, h0, hk)
        optimizer.apply_gradients([(-tape.gradient(loss, u), u)])
        return loss

    history = [float(step()) for _ in range(steps)]
    return u.numpy(), np.array(history)
