"""Oracle for the oscillator-chain assignment: plain NumPy, float64, loops over springs.

Instructor-only: the independent reference the hidden checks compare the students'
TensorFlow code against, written to be obviously right, not fast. Importing it does
no computation.

The system: n unit masses on a line, neighbours joined by springs of unit stiffness
with a quartic correction of strength beta (the Fermi-Pasta-Ulam-Tsingou beta chain,
free ends), positions q measured from the rest positions:

    V(q) = sum_{i=0}^{n-2} [ d_i^2 / 2 + beta d_i^4 / 4 ],   d_i = q_{i+1} - q_i,
    H(q, p) = sum_i p_i^2 / 2 + V(q),                         q, p: (..., n).

Public API
----------
potential(q, beta)               V, shape (...)
force(q, beta)                   -grad V, written out spring by spring, shape of q
verlet(q, p, dt, steps, beta)    `steps` velocity-Verlet steps -> (q, p)
hamiltonian(q, p, beta)          H, shape (...)
normal_mode(n, k)                the harmonic chain's normal mode k, shape (n,), unit norm
mode_frequency(n, k)             its angular frequency omega_k = 2 sin(pi k / 2n)

The normal modes: at beta = 0, V = q.L.q / 2 with L the free chain's Laplacian
(diagonal 1, 2, ..., 2, 1; -1 beside it). Its eigenvectors are cos(pi k (i + 1/2) / n),
k = 0, ..., n - 1, with eigenvalues omega_k^2 = 4 sin^2(pi k / 2n): each cosine
satisfies the bulk rows by the sum formula cos(a - b) + cos(a + b) = 2 cos a cos b, and
the end rows because the half-integer phase makes it symmetric about i = -1/2 and
i = n - 1/2. k = 0 moves the chain as a whole (omega = 0).
"""
from __future__ import annotations

import numpy as np


def potential(q, beta):
    """V(q): the springs' energy, summed one spring at a time. q: (..., n) -> (...)."""
    q = np.asarray(q, dtype=np.float64)
    total = np.zeros(q.shape[:-1])
    for i in range(q.shape[-1] - 1):
        d = q[..., i + 1] - q[..., i]
        total += d**2 / 2 + beta * d**4 / 4
    return total


def force(q, beta):
    """-dV/dq: spring i pulls mass i forward and mass i+1 back by d_i + beta d_i^3."""
    q = np.asarray(q, dtype=np.float64)
    f = np.zeros(q.shape)
    for i in range(q.shape[-1] - 1):
        d = q[..., i + 1] - q[..., i]
        tension = d + beta * d**3
        f[..., i] += tension
        f[..., i + 1] -= tension
    return f


def verlet(q, p, dt, steps, beta):
    """`steps` velocity-Verlet steps of unit masses: half kick, drift, half kick."""
    q = np.array(q, dtype=np.float64)
    p = np.array(p, dtype=np.float64)
    for _ in range(steps):
        p = p + dt / 2 * force(q, beta)
        q = q + dt * p
        p = p + dt / 2 * force(q, beta)
    return q, p


def hamiltonian(q, p, beta):
    """H = kinetic + potential energy, shape (...)."""
    p = np.asarray(p, dtype=np.float64)
    return np.sum(p**2, axis=-1) / 2 + potential(q, beta)


def normal_mode(n, k):
    """cos(pi k (i + 1/2) / n), i = 0..n-1, normalised: L q = omega_k^2 q at beta = 0."""
    mode = np.array([np.cos(np.pi * k * (i + 0.5) / n) for i in range(n)])
    return mode / np.linalg.norm(mode)


def mode_frequency(n, k):
    """omega_k = 2 sin(pi k / 2n), the angular frequency of normal mode k."""
    return 2 * np.sin(np.pi * k / (2 * n))
