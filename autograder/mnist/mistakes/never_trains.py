"""Computes the gradients but never applies them: the model stays as initialised.

A model never trained: its history is honest (a loss that does not fall), but the
history's checks count only with a model that learned, so `train` scores nothing.
"""
LOSES = ("train",)
DEGENERATE = True


def train(model, x, y, epochs, batch_size, learning_rate, seed):
    strategy = ml4p.device.strategy()
    dataset = (tf.data.Dataset.from_tensor_slices((x, y))
               .shuffle(len(x), seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE))
    batches = strategy.experimental_distribute_dataset(dataset)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = cross_entropy(logits, yb)
        tape.gradient(loss, model.trainable_variables)  # ... and then nothing
        n = tf.cast(tf.shape(xb)[0], tf.float32)
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == tf.argmax(yb, -1), tf.float32))
        return tf.stack([tf.cast(loss, tf.float32) * n, correct, n])

    @tf.function(reduce_retracing=True)
    def step(xb, yb):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(xb, yb)), axis=None)

    history = np.zeros((epochs, 2))
    for epoch in range(epochs):
        totals = tf.zeros(3)
        for xb, yb in batches:
            totals += step(xb, yb)
        loss_sum, correct, count = totals.numpy()
        history[epoch] = loss_sum / count, correct / count
    return history
