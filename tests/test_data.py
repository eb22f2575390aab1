"""ml4p.data: MNIST accepted by content only, and the synthetic stand-in.

The checks against the real data set run only where MNIST is on this machine
($ML4P_MNIST or Keras's cache); everything else builds its own files.
"""
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ml4p
from ml4p import data
from ml4p.data import DataUnavailable, Digits, load_digits, load_mnist, mnist_file, synthetic_digits

#: md5 of LeCun's uncompressed idx files, as published with the data set.
IDX_MD5 = {
    "x_train": (2051, "6bbc9ace898e44ae57da46a324031adb"),  # train-images-idx3-ubyte
    "y_train": (2049, "a25bea736e30d166cdddb491f175f624"),  # train-labels-idx1-ubyte
    "x_test": (2051, "2646ac647ad5339dbf082846283269ea"),  # t10k-images-idx3-ubyte
    "y_test": (2049, "27ae3e4e09519cfbb04c329615203637"),  # t10k-labels-idx1-ubyte
}


def fake_mnist(**changes) -> dict[str, np.ndarray]:
    """Arrays with MNIST's shapes and dtype but not its content (zeros), with `changes`."""
    arrays = {key: np.zeros(shape, np.uint8) for key, (shape, _) in data.MNIST_ARRAYS.items()}
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No MNIST anywhere: empty HOME and KERAS_HOME, no ML4P_* settings, Keras's
    download failing at once. Yields the list of download attempts."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(data.MNIST_ENV, raising=False)
    monkeypatch.delenv(data.DIGITS_ENV, raising=False)
    keras = pytest.importorskip("keras")
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    yield attempts


@pytest.fixture(scope="module")
def real_mnist() -> Path:
    """The real MNIST file on this machine, or skip."""
    found = mnist_file()
    if found is None:
        pytest.skip(f"MNIST is not on this machine (set {data.MNIST_ENV}=/path/to/mnist.npz to run)")
    return found


# ----------------------------------------------------------------- the package


def test_importing_ml4p_data_leaves_tensorflow_and_matplotlib_unloaded():
    """Is `import ml4p.data` light: no TensorFlow, Keras or matplotlib until needed?"""
    code = ("import sys, ml4p.data; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(ml4p.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_digits_unpack_like_keras():
    """Does `(x_train, y_train), (x_test, y_test) = digits` give the four arrays in order?"""
    arrays = [np.full(3, k) for k in range(4)]
    digits = Digits(*arrays, name=data.MNIST_NAME, source="here")
    (a, b), (c, d) = digits
    assert [a, b, c, d] == arrays
    assert digits.is_mnist
    assert not Digits(*arrays, name=data.SYNTHETIC_NAME, source="here").is_mnist


# ------------------------------------------------------ verification by content


def test_verify_mnist_names_each_array_that_differs():
    """Are right-shaped arrays with the wrong content refused, naming every such array?"""
    with pytest.raises(ValueError) as err:
        data.verify_mnist(fake_mnist(), source="fake")
    message = str(err.value)
    assert message.startswith("fake is not MNIST:")
    for key in data.MNIST_ARRAYS:
        assert f"{key} differs (sha256" in message


@pytest.mark.parametrize("changes, words", [
    ({"x_test": np.zeros((10000, 28, 27), np.uint8)}, "x_test is uint8[10000, 28, 27]"),
    ({"y_train": np.zeros(60000, np.int64)}, "y_train is int64[60000]"),
    ({"y_test": None}, "y_test is missing"),
])
def test_verify_mnist_names_a_wrong_shape_dtype_or_missing_array(changes, words):
    """Is a wrong shape, a wrong dtype or a missing key named in the message?"""
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        data.verify_mnist(fake_mnist(**changes))


def test_look_alike_file_is_refused_naming_the_file_and_array(tmp_path):
    """Is an npz with MNIST's shapes but other pixels refused, saying which file and array?"""
    path = tmp_path / "mnist.npz"
    np.savez(path, **fake_mnist())
    with pytest.raises(DataUnavailable) as err:
        load_mnist(path)
    assert f"{path} is not MNIST: x_train differs (sha256" in str(err.value)
    assert data.MNIST_ENV in str(err.value)


@pytest.mark.parametrize("content", ["truncated", "text", "npy"])
def test_unreadable_file_is_refused_naming_the_file(tmp_path, content):
    """Is a truncated npz, a text file or a lone .npy refused with a message naming the path?"""
    path = tmp_path / "mnist.npz"
    if content == "truncated":
        np.savez(path, **{k: v[:100] for k, v in fake_mnist().items()})
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "text":
        path.write_text("404 Not Found\n")
    else:
        with path.open("wb") as f:
            np.save(f, np.zeros(3, np.uint8))
    with pytest.raises(DataUnavailable, match=f"cannot read {path} as an .npz"):
        load_mnist(path)


def test_missing_file_is_named(tmp_path):
    """Does a path that does not exist give a message naming it?"""
    with pytest.raises(DataUnavailable, match="does not exist"):
        load_mnist(tmp_path / "nope.npz")


# ------------------------------------------------------------ where MNIST is found


def test_nothing_available_says_how_to_provide_mnist(nowhere):
    """With no file anywhere and no network, does the error say how to provide MNIST?"""
    with pytest.raises(DataUnavailable) as err:
        load_mnist()
    message = str(err.value)
    assert nowhere, "the Keras download was not tried"
    assert "ML4P_MNIST=/path/to/mnist.npz" in message
    assert "~/.keras/datasets/mnist.npz" in message
    assert "ML4P_DIGITS=synthetic" in message
    assert "no network in this test" in message
    assert mnist_file() is None


def test_bad_explicit_setting_is_not_skipped(nowhere, tmp_path, monkeypatch):
    """Does a look-alike at $ML4P_MNIST raise, rather than the search moving on?"""
    path = tmp_path / "mine.npz"
    np.savez(path, **fake_mnist())
    monkeypatch.setenv(data.MNIST_ENV, str(path))
    with pytest.raises(DataUnavailable, match=f"{path} is not MNIST"):
        load_mnist()
    with pytest.raises(DataUnavailable, match=f"{path} is not MNIST"):
        mnist_file()
    assert not nowhere, "the download was tried although ML4P_MNIST was set"


def test_bad_cache_file_is_reported_when_nothing_else_works(nowhere, tmp_path):
    """Is a look-alike in Keras's cache refused, named in the final error, never used?"""
    cache = tmp_path / "keras_home" / "datasets" / "mnist.npz"
    cache.parent.mkdir(parents=True)
    np.savez(cache, **fake_mnist())
    assert data.keras_cache_file() == cache
    with pytest.raises(DataUnavailable, match=f"{cache} is not MNIST: x_train differs"):
        load_mnist()
    assert mnist_file() is None


def test_keras_cache_follows_home_without_keras_home(tmp_path, monkeypatch):
    """Without KERAS_HOME, is the cache ~/.keras/datasets/mnist.npz, as Keras has it?"""
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.keras_cache_file() == tmp_path / ".keras" / "datasets" / "mnist.npz"


# ---------------------------------------------------------- the real data set


def test_real_mnist_matches_the_published_idx_md5s(real_mnist):
    """Are the module's SHA-256 constants those of the genuine MNIST, by LeCun's idx md5s?"""
    with np.load(real_mnist) as npz:
        for key, (magic, md5) in IDX_MD5.items():
            arr = npz[key]
            header = struct.pack(f">{1 + arr.ndim}I", magic, *arr.shape)
            assert hashlib.md5(header + arr.tobytes()).hexdigest() == md5, key
            assert hashlib.sha256(arr.tobytes()).hexdigest() == data.MNIST_ARRAYS[key][1], key


def test_recompressed_mnist_is_accepted_from_env_and_cache(real_mnist, nowhere, tmp_path,
                                                           monkeypatch):
    """Is a re-zipped copy of MNIST (other bytes, same arrays) accepted via $ML4P_MNIST and
    via Keras's cache, without a download?"""
    with np.load(real_mnist) as npz:
        arrays = {k: npz[k] for k in npz.files}
    copy = tmp_path / "keras_home" / "datasets" / "mnist.npz"
    copy.parent.mkdir(parents=True)
    np.savez_compressed(copy, **arrays)
    assert copy.read_bytes() != real_mnist.read_bytes()

    from_cache = load_mnist()
    assert (from_cache.is_mnist, from_cache.source) == (True, str(copy))
    assert from_cache.x_train.shape == (60000, 28, 28) and from_cache.y_test.dtype == np.uint8

    monkeypatch.setenv(data.MNIST_ENV, str(copy))
    assert mnist_file() == copy
    assert load_digits().source == str(copy)
    assert not nowhere


def test_one_changed_pixel_is_refused(real_mnist, tmp_path):
    """Does changing one pixel of the real test images make the file not MNIST?"""
    with np.load(real_mnist) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x_test"] = arrays["x_test"].copy()
    arrays["x_test"][123, 14, 14] ^= 1
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataUnavailable) as err:
        load_mnist(path)
    assert "x_test differs" in str(err.value) and "x_train" not in str(err.value)


# ---------------------------------------------------------------- load_digits


def test_load_digits_synthetic_on_request(monkeypatch):
    """Does ML4P_DIGITS=synthetic give the stand-in, named as such, without looking for MNIST?"""
    monkeypatch.setenv(data.DIGITS_ENV, "synthetic")
    monkeypatch.setattr(data, "load_mnist", lambda path=None: pytest.fail("looked for MNIST"))
    digits = load_digits()
    assert digits.name == data.SYNTHETIC_NAME and not digits.is_mnist
    assert "not MNIST" in digits.name


@pytest.mark.parametrize("value", ["Synthetic", "fake", "mnist"])
def test_load_digits_rejects_other_settings(monkeypatch, value):
    """Is any other value of ML4P_DIGITS an error naming the variable?"""
    monkeypatch.setenv(data.DIGITS_ENV, value)
    with pytest.raises(ValueError, match=data.DIGITS_ENV):
        load_digits()


def test_load_digits_defaults_to_mnist(monkeypatch, tmp_path):
    """Without ML4P_DIGITS, does load_digits ask load_mnist, passing the path on?"""
    monkeypatch.delenv(data.DIGITS_ENV, raising=False)
    asked = []
    monkeypatch.setattr(data, "load_mnist", lambda path=None: asked.append(path) or "mnist")
    assert load_digits(tmp_path) == "mnist" and asked == [tmp_path]


# ---------------------------------------------------------- the synthetic set


def test_synthetic_shapes_dtype_range_and_name():
    """Are the arrays uint8 (n, 28, 28) / (n,), pixels 0..255, labels 0..9, and is it named?"""
    digits = synthetic_digits(n_train=200, n_test=50, seed=1)
    assert digits.x_train.shape == (200, 28, 28) and digits.x_test.shape == (50, 28, 28)
    assert digits.y_train.shape == (200,) and digits.y_test.shape == (50,)
    for arr in (digits.x_train, digits.y_train, digits.x_test, digits.y_test):
        assert arr.dtype == np.uint8
    assert digits.x_train.max() == 255 and digits.x_train.min() == 0
    assert set(np.unique(digits.y_train)) == set(range(10))
    assert digits.name == data.SYNTHETIC_NAME and digits.source == "generated, seed 1"


def test_synthetic_is_deterministic_per_seed():
    """Does the same seed give the same arrays, and another seed different ones?"""
    a, b = synthetic_digits(300, 100, seed=3), synthetic_digits(300, 100, seed=3)
    c = synthetic_digits(300, 100, seed=4)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_test, c.x_test)


def test_synthetic_test_set_does_not_depend_on_train_size():
    """Is the test set the same whatever n_train is (independent random streams)?"""
    small, large = synthetic_digits(100, 60, seed=5), synthetic_digits(500, 60, seed=5)
    np.testing.assert_array_equal(small.x_test, large.x_test)


@pytest.mark.parametrize("n", [1000, 1007])
def test_synthetic_classes_are_balanced(n):
    """Does every digit occur n // 10 or n // 10 + 1 times?"""
    counts = np.bincount(synthetic_digits(n, 10, seed=0).y_train, minlength=10)
    assert counts.sum() == n and set(counts) <= {n // 10, n // 10 + 1}


def test_synthetic_digits_are_framed_like_mnist():
    """Is each digit's centre of mass within the random shift of the frame's centre, and
    does it stay clear of the border?"""
    x = synthetic_digits(500, 10, seed=6).x_train.astype(float)
    grid = np.arange(28)
    mass = x.sum(axis=(1, 2))
    rows = (x.sum(2) * grid).sum(1) / mass
    cols = (x.sum(1) * grid).sum(1) / mass
    assert np.all(np.abs(rows - 13.5) < 3.5) and np.all(np.abs(cols - 13.5) < 3.5)
    border = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)
    assert np.mean(border > 127) < 0.01


def test_synthetic_labels_match_the_images():
    """Does a nearest-class-mean classifier fitted on one seed's images label another
    seed's well above chance (labels belong to their images)?"""
    train, test = synthetic_digits(2000, 10, seed=7), synthetic_digits(2000, 10, seed=8)
    x, y = train.x_train.reshape(-1, 784) / 255, train.y_train
    means = np.stack([x[y == k].mean(0) for k in range(10)])
    xt = test.x_train.reshape(-1, 784) / 255
    predicted = np.argmin(((xt[:, None] - means) ** 2).sum(-1), axis=1)
    assert np.mean(predicted == test.y_train) > 0.6
