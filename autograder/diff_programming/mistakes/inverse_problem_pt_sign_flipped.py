"""Perturbation theory with the energy denominator upside down, 1 / (E_k - E_0): the gradient points uphill."""
LOSES = ("inverse_problem",)


def density_pt(v, dx):
    @tf.custom_gradient
    def density(v):
        energies, states = tf.linalg.eigh(hamiltonian(v, dx))
        psi0, excited = states[:, 0], states[:, 1:]

        def backward(upstream):
            overlaps = tf.linalg.matvec(excited, upstream * psi0, transpose_a=True)
            return 2 / dx * psi0 * tf.linalg.matvec(excited, overlaps / (energies[1:] - energies[0]))

        return psi0**2 / dx, backward

    return density(tf.convert_to_tensor(v, tf.float64))
