"""Returns +grad H: the forces point uphill."""
LOSES = ("forces",)


def forces(x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        e = energy(x)
    return tape.gradient(e, x)
