"""Coulomb gas Metropolis: the assignment's TensorFlow solution vs the same algorithm in JAX.

    pip install -r benchmarks/requirements.txt     # JAX, for benchmarks only
    python benchmarks/metropolis.py [--chains 8192] [--n 20] [--dim 2] [--steps 500]

Both run float64, all-particle Gaussian proposals, samples of every step kept, in
one process, after a warm-up call (compilation excluded). The JAX version is written
the way the course writes it: energy of one configuration over the full pair matrix
with a mask, `vmap` over chains, `jit`, `fori_loop` over steps. Also printed: pair
terms per second, against this machine's measured throughput of 1/sqrt in float64
(each pair term needs one), as a rough physical limit.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import ml4p  # noqa: F401 - quiet TensorFlow before it is imported

BETA = 10.0
WIDTH = 0.05


def tf_solution():
    """energy and metropolis from the assignment's source notebook (its solution cells)."""
    import nbformat
    import tensorflow as tf

    from ml4p.course import materials_root
    from ml4p.grading.submissions import SOLUTION_MARKERS

    nb = nbformat.read(materials_root() / "assignments" / "coulomb_gas" / "coulomb_gas.ipynb", as_version=4)
    source = "\n\n".join(
        "\n".join(line for line in cell.source.splitlines() if not SOLUTION_MARKERS.match(line))
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ("energy_solution", "metropolis_solution"))
    path = Path(tempfile.mkdtemp(prefix="ml4p-bench-")) / "coulomb_gas_solution.py"
    path.write_text(source)  # AutoGraph reads the source of what it converts
    scope = {"tf": tf, "np": np, "__name__": "coulomb_gas_solution"}
    exec(compile(source, str(path), "exec"), scope)
    energy = scope["energy"]

    def log_prob(y):  # one object for every call: one trace
        return -BETA * energy(y)

    def run(x, steps, seed):
        samples, rate = scope["metropolis"](log_prob, x, steps, WIDTH, seed)
        return samples.numpy(), float(rate)

    return run


def jax_course():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def energy(x):  # one configuration (n, dim)
        n = x.shape[0]
        diff = x[:, None, :] - x[None, :, :]
        r = jnp.sqrt(jnp.sum(diff**2, axis=-1) + jnp.eye(n))
        pairs = jnp.triu(jnp.ones((n, n)), k=1)
        return jnp.sum(pairs / r) + jnp.sum(x**2)

    log_prob = jax.vmap(lambda x: -BETA * energy(x))

    @jax.jit(static_argnames="steps")
    def chains(x, key, steps):
        def step(t, state):
            x, lp, accepted, samples, key = state
            key, k_move, k_accept = jax.random.split(key, 3)
            proposal = x + WIDTH * jax.random.normal(k_move, x.shape, dtype=x.dtype)
            lp_new = log_prob(proposal)
            accept = jnp.log(jax.random.uniform(k_accept, lp.shape, dtype=x.dtype)) < lp_new - lp
            x = jnp.where(accept[:, None, None], proposal, x)
            lp = jnp.where(accept, lp_new, lp)
            return x, lp, accepted + accept, samples.at[t].set(x), key

        samples = jnp.zeros((steps, *x.shape), x.dtype)
        state = (x, log_prob(x), jnp.zeros(x.shape[0]), samples, key)
        x, lp, accepted, samples, key = jax.lax.fori_loop(0, steps, step, state)
        return samples, jnp.mean(accepted) / steps

    def run(x, steps, seed):
        samples, rate = chains(jnp.asarray(x), jax.random.PRNGKey(seed), steps)
        samples.block_until_ready()
        return np.asarray(samples), float(rate)

    return run


def rsqrt_throughput(seconds: float = 1.0) -> float:
    """1/sqrt(x) per second in float64 on a cache-sized array, one core, NumPy."""
    x = np.random.default_rng(0).uniform(1, 2, 1 << 14)
    y = np.empty_like(x)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            np.sqrt(x, out=y)
            np.divide(1.0, y, out=y)
        count += 100 * x.size
    return count / (time.perf_counter() - start)


def timed(run, x, steps, repeat):
    run(x, min(steps, 5), 0)  # compile
    best = np.inf
    for r in range(repeat):
        start = time.perf_counter()
        samples, rate = run(x, steps, r + 1)
        best = min(best, time.perf_counter() - start)
    return best, rate, samples


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=8192)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    x = np.random.default_rng(0).normal(size=(args.chains, args.n, args.dim))
    pair_terms = args.chains * args.n * (args.n - 1) / 2 * (args.steps + 1)
    limit = rsqrt_throughput() * (os.cpu_count() or 1)
    rows = []
    for name, make in [("TensorFlow, the assignment's solution", tf_solution), ("JAX, as the course writes it", jax_course)]:
        seconds, rate, samples = timed(make(), x, args.steps, args.repeat)
        rows.append((name, seconds, rate, float(np.mean(samples[-1] ** 2))))
    tf_s, jax_s = rows[0][1], rows[1][1]
    lines = [f"Metropolis, {args.chains} chains × {args.n} particles × {args.dim}D × {args.steps} steps, float64, "
             f"best of {args.repeat}",
             "", "| implementation | seconds | pair terms / s | of the rsqrt limit | acceptance | <x²> at the end |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, seconds, rate, x2 in rows:
        lines.append(f"| {name} | {seconds:.2f} | {pair_terms / seconds:.3g} | {pair_terms / seconds / limit:.1%} | "
                     f"{rate:.3f} | {x2:.4f} |")
    lines += ["", f"JAX time / TensorFlow time: **{jax_s / tf_s:.2f}** (target ≥ 2). "
              f"rsqrt limit: {limit:.3g} per s ({os.cpu_count()} cores × NumPy's one-core rate)."]
    out = "\n".join(lines)
    print(out)
    return out


if __name__ == "__main__":
    main()
