"""No physics at all: zero potential, zero force, an integrator that never moves."""
LOSES = ("potential", "force", "verlet")
DEGENERATE = True


def potential(q, beta):
    q = tf.convert_to_tensor(q)
    return tf.zeros(tf.shape(q)[:-1], dtype=q.dtype)


def force(q, beta):
    return tf.zeros_like(tf.convert_to_tensor(q))


def verlet(q, p, dt, steps, beta):
    q = tf.convert_to_tensor(q)
    return q, tf.convert_to_tensor(p, dtype=q.dtype)
