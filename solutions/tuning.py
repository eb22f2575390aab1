"""Oracle for the machine-learning-practices assignment (testing, tuning, logging).

Instructor-only, plain NumPy float64, written to be obviously right. The hidden
checks compare the students' TensorFlow code against these functions and, where
TensorFlow has its own implementation, against that too (`tf.clip_by_global_norm`,
Keras's initialisers and `CosineDecay`, `tf.test.compute_gradient`);
`tests/test_tuning.py` checks that this oracle and TensorFlow agree.

Public API
----------
smooth(x), smooth_gradient(x)          a test function R^n -> R and its exact gradient
numerical_gradient(f, x, eps)          centred differences, one coordinate at a time
relative_error(a, b)                   ||a - b|| / (||a|| + ||b||), 0 when both are 0
glorot_limit(fan_in, fan_out)          bound of Glorot's uniform initialiser
glorot_variance(fan_in, fan_out)       its variance, 2 / (fan_in + fan_out)
he_std(fan_in)                         He's normal initialiser's standard deviation
activation_stds(weight_std, activation, depth, width, batch, rng)
                                       std of each layer's outputs in a deep, bias-free MLP
clip_by_global_norm(grads, max_norm)   (clipped list, global norm before clipping)
warmup_cosine(step, total_steps, warmup_steps, peak, final)
                                       linear warm-up, then a cosine decay to `final`
METADATA_FIELDS                        what a run's metadata file must record

Where the numbers come from
---------------------------
* Glorot & Bengio, AISTATS 2010, eq. (16): W ~ U[-sqrt(6/(n_in + n_out)), +...],
  variance 2 / (n_in + n_out), keeping the activations' and the gradients'
  variances O(1) for symmetric activations (tanh).
* He, Zhang, Ren & Sun, ICCV 2015, eq. (10): W ~ N(0, 2 / n_in) for ReLU,
  which halves the variance it passes on; with Glorot's variance (1 / n for a
  square layer) a ReLU network's activations shrink by 1/sqrt(2) per layer.
* Pascanu, Mikolov & Bengio, ICML 2013: clipping by the global norm rescales
  all gradients together, keeping the update's direction.
* Loshchilov & Hutter, ICLR 2017 (SGDR): the cosine schedule; Goyal et al.,
  arXiv:1706.02677: the linear warm-up. Google's Deep Learning Tuning Playbook
  (github.com/google-research/tuning_playbook) recommends both.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "smooth",
    "smooth_gradient",
    "numerical_gradient",
    "relative_error",
    "glorot_limit",
    "glorot_variance",
    "he_std",
    "activation_stds",
    "clip_by_global_norm",
    "warmup_cosine",
    "METADATA_FIELDS",
    "VERSION_FIELDS",
]

#: Keys of the metadata JSON file, and of its "versions" entry.
METADATA_FIELDS = ("seed", "hyperparameters", "versions", "git_commit", "command", "time")
VERSION_FIELDS = ("python", "numpy", "tensorflow", "keras")


def smooth(x) -> float:
    """sum_i sin(x_i) x_i^2 + (sum_i x_i)^2 / 2: smooth, not separable, third derivatives O(1)."""
    x = np.asarray(x, np.float64)
    return float(np.sum(np.sin(x) * x**2) + 0.5 * np.sum(x) ** 2)


def smooth_gradient(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.cos(x) * x**2 + 2 * x * np.sin(x) + np.sum(x)


def numerical_gradient(f, x, eps: float = 1e-5) -> np.ndarray:
    """(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every coordinate i."""
    x = np.array(x, np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def glorot_limit(fan_in: int, fan_out: int) -> float:
    return math.sqrt(6 / (fan_in + fan_out))


def glorot_variance(fan_in: int, fan_out: int) -> float:
    return glorot_limit(fan_in, fan_out) ** 2 / 3  # the variance of U[-a, a] is a^2 / 3


def he_std(fan_in: int) -> float:
    return math.sqrt(2 / fan_in)


def activation_stds(weight_std: float, activation: str, depth: int, width: int, batch: int,
                    rng: np.random.Generator) -> np.ndarray:
    """x ~ N(0, 1) of shape (batch, width) through `depth` layers h <- act(h W), W ~ N(0, weight_std^2).

    Returns the standard deviation over all entries of each layer's output, shape (depth,).
    Only the weights' variance matters for these statistics, not their distribution.
    """
    act = {"relu": lambda a: np.maximum(a, 0), "tanh": np.tanh, "linear": lambda a: a}[activation]
    h = rng.normal(size=(batch, width))
    stds = []
    for _ in range(depth):
        h = act(h @ rng.normal(scale=weight_std, size=(width, width)))
        stds.append(h.std())
    return np.array(stds)


def clip_by_global_norm(grads, max_norm: float) -> tuple[list[np.ndarray], float]:
    grads = [np.asarray(g, np.float64) for g in grads]
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    scale = max_norm / max(norm, max_norm)
    return [g * scale for g in grads], norm


def warmup_cosine(step, total_steps: int, warmup_steps: int, peak: float, final: float = 0.0):
    """peak * step / warmup_steps while warming up, then from peak to final along half a cosine
    over the remaining steps; final from total_steps on. Elementwise for an array of steps."""
    steps = np.asarray(step, np.float64)
    out = np.empty(steps.shape)
    for index in np.ndindex(steps.shape):
        s = min(steps[index], total_steps)
        if s < warmup_steps:
            out[index] = peak * s / warmup_steps
        else:
            progress = (s - warmup_steps) / (total_steps - warmup_steps)
            out[index] = final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress))
    return out
