"""Oracle for the generative-models assignment: a normalising flow for the Coulomb gas.

Instructor-only, plain NumPy in float64, written to be obviously right. It is never sent
into a student's kernel. Importing it does no computation.

The system is the Coulomb gas of the first assignment, n unit charges in a harmonic trap,

    H(x) = sum_{i<j} 1/|x_i - x_j| + sum_i |x_i|^2,      x: (..., n, dim),

and the model a RealNVP flow (Dinh, Sohl-Dickstein & Bengio, arXiv:1605.08803): affine
couplings on configurations of shape (n, dim) over a standard normal base. A coupling
with a 0/1 ``mask`` of shape (n, dim) and a conditioner (s, t) = c(mask * x) maps

    y = mask * x + (1 - mask) * (x * exp(s) + t),      ln|det dy/dx| = sum (1 - mask) * s,

and its inverse x = mask * y + (1 - mask) * (y - t) * exp(-s), with (s, t) = c(mask * y)
(the conditioner sees only the coordinates the coupling leaves alone, which is why the
inverse can recompute s and t). A flow is a list of (mask, conditioner weights); the
conditioner is the notebook's: the flattened masked configuration through
Dense(width, tanh), Dense(width, tanh), Dense(2 n dim), split into s and t.

Public API
----------
energy(x)                                  H, shape (...)
conditioner(weights, u)                    (s, t), each of the shape of u
coupling_forward(x, mask, weights)         (y, ln|det dy/dx|)
coupling_inverse(y, mask, weights)         (x, ln|det dx/dy|)
flow_forward(z, layers) / flow_inverse(x, layers)
log_prob(x, layers)                        ln q(x)
sample(z, layers)                          (x = f(z), ln q(x))
free_energy(z, layers, beta)               (mean of ln q / beta + H, its standard error)
importance(x, log_q, beta)                 (F, <H>, effective sample size / N) by importance weights
random_layers(rng, n, dim, depth, width, scale)   conditioner weights for checks
exact_free_energy(n, dim, beta), exact_mean_energy(n, dim, beta)   by quadrature, n = 1, 2
REFERENCE_FREE_ENERGIES, REFERENCE_MEAN_ENERGIES   {(n, dim, beta): value}

How the exact values are obtained
---------------------------------
F = -ln Z / beta with Z = integral of exp(-beta H) over R^(n dim) (no 1/n!, as in the
course: the flow's density is normalised over all labelled configurations).

* n = 1: H = |x|^2, a Gaussian: Z = (pi / beta)^(dim/2), <H> = dim / (2 beta).
* n = 2: with the centre of mass R = (x_1 + x_2)/2 and the separation r = x_1 - x_2
  (unit Jacobian), |x_1|^2 + |x_2|^2 = 2 |R|^2 + |r|^2 / 2, so
  Z = (pi / (2 beta))^(dim/2) * S_dim * int_0^inf r^(dim-1) exp(-beta (1/r + r^2/2)) dr,
  S_dim the area of the unit sphere (2, 2 pi, 4 pi for dim 1, 2, 3). The one radial
  integral is done by SciPy's adaptive quadrature (`scipy.integrate.quad`, relative
  error 1e-13); <H> = dim / (2 beta) + <1/r + r^2/2> with the same radial weight.

`python solutions/generative.py` recomputes every stored value and prints it beside the
stored one (a fraction of a second).
"""
from __future__ import annotations

import math

import numpy as np

# ------------------------------------------------------------------ the physics


def energy(x):
    """H of configurations x (..., n, dim), pair by pair."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-2]
    h = np.sum(x**2, axis=(-2, -1))
    for i in range(n):
        for j in range(i + 1, n):
            h = h + 1.0 / np.linalg.norm(x[..., i, :] - x[..., j, :], axis=-1)
    return h


# ------------------------------------------------------------------ the flow


def masks(n, dim, depth):
    """The notebook's masks: coordinate k of the flattened configuration is kept by layer l
    when k + l is odd, so consecutive layers change complementary halves."""
    flat = np.arange(n * dim)
    return [((flat + layer) % 2).reshape(n, dim).astype(np.float64) for layer in range(depth)]


def conditioner(weights, u):
    """(s, t) of the masked configurations u (B, n, dim); weights (k0, b0, k1, b1, k2, b2)
    of Dense(width, tanh), Dense(width, tanh), Dense(2 n dim), Keras's layout (x @ k + b)."""
    u = np.asarray(u, dtype=np.float64)
    k0, b0, k1, b1, k2, b2 = (np.asarray(w, dtype=np.float64) for w in weights)
    flat = u.reshape(u.shape[0], -1)
    out = np.tanh(np.tanh(flat @ k0 + b0) @ k1 + b1) @ k2 + b2
    half = flat.shape[1]
    return out[:, :half].reshape(u.shape), out[:, half:].reshape(u.shape)


def coupling_forward(x, mask, weights):
    x = np.asarray(x, dtype=np.float64)
    s, t = conditioner(weights, mask * x)
    y = mask * x + (1 - mask) * (x * np.exp(s) + t)
    return y, np.sum((1 - mask) * s, axis=(-2, -1))


def coupling_inverse(y, mask, weights):
    y = np.asarray(y, dtype=np.float64)
    s, t = conditioner(weights, mask * y)
    x = mask * y + (1 - mask) * (y - t) * np.exp(-s)
    return x, -np.sum((1 - mask) * s, axis=(-2, -1))


def flow_forward(z, layers):
    """x = f_K(...f_1(z)) and ln|det dx/dz|, for layers [(mask, weights), ...] in order."""
    x, log_det = np.asarray(z, dtype=np.float64), 0.0
    for mask, weights in layers:
        x, step = coupling_forward(x, mask, weights)
        log_det = log_det + step
    return x, log_det + np.zeros(x.shape[0])


def flow_inverse(x, layers):
    """z = f^-1(x) and ln|det dz/dx|: the layers inverted in reverse order."""
    z, log_det = np.asarray(x, dtype=np.float64), 0.0
    for mask, weights in reversed(layers):
        z, step = coupling_inverse(z, mask, weights)
        log_det = log_det + step
    return z, log_det + np.zeros(z.shape[0])


def log_normal(z):
    """ln of the standard normal density of z (B, n, dim), over all n dim coordinates."""
    z = np.asarray(z, dtype=np.float64)
    d = z.shape[-2] * z.shape[-1]
    return -0.5 * np.sum(z**2, axis=(-2, -1)) - 0.5 * d * math.log(2 * math.pi)


def log_prob(x, layers):
    """ln q(x) = ln N(f^-1(x)) + ln|det d f^-1 / dx|."""
    z, log_det = flow_inverse(x, layers)
    return log_normal(z) + log_det


def sample(z, layers):
    """(x, ln q(x)) for base samples z: ln q(x) = ln N(z) - ln|det dx/dz|."""
    x, log_det = flow_forward(z, layers)
    return x, log_normal(z) - log_det


def free_energy(z, layers, beta):
    """The reparametrised estimate of F[q] = E_q[ln q / beta + H] on base samples z, and its
    standard error (standard deviation / sqrt(B))."""
    x, log_q = sample(z, layers)
    f = log_q / beta + energy(x)
    return float(np.mean(f)), float(np.std(f) / math.sqrt(len(f)))


def importance(x, log_q, beta):
    """From samples x of q with their ln q: weights w = exp(-beta H) / q give
    F = -ln(mean w) / beta (Z is estimated without bias), the self-normalised <H> and the
    effective sample size (sum w)^2 / sum w^2 as a fraction of the N samples."""
    e = energy(x)
    log_w = -beta * e - np.asarray(log_q, dtype=np.float64)
    top = np.max(log_w)
    w = np.exp(log_w - top)  # the common factor exp(top) cancels in <H> and the ESS
    f = -(top + math.log(np.mean(w))) / beta
    return f, float(np.sum(w * e) / np.sum(w)), float(np.sum(w) ** 2 / np.sum(w**2) / len(w))


def random_layers(rng, n, dim, depth, width, scale=0.3):
    """[(mask, weights)] with conditioner weights ~ N(0, scale^2) (biases too): a flow far
    from the identity, still smooth enough to invert to 1e-12."""
    d = n * dim
    shapes = [(d, width), (width,), (width, width), (width,), (width, 2 * d), (2 * d,)]
    return [(mask, tuple(scale * rng.normal(size=shape) for shape in shapes)) for mask in masks(n, dim, depth)]


# ------------------------------------------------------------------ exact values

SPHERE_AREA = {1: 2.0, 2: 2.0 * math.pi, 3: 4.0 * math.pi}


def _radial(dim, beta, moment):
    """int_0^inf r^(dim-1) g(r)^moment exp(-beta g(r)) dr, g = 1/r + r^2/2, scaled by
    exp(beta g_min) (g's minimum, 3/2 at r = 1) so that large beta does not underflow."""
    from scipy import integrate

    def integrand(r):
        g = 1.0 / r + r * r / 2
        return r ** (dim - 1) * g**moment * math.exp(-beta * (g - 1.5))

    value, _ = integrate.quad(integrand, 0.0, 1.0, epsabs=0.0, epsrel=1e-13, limit=200)
    tail, _ = integrate.quad(integrand, 1.0, math.inf, epsabs=0.0, epsrel=1e-13, limit=200)
    return value + tail


def exact_free_energy(n, dim, beta):
    """F = -ln Z / beta by quadrature (see the module's docstring), for n = 1 and 2."""
    if n == 1:
        return -dim / (2 * beta) * math.log(math.pi / beta)
    if n == 2:
        log_z = (dim / 2) * math.log(math.pi / (2 * beta)) + math.log(SPHERE_AREA[dim] * _radial(dim, beta, 0)) \
            - 1.5 * beta
        return -log_z / beta
    raise ValueError("exact free energies are known here for n = 1 and n = 2 only")


def exact_mean_energy(n, dim, beta):
    """<H> = -d ln Z / d beta, for n = 1 and 2."""
    if n == 1:
        return dim / (2 * beta)
    if n == 2:
        return dim / (2 * beta) + _radial(dim, beta, 1) / _radial(dim, beta, 0)
    raise ValueError("exact mean energies are known here for n = 1 and n = 2 only")


#: F = -ln Z / beta, computed by `exact_free_energy` (recompute: python solutions/generative.py).
REFERENCE_FREE_ENERGIES = {
    (1, 2, 10.0): 0.11578552071446455,
    (2, 2, 10.0): 1.5767893599121332,
    (1, 1, 10.0): 0.057892760357232275,
    (2, 1, 10.0): 1.6019229267754516,
}
#: <H>, computed by `exact_mean_energy`.
REFERENCE_MEAN_ENERGIES = {
    (1, 2, 10.0): 0.1,
    (2, 2, 10.0): 1.652604470066936,
    (1, 1, 10.0): 0.05,
    (2, 1, 10.0): 1.5995098191234722,
}


def main():
    for key, stored in REFERENCE_FREE_ENERGIES.items():
        print(f"F(n={key[0]}, dim={key[1]}, beta={key[2]:g}) = {exact_free_energy(*key):.15f}  stored {stored:.15f}")
    for key, stored in REFERENCE_MEAN_ENERGIES.items():
        print(f"<H>(n={key[0]}, dim={key[1]}, beta={key[2]:g}) = {exact_mean_energy(*key):.15f}  stored {stored:.15f}")


if __name__ == "__main__":
    main()
