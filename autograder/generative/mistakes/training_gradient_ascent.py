"""The gradient's sign flipped: Adam maximises the free energy."""
LOSES = ("training",)


def train_flow(layers, beta, steps, batch_size, learning_rate, seed=0, clip_norm=10.0):
    shape = (batch_size, *layers[0][0].shape)
    variables = flow_variables(layers)
    optimizer = keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm)
    noise = tf.random.Generator.from_seed(seed)

    @tf.function
    def step(z):
        with tf.GradientTape() as tape:
            f, _ = free_energy(z, layers, beta)
        optimizer.apply_gradients(zip([-g for g in tape.gradient(f, variables)], variables))
        return f

    return [float(step(noise.normal(shape, dtype=tf.float64))) for _ in range(steps)]
