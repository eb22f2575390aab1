"""Shuffles the images and the labels with two different permutations at every step."""
LOSES = ("overfit",)


def overfit_small_batch(model_fn, x, y, steps=200, learning_rate=1e-2):
    model = model_fn()
    optimizer = keras.optimizers.Adam(learning_rate)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        xb = tf.constant(x[rng.permutation(len(x))], tf.float32)
        yb = tf.constant(y[rng.permutation(len(y))], tf.int64)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(yb, model(xb), from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        losses.append(float(loss))
    accuracy = float(np.mean(np.argmax(model(x), axis=-1) == y))
    return np.array(losses), accuracy
