"""A training loop that never updates the weights: the estimates of the untrained flow."""
LOSES = ("training",)
DEGENERATE = True


def train_flow(layers, beta, steps, batch_size, learning_rate, seed=0, clip_norm=10.0):
    noise = tf.random.Generator.from_seed(seed)
    shape = (batch_size, *layers[0][0].shape)
    return [float(free_energy(noise.normal(shape, dtype=tf.float64), layers, beta)[0]) for _ in range(steps)]
