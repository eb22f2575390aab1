"""Takes a single step whatever `steps` says."""
LOSES = ("gradient_descent",)


def gradient_descent(x, steps, eta):
    x = tf.convert_to_tensor(x)
    return x + eta * forces(x)
