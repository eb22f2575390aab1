"""Applies the gradient to the model's weights (copied from `train`), not to the images.

The images stay grey and the model is changed. Also loses `train`: the
notebook's own dream cell changes its trained `model` before grading, and the
changed model fails the accuracy check.
"""
LOSES = ("dream", "train")


def dream(model, steps, learning_rate):
    targets = tf.eye(10)
    z = tf.Variable(tf.zeros((10, 784)))
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = cross_entropy(model(tf.sigmoid(z)), targets)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    for _ in range(steps):
        step()
    return tf.reshape(tf.sigmoid(z), (10, 28, 28)).numpy()
