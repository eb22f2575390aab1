"""Oracle for the symmetries assignment: plain NumPy, float64, loops over particles and pairs.

Instructor-only: the independent reference the hidden checks compare the students'
Keras code against, written to be obviously right, not fast. Importing it does no
computation.

The E(n)-equivariant graph network layer (Satorras, Hoogeboom & Welling 2021,
arXiv:2102.09844) on n particles with positions x_i (dim components) and features
h_i (F components), three small MLPs phi_e, phi_x, phi_h (each Dense-silu then
Dense, weights given as (kernel, bias, kernel, bias)):

    m_ij  = phi_e([h_i, h_j, |x_i - x_j|^2])            (silu after both Dense layers), j != i
    x_i' = x_i + 1/(n - 1) sum_{j != i} (x_i - x_j) phi_x(m_ij)   (no activation at the end)
    h_i' = h_i + phi_h([h_i, sum_{j != i} m_ij])         (no activation at the end)

Only invariants (features, squared distances) enter the MLPs and the positions move
along relative vectors, so translations, rotations, reflections and permutations of
the particles commute with the layer.

The energy model: h_i = (1, ..., 1) for every particle, `depth` layers, then
E = sum_i psi(h_i) with a readout MLP psi (Dense-silu, Dense to one number).

The fit: n charges in the 2D trap of the Coulomb-gas assignment, H = U + sum_i |x_i|^2 with
U = sum_{i<j} 1/|x_i - x_j|, sampled by Metropolis at inverse temperature beta. A
translation-invariant model can only learn U (the trap is not translation invariant, and is
known: it is added by hand). The plain model it is compared with is an MLP on the flattened
coordinates (Dense-silu, Dense-silu, Dense to one number).

The antisymmetric part: n spinless fermions in the harmonic trap V = x^2 / 2 (one
dimension, hbar = m = omega = 1) occupy the n lowest Hermite functions
psi_a(x) = (2^a a! sqrt(pi))^{-1/2} H_a(x) exp(-x^2/2), a = 0..n-1; the Slater
determinant is det[psi_a(x_i)]. The oracle does not take a determinant: H_a has
leading coefficient 2^a, so column operations reduce the matrix to a Vandermonde one,

    det[psi_a(x_i)] = prod_a (2^a / (a! sqrt(pi)))^{1/2} prod_{i<j} (x_j - x_i) prod_i exp(-x_i^2/2).

Public API
----------
silu(a), mlp(weights, a, last="linear")     the MLPs, one input vector at a time
egnn_layer(weights, x, h)                   one layer: (x', h'), x (B, n, dim), h (B, n, F)
energy(weights, x, features)                the energy model's E, shape (B,)
forces(weights, x, features)                -grad E by centred differences, shape of x
pair_energy(x)                              U = sum_{i<j} 1/|x_i - x_j|, x (..., n, dim) -> (...)
coulomb_samples(n, dim, beta, count, seed)  configurations (count, n, dim) of the trapped gas, by Metropolis
flat_mlp_energy(weights, x)                 the plain MLP's energies, weights (k0, b0, k1, b1, k2, b2)
slater_determinant(x)                       x (B, n) -> (B,), by the Vandermonde formula
hermite_functions(x, count)                 psi_0..psi_{count-1} at each x, by recursion
layer_weights(rng, features, width)         random weights for a layer, {name: (k0, b0, k1, b1)}
readout_weights(rng, features, width)       random weights for the readout psi
"""
from __future__ import annotations

import math

import numpy as np

#: The three MLPs of a layer, in the order the checks exchange their weights.
LAYER_MLPS = ("phi_e", "phi_x", "phi_h")


def silu(a):
    """x sigmoid(x), written so that large |x| neither overflows nor loses digits."""
    a = np.asarray(a, dtype=np.float64)
    return a * 0.5 * (1 + np.tanh(a / 2))


def mlp(weights, a, last="linear"):
    """Dense(kernel0, bias0) -> silu -> Dense(kernel1, bias1) [-> silu if last == "silu"] on one vector."""
    k0, b0, k1, b1 = (np.asarray(w, dtype=np.float64) for w in weights)
    out = silu(np.asarray(a, dtype=np.float64) @ k0 + b0) @ k1 + b1
    return silu(out) if last == "silu" else out


def egnn_layer(weights, x, h):
    """One EGNN layer, pair by pair. weights: {name: (k0, b0, k1, b1)} for LAYER_MLPS."""
    x = np.asarray(x, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    batch, n, _ = x.shape
    x_new, h_new = x.copy(), h.copy()
    for b in range(batch):
        for i in range(n):
            messages = 0.0
            for j in range(n):
                if j == i:
                    continue
                r = x[b, i] - x[b, j]
                m = mlp(weights["phi_e"], np.concatenate([h[b, i], h[b, j], [r @ r]]), last="silu")
                x_new[b, i] += r * mlp(weights["phi_x"], m)[0] / (n - 1)
                messages = messages + m
            h_new[b, i] += mlp(weights["phi_h"], np.concatenate([h[b, i], messages]))
    return x_new, h_new


def energy(weights, x, features):
    """E = sum_i psi(h_i) after the layers. weights: {"blocks": [layer weights, ...], "readout": (k0, b0, k1, b1)}."""
    x = np.asarray(x, dtype=np.float64)
    h = np.ones((*x.shape[:-1], features))
    for block in weights["blocks"]:
        x, h = egnn_layer(block, x, h)
    return np.array([sum(mlp(weights["readout"], h[b, i])[0] for i in range(h.shape[1]))
                     for b in range(h.shape[0])])


def forces(weights, x, features, step=1e-5):
    """-dE/dx_{i,k} by centred differences, one coordinate at a time (error ~ step^2)."""
    x = np.asarray(x, dtype=np.float64)
    f = np.zeros_like(x)
    for i in range(x.shape[1]):
        for k in range(x.shape[2]):
            dx = np.zeros_like(x)
            dx[:, i, k] = step
            f[:, i, k] = -(energy(weights, x + dx, features) - energy(weights, x - dx, features)) / (2 * step)
    return f


def pair_energy(x):
    """U = sum_{i<j} 1/|x_i - x_j|, pair by pair. x: (..., n, dim) -> (...) float64."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-2]
    u = np.zeros(x.shape[:-2])
    for i in range(n):
        for j in range(i + 1, n):
            u = u + 1.0 / np.linalg.norm(x[..., i, :] - x[..., j, :], axis=-1)
    return u


def coulomb_samples(n, dim, beta, count, seed, steps=300, width=0.3):
    """`count` independent configurations (count, n, dim) of the trapped Coulomb gas at `beta`:
    the last states of `count` Metropolis chains run `steps` sweeps from a Gaussian start,
    every particle of a chain moved at once (the sampler of the Coulomb-gas assignment)."""
    rng = np.random.default_rng(seed)

    def energy(y):
        return pair_energy(y) + np.sum(y**2, axis=(-2, -1))

    x = rng.normal(scale=0.7, size=(count, n, dim))
    e = energy(x)
    for _ in range(steps):
        proposal = x + width * rng.normal(size=x.shape)
        e_new = energy(proposal)
        accept = np.log(rng.uniform(size=count)) < -beta * (e_new - e)
        x[accept], e[accept] = proposal[accept], e_new[accept]
    return x


def flat_mlp_energy(weights, x):
    """The plain MLP on the flattened coordinates: Dense-silu, Dense-silu, Dense(1). x: (B, n, dim) -> (B,)."""
    k0, b0, k1, b1, k2, b2 = (np.asarray(w, dtype=np.float64) for w in weights)
    a = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return (silu(silu(a @ k0 + b0) @ k1 + b1) @ k2 + b2)[:, 0]


def hermite_functions(x, count):
    """psi_0..psi_{count-1} at x, shape (*x.shape, count), by the stable three-term recursion
    psi_{a+1} = sqrt(2/(a+1)) x psi_a - sqrt(a/(a+1)) psi_{a-1}."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros((*x.shape, count))
    out[..., 0] = np.pi ** -0.25 * np.exp(-x**2 / 2)
    if count > 1:
        out[..., 1] = np.sqrt(2) * x * out[..., 0]
    for a in range(1, count - 1):
        out[..., a + 1] = np.sqrt(2 / (a + 1)) * x * out[..., a] - np.sqrt(a / (a + 1)) * out[..., a - 1]
    return out


def slater_determinant(x):
    """det[psi_a(x_i)] of the n lowest trap orbitals, by the Vandermonde formula. x: (B, n) -> (B,)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    constant = math.prod(math.sqrt(2**a / (math.factorial(a) * math.sqrt(math.pi))) for a in range(n))
    out = np.full(x.shape[:-1], constant)
    for i in range(n):
        out = out * np.exp(-x[..., i] ** 2 / 2)
        for j in range(i + 1, n):
            out = out * (x[..., j] - x[..., i])
    return out


def _dense_pair(rng, fan_in, width, out):
    """(k0, b0, k1, b1) of Dense(fan_in -> width) and Dense(width -> out): kernels of variance
    1/fan_in (the units stay of order one, the silu is far from linear), biases of order 0.3."""
    return (rng.normal(size=(fan_in, width)) / math.sqrt(fan_in), rng.normal(scale=0.3, size=width),
            rng.normal(size=(width, out)) / math.sqrt(width), rng.normal(scale=0.3, size=out))


def layer_weights(rng, features, width):
    """Random weights for one layer: phi_e on [h_i, h_j, d^2], phi_x on m_ij, phi_h on [h_i, m_i]."""
    return {"phi_e": _dense_pair(rng, 2 * features + 1, width, width),
            "phi_x": _dense_pair(rng, width, width, 1),
            "phi_h": _dense_pair(rng, features + width, width, features)}


def readout_weights(rng, features, width):
    """Random weights for the readout psi: features -> width -> 1."""
    return _dense_pair(rng, features, width, 1)
