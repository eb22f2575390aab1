"""Returns |det|: the magnitude is right, the sign that makes the particles fermions is lost."""
LOSES = ("antisymmetric",)


def slater_determinant(x):
    x = tf.convert_to_tensor(x)
    n = x.shape[-1]
    orbitals = [np.pi ** -0.25 * tf.exp(-x**2 / 2)]
    if n > 1:
        orbitals.append(np.sqrt(2.0) * x * orbitals[0])
    for a in range(1, n - 1):
        orbitals.append(np.sqrt(2 / (a + 1)) * x * orbitals[a] - np.sqrt(a / (a + 1)) * orbitals[a - 1])
    return tf.abs(tf.linalg.det(tf.stack(orbitals, axis=-1)))
