"""Returns the gradient of the potential, +grad V, instead of the force -grad V."""
LOSES = ("force",)


def force(q, beta):
    q = tf.convert_to_tensor(q)
    with tf.GradientTape() as tape:
        tape.watch(q)
        v = potential(q, beta)
    return tape.gradient(v, q)
