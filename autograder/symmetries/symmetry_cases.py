"""Inputs and their images under the symmetries, shared by the checks of the layer and the model.

Each case is one configuration x (B, n, dim) and its images: translated, rotated,
reflected (random orthogonal matrices of det +1 and -1) and with the particles
permuted; the checks send them into the kernel in one call and compare what comes back.
"""
from __future__ import annotations

import numpy as np

from ml4p.grading.numerics import random_orthogonal

#: The order of the images in a case's stack.
IMAGES = ("original", "translated", "rotated", "reflected", "permuted")
#: (rtol, atol) of a symmetry (the same answer computed twice along different roundings), by dtype.
SYMMETRY_TOLERANCE = {np.dtype(np.float64): (1e-9, 1e-10), np.dtype(np.float32): (2e-4, 1e-4)}


def images(rng: np.random.Generator, x: np.ndarray) -> dict[str, object]:
    """x's images and the transformations that make them: shift (dim,), rotation, reflection, permutation."""
    dim, n = x.shape[-1], x.shape[-2]
    shift = rng.normal(scale=3.0, size=dim)
    rotation = random_orthogonal(dim, rng)
    reflection = random_orthogonal(dim, rng, reflection=True)
    perm = rng.permutation(n)
    while np.all(perm == np.arange(n)):
        perm = rng.permutation(n)
    stack = np.stack([x, x + shift, x @ rotation, x @ reflection, x[:, perm]])
    return {"xs": stack, "shift": shift, "rotation": rotation, "reflection": reflection, "perm": perm}
