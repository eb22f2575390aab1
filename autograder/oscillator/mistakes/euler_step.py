"""Explicit Euler instead of velocity Verlet: both updates use the old state, the energy grows."""
LOSES = ("verlet",)


def verlet(q, p, dt, steps, beta):
    q = tf.convert_to_tensor(q)
    p = tf.convert_to_tensor(p, dtype=q.dtype)
    for _ in range(steps):
        q, p = q + dt * p, p + dt * force(q, beta)
    return q, p
