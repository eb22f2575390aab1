"""Hidden checks for part 1, `preprocess(images, labels)`.

x: the pixels divided by 255, each image flattened row by row, (N, 784) float32;
y: the labels one-hot, (N, 10) float32. Compared with the NumPy oracle on a batch
of random images made here. The shape and dtype checks count only together with the
values' (zeros of the right shapes earn nothing).
"""
import numpy as np
import pytest

from ml4p.grading.numerics import assert_close, assert_finite, assert_shape, fail
from solutions import mnist as oracle

N = 50


def random_batch(rng, n):
    """n random uint8 images (the first all black, the second all white) and balanced labels."""
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0], images[1 % n] = 0, 255
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    return images, labels


@pytest.fixture(scope="module")
def batch():
    return random_batch(np.random.default_rng(20260201), N)


@pytest.fixture(scope="module")
def result(student, batch):
    """One call shared by the checks of x and y."""
    out = student.call("preprocess", *batch)
    if not isinstance(out, tuple) or len(out) != 2:
        fail("preprocess should return a pair (x, y)")
    return out


@pytest.mark.points(0.25, given="test_x_values")
def test_x_shape_and_dtype(result):
    """x has shape (N, 784) and dtype float32"""
    x, _ = result
    assert_shape(x, (N, 784), what="x")
    if x.dtype != np.float32:
        fail(f"x has dtype {x.dtype}; it should be float32 (what the model computes in)")


@pytest.mark.points(0.75)
def test_x_values(result, batch):
    """x holds the pixel values divided by 255 (0 stays 0, 255 becomes 1), image by image, row by row"""
    x, _ = result
    expected, _ = oracle.preprocess(*batch)
    assert_finite(x, expected.shape, what="x")
    if x.max() > 1 or x.min() < 0:
        fail(f"x should lie in [0, 1], but it ranges from {x.min():.3g} to {x.max():.3g}: divide the "
             "pixel values (0..255) by 255")
    assert_close(x, expected, what="x", dtype=np.float32)


@pytest.mark.points(0.25, given="test_y_one_hot")
def test_y_shape_and_dtype(result):
    """y has shape (N, 10) and dtype float32"""
    _, y = result
    assert_shape(y, (N, 10), what="y")
    if y.dtype != np.float32:
        fail(f"y has dtype {y.dtype}; it should be float32 (what the loss computes in)")


@pytest.mark.points(0.5)
def test_y_one_hot(result, batch):
    """y is one-hot: in each row a single 1, at the position of the label, and 0 elsewhere"""
    _, y = result
    _, expected = oracle.preprocess(*batch)
    assert_finite(y, expected.shape, what="y")
    if not np.array_equal(y, expected):
        fail("y is not the one-hot encoding of the labels: row i should be 1 at column labels[i] "
             "and 0 elsewhere")


@pytest.mark.points(0.125)
@pytest.mark.parametrize("n", [1, 1000], ids=lambda n: f"{n} image" + "s" * (n > 1))
def test_any_number_of_images(student, rng, n):
    """preprocess works for any number of images"""
    images, labels = random_batch(rng, n)
    out = student.call("preprocess", images, labels)
    if not isinstance(out, tuple) or len(out) != 2:
        fail("preprocess should return a pair (x, y)")
    x_expected, y_expected = oracle.preprocess(images, labels)
    assert_close(out[0], x_expected, what=f"x for {n} image(s)", dtype=np.float32)
    assert_close(out[1], y_expected, what=f"y for {n} image(s)", dtype=np.float32)
