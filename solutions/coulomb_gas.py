"""Oracle for the Coulomb gas assignment: plain NumPy, float64, loops over pairs.

Instructor-only. This is the *independent* reference the hidden checks compare
the students' TensorFlow code against, so it is written to be obviously right,
not fast. Importing it does no computation.

The system: n classical unit charges in a harmonic trap, in `dim` dimensions,

    H(x) = sum_{i<j} 1/|x_i - x_j| + sum_i |x_i|^2,      x: (..., n, dim).

Public API
----------
energy(x)                        H, shape (...)
forces(x)                        -grad H, written out analytically, shape of x
gradient_descent(x, steps, eta)  `steps` updates x <- x + eta * forces(x)
metropolis(log_prob, x, steps, width, seed) -> (samples, acceptance_rate)
REFERENCE_GROUND_STATES          {(n, dim): minimal energy}
REFERENCE_SHELLS                 {(n, dim): particles per shell, innermost first}
ground_state_search(n, dim, restarts, seed) -> GroundStateSearch

How the reference ground states were obtained and why they are the global minima
--------------------------------------------------------------------------------
`python solutions/coulomb_gas.py` recomputes and prints every value next to the
stored one (45 s on one core; `--quick`, 20 restarts per case, 5 s). Method
(`ground_state_search`, NumPy only): `restarts` independent starts
x ~ N(0, s^2), s = n^(1/3)/2 (about the cluster size), each relaxed by

1. gradient descent with a step size of its own, backtracking (a step that would
   raise the energy is rejected and the step size halved; an accepted step grows
   it by 10 %), so the step is always safe for the stiffest mode, until
   max|F| < 1e-5; then
2. Newton's method with the analytic Hessian (`hessian`, checked against finite
   differences of `forces`), restricted to the modes with |eigenvalue| > 1e-6,
   until max|F| < 1e-9 (2-3 steps). The restriction drops the exact rotational
   zero modes (1 in 2D, 3 in 3D) and the intershell rotation of the (1, 7, 12)
   cluster, whose eigenvalue is only 1e-8 (the energy changes by < 1e-12 along it).

Each end point is classified by its Hessian: a *local minimum* has no eigenvalue
below -1e-6 (the others are saddle points, reported separately). The reference
value is the lowest local minimum; the script also prints how many restarts
reached it (its basin frequency), its shells (sorted radii split at gaps,
`shells`), its lowest Hessian eigenvalues, and the other minima it found.
Restarts (`RESTARTS`): 200 for n <= 5, 500 for (10, 2) and (12, 3), 1000 for
(20, 2); seed 1000 n + dim.

Why each value is the global minimum:

* (2, 2): analytic. Two charges at +-a on a line: E = 1/(2a) + 2a^2, minimal at
  a = 1/2, E = 3/2 exactly. All 200 restarts reach it.
* (3, 2), (5, 2): the ground states are single rings (regular polygons). For n
  charges on a ring of radius R, E(R) = S/R + n R^2 with
  S = (n/4) sum_{k=1}^{n-1} 1/sin(pi k/n); minimising over R gives
  E = 3n (S/(2n))^(2/3) (`ring_energy`). The search agrees with the formula to
  3e-16 relative: n=3, 200/200 restarts; n=5, 156/200, the other 44 end in the
  (1, 4) configuration at 11.827807929.
* (4, 3), (12, 3): single shells, the tetrahedron and the icosahedron. With C
  the Thomson-problem energy of N unit charges on the unit sphere, E(R) =
  C/R + n R^2, so E = 3n (C/(2n))^(2/3) (`shell_energy`). C is computed from the
  vertex coordinates (`tetrahedron`, `icosahedron`): 3.674234614 and 49.165253058,
  as in the Thomson tables. The search agrees with the formula to 4e-16: n=4,
  200/200 restarts; n=12, 290/500, the other 210 end in (1, 11) at 58.251733712.
* (10, 2), (20, 2): no closed form. The value is the lowest local minimum of all
  restarts, and it is the most frequent end point: (10, 2) 284/500 restarts,
  shells (2, 8) (the other 210 minima are (3, 7) at 44.881626484; 6 restarts
  stopped on intershell-rotation saddles); (20, 2) 978/1000 restarts, shells
  (1, 7, 12) (10 end in (1, 6, 13) at 159.124556458, 12 on the saddle of its
  intershell rotation at 159.124559114). These shell structures are the ground
  states Bedanov & Peeters, Phys. Rev. B 49, 2667 (1994) report for this very
  Hamiltonian. All restarts converged to max|F| < 1e-9; the ground states have
  max|F| <= 1e-10.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import time

import numpy as np

__all__ = [
    "energy",
    "forces",
    "gradient_descent",
    "metropolis",
    "REFERENCE_GROUND_STATES",
    "REFERENCE_SHELLS",
    "RESTARTS",
    "ground_state_search",
    "GroundStateSearch",
    "hessian",
    "shells",
    "ring_energy",
    "shell_energy",
    "tetrahedron",
    "icosahedron",
]

# (n, dim) -> minimal energy. Recomputed by `python solutions/coulomb_gas.py`.
REFERENCE_GROUND_STATES: dict[tuple[int, int], float] = {
    (2, 2): 1.5,                   # analytic
    (3, 2): 3.931112091313345,     # ring, closed form
    (5, 2): 11.692226902615799,    # ring, closed form
    (10, 2): 44.849428148930265,   # lowest of 500 restarts, shells (2, 8)
    (20, 2): 158.99226538633943,   # lowest of 1000 restarts, shells (1, 7, 12)
    (4, 3): 7.143304733856899,     # tetrahedron, closed form
    (12, 3): 58.06759763914871,    # icosahedron, closed form
}

# (n, dim) -> number of particles per shell, innermost first.
REFERENCE_SHELLS: dict[tuple[int, int], tuple[int, ...]] = {
    (2, 2): (2,),
    (3, 2): (3,),
    (5, 2): (5,),
    (10, 2): (2, 8),
    (20, 2): (1, 7, 12),
    (4, 3): (4,),
    (12, 3): (12,),
}

# Restarts used for the stored values (the script's default).
RESTARTS: dict[tuple[int, int], int] = {
    (2, 2): 200,
    (3, 2): 200,
    (5, 2): 200,
    (10, 2): 500,
    (20, 2): 1000,
    (4, 3): 200,
    (12, 3): 500,
}


# --------------------------------------------------------------------------
# The graded functions' reference implementations
# --------------------------------------------------------------------------

def energy(x) -> np.ndarray:
    """H(x) = sum_{i<j} 1/|x_i - x_j| + sum_i |x_i|^2.

    x: (..., n, dim) -> (...) float64.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-2]
    e = np.sum(x**2, axis=(-2, -1))
    for i in range(n):
        for j in range(i + 1, n):
            e = e + 1.0 / np.linalg.norm(x[..., i, :] - x[..., j, :], axis=-1)
    return np.asarray(e, dtype=np.float64)


def forces(x) -> np.ndarray:
    """F = -grad H, analytically.

    On particle i the pair (i, j) pushes with (x_i - x_j)/|x_i - x_j|^3 (and the
    opposite on j); the trap pulls with -2 x_i.
    x: (..., n, dim) -> (..., n, dim) float64.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-2]
    f = -2.0 * x
    for i in range(n):
        for j in range(i + 1, n):
            d = x[..., i, :] - x[..., j, :]
            r = np.linalg.norm(d, axis=-1, keepdims=True)
            f[..., i, :] += d / r**3
            f[..., j, :] -= d / r**3
    return f


def gradient_descent(x, steps: int, eta: float) -> np.ndarray:
    """`steps` updates x <- x + eta * forces(x); batched over leading dims.

    x: (..., n, dim) -> (..., n, dim) float64.
    """
    x = np.array(x, dtype=np.float64)
    for _ in range(steps):
        x = x + eta * forces(x)
    return x


def metropolis(log_prob, x, steps: int, width: float, seed: int):
    """Metropolis chains with all-particle Gaussian proposals.

    log_prob: (..., n, dim) -> (...), the unnormalised log density.
    x: (..., n, dim) initial states; the leading dims are independent chains.
    Each step proposes x' = x + width * N(0, 1) for every coordinate of every
    particle of a chain at once and accepts it with probability
    min(1, exp(log_prob(x') - log_prob(x))).

    Returns (samples, acceptance_rate): samples (steps, ..., n, dim) is the
    state after each step; acceptance_rate (float) is the mean acceptance over
    all chains and steps.
    """
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64)
    lp = np.asarray(log_prob(x), dtype=np.float64)
    batch = x.shape[:-2]
    samples = np.empty((steps,) + x.shape)
    accepted = 0
    for t in range(steps):
        proposal = x + width * rng.normal(size=x.shape)
        lp_new = np.asarray(log_prob(proposal), dtype=np.float64)
        accept = np.log(rng.uniform(size=batch)) < lp_new - lp
        x = np.where(accept[..., None, None], proposal, x)
        lp = np.where(accept, lp_new, lp)
        accepted += int(np.sum(accept))
        samples[t] = x
    return samples, accepted / (steps * math.prod(batch))


# --------------------------------------------------------------------------
# Closed forms for single rings and single shells
# --------------------------------------------------------------------------

def ring_energy(n: int) -> float:
    """Minimal energy of n charges on one ring in 2D: 3n (S/(2n))^(2/3),
    S = (n/4) sum_k 1/sin(pi k/n) the pair energy on the unit ring."""
    s = n / 4 * sum(1 / math.sin(math.pi * k / n) for k in range(1, n))
    return 3 * n * (s / (2 * n)) ** (2 / 3)


def shell_energy(unit_sphere_points) -> float:
    """Minimal energy of charges on one sphere in 3D whose positions on the
    unit sphere are given: 3n (C/(2n))^(2/3), C their pair energy there."""
    p = np.asarray(unit_sphere_points, dtype=np.float64)
    n = p.shape[0]
    c = energy(p) - n  # remove the trap term sum |p_i|^2 = n
    return float(3 * n * (c / (2 * n)) ** (2 / 3))


def tetrahedron() -> np.ndarray:
    """The 4 vertices of a regular tetrahedron on the unit sphere."""
    p = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64)
    return p / np.sqrt(3)


def icosahedron() -> np.ndarray:
    """The 12 vertices of a regular icosahedron on the unit sphere."""
    g = (1 + np.sqrt(5)) / 2
    p = []
    for a in (1, -1):
        for b in (g, -g):
            p += [[0, a, b], [a, b, 0], [b, 0, a]]
    p = np.array(p, dtype=np.float64)
    return p / np.linalg.norm(p, axis=-1, keepdims=True)


# --------------------------------------------------------------------------
# Ground-state search
# --------------------------------------------------------------------------

def hessian(x) -> np.ndarray:
    """Analytic Hessian of H. x: (..., n, dim) -> (..., n*dim, n*dim).

    The pair term 1/r with d = x_i - x_j has d^2/dd^2 (1/r) = 3 d d^T/r^5 - I/r^3,
    which enters the (i,i) and (j,j) blocks with + and the (i,j), (j,i) blocks
    with -; the trap adds 2 I.
    """
    x = np.asarray(x, dtype=np.float64)
    n, dim = x.shape[-2:]
    h = np.zeros(x.shape[:-2] + (n, dim, n, dim))
    eye = np.eye(dim)
    for i in range(n):
        h[..., i, :, i, :] += 2 * eye
        for j in range(i + 1, n):
            d = x[..., i, :] - x[..., j, :]
            r = np.linalg.norm(d, axis=-1)[..., None, None]
            k = 3 * d[..., :, None] * d[..., None, :] / r**5 - eye / r**3
            h[..., i, :, i, :] += k
            h[..., j, :, j, :] += k
            h[..., i, :, j, :] -= k
            h[..., j, :, i, :] -= k
    return h.reshape(x.shape[:-2] + (n * dim, n * dim))


def _descend(x, tol, max_steps):
    """Gradient descent with a backtracking step per start, until max|F| < tol.

    x: (batch, n, dim). A step that would raise the energy is rejected and the
    start's step size halved; an accepted step grows it by 10 %.
    """
    x = x.copy()
    eta = np.full(x.shape[0], 1e-3)
    e, f = energy(x), forces(x)
    for _ in range(max_steps):
        active = np.max(np.abs(f), axis=(-2, -1)) > tol
        if not active.any():
            break
        trial = x + eta[:, None, None] * f
        e_trial = energy(trial)
        ok = active & (e_trial < e)
        x[ok], e[ok] = trial[ok], e_trial[ok]
        f[ok] = forces(x[ok])
        eta = np.where(ok, eta * 1.1, np.where(active, eta * 0.5, eta))
    return x


def _newton(x, tol, max_steps=20, zero=1e-6):
    """Newton's method on the modes with |eigenvalue| > `zero`, until max|F| < tol."""
    x = x.copy()
    for _ in range(max_steps):
        f = forces(x)
        todo = np.max(np.abs(f), axis=(-2, -1)) >= tol
        if not todo.any():
            break
        lam, v = np.linalg.eigh(hessian(x[todo]))
        g = np.einsum("bkm,bk->bm", v, f[todo].reshape(lam.shape))  # F in eigenbasis
        step = np.where(np.abs(lam) > zero, g / np.where(np.abs(lam) > zero, lam, 1), 0)
        x[todo] += np.einsum("bkm,bm->bk", v, step).reshape(x[todo].shape)
    return x


def shells(x, gap: float = 0.25) -> tuple[int, ...]:
    """Particles per shell of one configuration x: (n, dim), innermost first:
    sorted radii are split wherever consecutive radii differ by more than
    `gap` times the largest radius."""
    r = np.sort(np.linalg.norm(np.asarray(x), axis=-1))
    cuts = np.flatnonzero(np.diff(r) > gap * r[-1]) + 1
    return tuple(int(len(s)) for s in np.split(r, cuts))


@dataclasses.dataclass
class GroundStateSearch:
    """Result of `ground_state_search`."""

    n: int
    dim: int
    restarts: int
    energy: float              # lowest energy found
    x: np.ndarray              # (n, dim) its configuration
    hits: int                  # restarts that reached it (|dE| < 1e-8 |E|)
    max_force: float           # max|F| at the ground state
    eigenvalues: np.ndarray    # Hessian eigenvalues there, ascending
    is_minimum: bool           # no Hessian eigenvalue below -1e-6
    shells: tuple[int, ...]    # particles per shell, innermost first
    unconverged: int           # restarts not reaching max|F| < 1e-9
    local_minima: list[tuple[float, int, tuple[int, ...]]]  # (energy, count, shells), ascending
    saddles: list[tuple[float, int, tuple[int, ...]]]       # the same for converged non-minima


def ground_state_search(n: int, dim: int, restarts: int, seed: int) -> GroundStateSearch:
    """Lowest local minimum of H over `restarts` random starts (see module doc)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=n ** (1 / 3) / 2, size=(restarts, n, dim))
    x = _descend(x, tol=1e-5, max_steps=20_000)
    x = _newton(x, tol=1e-9)
    e = energy(x)
    max_f = np.max(np.abs(forces(x)), axis=(-2, -1))
    converged = max_f < 1e-9
    lam = np.linalg.eigvalsh(hessian(x))
    minimum = converged & (lam[:, 0] > -1e-6)  # no direction of negative curvature
    best = int(np.argmin(np.where(minimum, e, np.inf)))
    e0 = e[best]
    hits = int(np.sum(minimum & (np.abs(e - e0) < 1e-8 * abs(e0))))
    return GroundStateSearch(
        n=n, dim=dim, restarts=restarts, energy=float(e0), x=x[best], hits=hits,
        max_force=float(max_f[best]), eigenvalues=lam[best], is_minimum=bool(minimum[best]),
        shells=shells(x[best]), unconverged=int(np.sum(~converged)),
        local_minima=_distinct(e[minimum], x[minimum]),
        saddles=_distinct(e[converged & ~minimum], x[converged & ~minimum]),
    )


def _distinct(energies, xs, rel=1e-8) -> list[tuple[float, int, tuple[int, ...]]]:
    """(energy, count, shells) of the distinct energies among the configurations xs."""
    distinct: list[tuple[float, int, tuple[int, ...]]] = []
    for i in np.argsort(energies):
        e = float(energies[i])
        if distinct and abs(e - distinct[-1][0]) < rel * abs(e):
            distinct[-1] = (distinct[-1][0], distinct[-1][1] + 1, distinct[-1][2])
        else:
            distinct.append((e, 1, shells(xs[i])))
    return distinct


def _closed_form(n: int, dim: int) -> float | None:
    if n == 2:
        return 1.5
    if dim == 2 and n in (3, 5):
        return ring_energy(n)
    if dim == 3 and n == 4:
        return shell_energy(tetrahedron())
    if dim == 3 and n == 12:
        return shell_energy(icosahedron())
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Recompute REFERENCE_GROUND_STATES.")
    parser.add_argument("--quick", action="store_true", help="20 restarts per case")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    args = parser.parse_args(argv)
    print("Thomson energies on the unit sphere from the vertex coordinates:")
    for name, p, table in (("N=4 ", tetrahedron(), 3.674234614), ("N=12", icosahedron(), 49.165253058)):
        print(f"  {name}: {energy(p) - len(p):.12f}   (Thomson tables: {table})")
    print()
    ok = True
    for (n, dim), stored in REFERENCE_GROUND_STATES.items():
        restarts = 20 if args.quick else RESTARTS[(n, dim)]
        t0 = time.perf_counter()
        s = ground_state_search(n, dim, restarts, seed=args.seed + 1000 * n + dim)
        dt = time.perf_counter() - t0
        rel = abs(s.energy - stored) / stored
        good = rel < 1e-9 and s.is_minimum and s.shells == REFERENCE_SHELLS[(n, dim)]
        closed = _closed_form(n, dim)
        ok &= good
        print(f"(n={n:2d}, dim={dim}) recomputed {s.energy:.15f}  stored {stored:.15f}  "
              f"rel.diff {rel:.1e}  {'OK' if good else 'MISMATCH'}")
        if closed is not None:
            print(f"    closed form {closed:.15f}  rel.diff {abs(s.energy - closed) / closed:.1e}")
        n_rot = 1 if dim == 2 else 3  # rotational zero modes
        print(f"    reached by {s.hits}/{restarts} restarts, shells {s.shells}, max|F| {s.max_force:.1e}, "
              f"unconverged restarts {s.unconverged}, {dt:.1f} s")
        print(f"    local minimum: {s.is_minimum}; Hessian eigenvalues: {n_rot} rotational "
              f"(max |.| {np.max(np.abs(s.eigenvalues[:n_rot])):.0e}), then "
              + ", ".join(f"{v:.3g}" for v in s.eigenvalues[n_rot:n_rot + 3]))
        if len(s.local_minima) > 1:
            others = ", ".join(f"{e:.9f} {sh} x{c}" for e, c, sh in s.local_minima[1:6])
            print(f"    other local minima found: {others}")
        if s.saddles:
            saddles = ", ".join(f"{e:.9f} {sh} x{c}" for e, c, sh in s.saddles[:5])
            print(f"    restarts that ended on saddle points: {saddles}")
    print("\nall reference values reproduced" if ok else "\nSOME VALUES DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
