"""A permanent (every term of the determinant's expansion with a plus sign) instead of the
determinant: symmetric, not antisymmetric; bosons, not fermions."""
LOSES = ("antisymmetric",)


def slater_determinant(x):
    x = tf.convert_to_tensor(x)
    n = x.shape[-1]
    orbitals = [np.pi ** -0.25 * tf.exp(-x**2 / 2)]
    if n > 1:
        orbitals.append(np.sqrt(2.0) * x * orbitals[0])
    for a in range(1, n - 1):
        orbitals.append(np.sqrt(2 / (a + 1)) * x * orbitals[a] - np.sqrt(a / (a + 1)) * orbitals[a - 1])
    matrix = tf.stack(orbitals, axis=-1)
    total = tf.zeros(tf.shape(x)[:-1], x.dtype)
    for perm in itertools.permutations(range(n)):
        term = tf.ones(tf.shape(x)[:-1], x.dtype)
        for i, a in enumerate(perm):
            term = term * matrix[..., i, a]
        total = total + term
    return total
