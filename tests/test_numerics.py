"""ml4p.grading.numerics: the tolerances and numerical checks the hidden checks share."""
import numpy as np
import pytest

from ml4p.grading.numerics import (
    CheckFailed,
    as_array,
    assert_close,
    assert_dtype,
    directional_gradient_error,
    random_orthogonal,
    relative_error,
    returned,
)


def test_assert_close_accepts_float32_rounding():
    """Does a float32 result that differs from a float64 oracle by rounding pass?"""
    expected = np.linspace(1, 2, 10)
    assert_close(expected.astype(np.float32), expected, what="x")


def test_assert_close_rejects_a_wrong_value_without_showing_it():
    """Is a 1 % error caught, and does the message hide the expected numbers?"""
    expected = np.array([1.2345678, 2.0])
    with pytest.raises(CheckFailed) as err:
        assert_close(expected * 1.01, expected, what="energy")
    assert "relative error 1.0e-02" in str(err.value)
    assert "1.2345" not in str(err.value)


@pytest.mark.parametrize("actual, words", [
    (np.zeros(3), "shape (3,)"),
    (np.array([np.nan, 1.0]), "NaN"),
    (np.array(["a", "b"]), "numbers"),
    ([1.0, 2.0], "should be an array"),
])
def test_assert_close_names_the_problem(actual, words):
    """Are wrong shapes, NaN, strings and non-arrays each reported in words?"""
    with pytest.raises(CheckFailed, match=words.replace("(", r"\(").replace(")", r"\)")):
        assert_close(actual, np.ones(2), what="x")


def test_assert_dtype():
    """Is a float32 result for float64 input caught?"""
    with pytest.raises(CheckFailed, match="float64"):
        assert_dtype(np.zeros(2, np.float32), np.float64, what="x")


@pytest.mark.parametrize("reflection", [False, True])
def test_random_orthogonal(reflection):
    """Are the matrices orthogonal with the asked-for determinant?"""
    q = random_orthogonal(3, np.random.default_rng(0), reflection=reflection)
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)
    assert np.sign(np.linalg.det(q)) == (-1 if reflection else 1)


def test_gradient_check_tells_right_from_wrong():
    """Does the centred-difference check pass the true gradient and flag a flipped one?"""
    rng = np.random.default_rng(1)
    f = lambda x: np.sum(np.sin(x) * x, axis=(-2, -1))  # noqa: E731
    x = rng.normal(size=(3, 4, 2))
    grad = np.sin(x) + x * np.cos(x)
    assert directional_gradient_error(f, grad, x, rng) < 1e-8
    assert directional_gradient_error(f, -grad, x, rng) > 0.1


def test_relative_error_is_scale_free():
    """Is the error of 1e6 vs 1.000001e6 the same as that of 1 vs 1.000001?"""
    assert relative_error([1e6 * 1.000001], [1e6]) == pytest.approx(relative_error([1.000001], [1.0]))


def test_returned_checks_the_count_and_makes_numbers_arrays():
    """A tuple of the right length comes back with numbers as 0-d arrays; anything else fails, saying what came."""
    energy, density = returned((np.float64(1.5), np.ones(3)), 2, what="ground_state")
    assert isinstance(energy, np.ndarray) and energy.shape == () and energy.dtype == np.float64
    assert density.shape == (3,)
    assert as_array(2.0).shape == () and as_array("text") == "text" and as_array(True) is True
    for wrong, said in [(np.ones(3), "one value"), ((1.0, 2.0, 3.0), "a tuple of 3")]:
        with pytest.raises(CheckFailed, match=f"ground_state should return a tuple of 2 items; it returned {said}"):
            returned(wrong, 2, what="ground_state")
