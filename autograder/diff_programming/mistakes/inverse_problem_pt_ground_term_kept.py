"""The course's trick for the zero denominator done halfway: 1 / (E_0 - E_k + delta_k0) keeps a k = 0 term
(denominator 1) that should have been taken out again."""
LOSES = ("inverse_problem",)


def density_pt(v, dx):
    @tf.custom_gradient
    def density(v):
        energies, states = tf.linalg.eigh(hamiltonian(v, dx))
        psi0 = states[:, 0]

        def backward(upstream):
            overlaps = tf.linalg.matvec(states, upstream * psi0, transpose_a=True)  # every k, 0 included
            gaps = energies[0] - energies + tf.one_hot(0, tf.shape(energies)[0], dtype=tf.float64)
            return 2 / dx * psi0 * tf.linalg.matvec(states, overlaps / gaps)

        return psi0**2 / dx, backward

    return density(tf.convert_to_tensor(v, tf.float64))
