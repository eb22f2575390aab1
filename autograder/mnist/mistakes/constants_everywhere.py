"""No machine learning anywhere after part 1: constants, a copied history, random images.

`build_model` gives a model with the right layers that multiplies its input by 0 first
(109,386 parameters, logits of shape (N, 10), the same for every image);
`cross_entropy` returns ln 10, the visible test's value for zero logits, whatever the
logits; `train` returns a made-up history that passes the visible test's asserts (the
loss falls, the accuracy rises) and never touches the model; `dream` returns random
images in [0, 1].
"""
LOSES = ("build_model", "cross_entropy", "train", "dream")
DEGENERATE = True


def build_model():
    return keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Lambda(lambda x: 0.0 * x),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ])


def cross_entropy(logits, labels):
    logits = tf.convert_to_tensor(logits)
    return tf.constant(np.log(10.0), dtype=logits.dtype)


def train(model, x, y, epochs, batch_size, learning_rate, seed):
    loss = np.linspace(1.5, 0.05, epochs)
    accuracy = np.linspace(0.6, 0.99, epochs)
    return np.stack([loss, accuracy], axis=1)


def dream(model, steps, learning_rate):
    return np.random.default_rng(0).uniform(size=(10, 28, 28)).astype(np.float32)
