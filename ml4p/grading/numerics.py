"""One place for tolerances and numerical checks used by the hidden checks.

Messages say what is wrong and how large the error should be, never the
expected values of hidden inputs (they reach students' feedback).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float  # relative error allowed
    atol: float  # absolute error allowed (for values near 0)


#: Default tolerances by dtype, for comparing a student's result to a float64 oracle.
TOLERANCES = {
    np.dtype(np.float16): Tolerance(rtol=2e-3, atol=1e-3),
    np.dtype(np.float32): Tolerance(rtol=2e-5, atol=1e-5),
    np.dtype(np.float64): Tolerance(rtol=1e-9, atol=1e-11),
}


class CheckFailed(AssertionError):
    """A check found a wrong answer; ``str()`` is the message a student sees."""


def fail(message: str) -> None:
    raise CheckFailed(message)


def as_array(value):
    """A returned number as a 0-d array (its dtype kept); anything else as it is, for the checks to judge."""
    if isinstance(value, (np.generic, int, float, complex)) and not isinstance(value, bool):
        return np.asarray(value)
    return value


def returned(result, count: int, *, what: str) -> tuple:
    """`result` as a tuple of `count` items (numbers as arrays), or a failure saying what came back.

    ``what``: who returned it and what the items are, e.g. "ground_state (the energy and the density)".
    """
    if not isinstance(result, tuple) or len(result) != count:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else "one value"
        fail(f"{what} should return a tuple of {count} items; it returned {got}")
    return tuple(as_array(item) for item in result)


def tolerance_for(dtype) -> Tolerance:
    return TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])


def relative_error(actual, expected) -> float:
    """max |a - e| / max(|e|, tiny): the cs231n-style error, as one number."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.size == 0:
        return 0.0
    scale = np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(actual - expected) / scale))


def assert_shape(actual: np.ndarray, shape: tuple, *, what: str) -> None:
    if not isinstance(actual, np.ndarray):
        fail(f"{what} should be an array (NumPy or TensorFlow), not a {type(actual).__name__}")
    if actual.shape != tuple(shape):
        fail(f"{what} has shape {actual.shape}; it should have shape {tuple(shape)}")


def assert_dtype(actual: np.ndarray, dtype, *, what: str) -> None:
    if actual.dtype != np.dtype(dtype):
        fail(f"{what} has dtype {actual.dtype}; it should keep the input's dtype {np.dtype(dtype)}")


def assert_finite(actual: np.ndarray, shape: tuple, *, what: str) -> None:
    """An array of the given shape holding finite numbers."""
    assert_shape(actual, shape, what=what)
    if not np.issubdtype(actual.dtype, np.number):
        fail(f"{what} should hold numbers, not {actual.dtype}")
    if not np.all(np.isfinite(actual)):
        fail(f"{what} contains NaN or inf")


def assert_close(actual, expected, *, what: str, dtype=None, rtol: float | None = None,
                 atol: float | None = None) -> None:
    """Shape, finiteness, then closeness within the dtype's default tolerance.

    ``dtype`` selects the tolerance (default: the dtype of ``actual``).
    """
    expected = np.asarray(expected)
    assert_finite(actual, expected.shape, what=what)
    tol = tolerance_for(dtype if dtype is not None else actual.dtype)
    rtol = tol.rtol if rtol is None else rtol
    atol = tol.atol if atol is None else atol
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    excess = np.abs(a - e) - (atol + rtol * np.abs(e))
    if np.any(excess > 0):
        err = relative_error(a, e)
        fail(f"{what} is wrong: max relative error {err:.1e} (should be below {rtol:.0e})")


def random_orthogonal(dim: int, rng: np.random.Generator, *, reflection: bool = False) -> np.ndarray:
    """A Haar-random orthogonal matrix with det +1 (rotation) or -1 (reflection)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) < 0) != reflection:
        q[:, 0] = -q[:, 0]
    return q


def centred_difference(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, v: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """(f(x + h v) - f(x - h v)) / 2h: the derivative of f along v, error O(h^2)."""
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


def directional_gradient_error(f: Callable[[np.ndarray], np.ndarray], grad: np.ndarray,
                               x: np.ndarray, rng: np.random.Generator, *, directions: int = 4,
                               h: float = 1e-5) -> float:
    """Largest relative error of <grad, v> against centred differences along random unit v.

    ``f``: (..., n, dim) -> (...) in float64; ``grad``: (..., n, dim), the claimed gradient of
    ``f`` at ``x``. With h = 1e-5 in float64 a right gradient gives errors around 1e-9.
    """
    worst = 0.0
    for _ in range(directions):
        v = rng.standard_normal(x.shape)
        v /= np.linalg.norm(v.reshape(*x.shape[:-2], -1), axis=-1)[..., None, None]
        numeric = centred_difference(f, x, v, h)
        analytic = np.sum(grad * v, axis=(-2, -1))
        scale = np.maximum(np.abs(numeric), 1.0)
        worst = max(worst, float(np.max(np.abs(analytic - numeric) / scale)))
    return worst
