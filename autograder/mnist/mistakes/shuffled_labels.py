"""Shuffles the images and the labels each on its own (different seeds).

Images and labels no longer belong together, so the model learns nothing.
"""
LOSES = ("train",)


def train(model, x, y, epochs, batch_size, learning_rate, seed):
    strategy = ml4p.device.strategy()
    images = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed)
    labels = tf.data.Dataset.from_tensor_slices(y).shuffle(len(y), seed=seed + 1)
    dataset = tf.data.Dataset.zip((images, labels)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    batches = strategy.experimental_distribute_dataset(dataset)
    with strategy.scope():
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(model.trainable_variables)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = cross_entropy(logits, yb)
            scaled = loss / strategy.num_replicas_in_sync
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
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
