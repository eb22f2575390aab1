"""Handwritten digits for the notebooks: real MNIST, checked by content, or a
clearly named synthetic stand-in that ml4p draws itself.

    from ml4p.data import load_digits
    digits = load_digits()              # MNIST (or the stand-in if ML4P_DIGITS=synthetic)
    print(digits.name, digits.source)
    (x_train, y_train), (x_test, y_test) = digits   # like keras.datasets.mnist

Where MNIST comes from, in order (`load_mnist`):
    1. the `path` argument,
    2. $ML4P_MNIST (a path to an mnist.npz in Keras's layout),
    3. Keras's cache, $KERAS_HOME/datasets/mnist.npz (default ~/.keras/...),
    4. Keras's download (`keras.datasets.mnist.load_data()`).
A file is accepted by what it holds, not by its zip bytes: the four arrays'
shapes, dtype and SHA-256 must be MNIST's, so a re-compressed copy is fine and
a look-alike is refused. `load_mnist` never falls back to the stand-in; only
ML4P_DIGITS=synthetic selects it, and its `name` says so.

NumPy and matplotlib only: TensorFlow is imported (through Keras) only when
the download is tried.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_ENV = "ML4P_MNIST"  # path to an mnist.npz (keys x_train, y_train, x_test, y_test)
DIGITS_ENV = "ML4P_DIGITS"  # "synthetic": use the stand-in explicitly (offline demo, tests)

MNIST_NAME = "MNIST"
SYNTHETIC_NAME = "ml4p synthetic digits (a stand-in, not MNIST)"

#: MNIST's four arrays (all uint8): shape and SHA-256 of the raw C-order bytes
#: (`hashlib.sha256(arr.tobytes())`). Computed from Keras's mnist.npz and
#: cross-checked against the published md5s of LeCun's uncompressed idx files
#: (tests/test_data.py::test_real_mnist_matches_the_published_idx_md5s).
MNIST_ARRAYS: dict[str, tuple[tuple[int, ...], str]] = {
    "x_train": ((60000, 28, 28), "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"),
    "y_train": ((60000,), "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"),
    "x_test": ((10000, 28, 28), "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"),
    "y_test": ((10000,), "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"),
}

_HOW_TO_GET_MNIST = (
    f"To use MNIST, set {MNIST_ENV}=/path/to/mnist.npz or put the file at "
    "~/.keras/datasets/mnist.npz (Keras's cache; $KERAS_HOME/datasets/ if KERAS_HOME is set). "
    f"For a demo only, {DIGITS_ENV}=synthetic selects ml4p's synthetic stand-in (not MNIST)."
)


class DataUnavailable(RuntimeError):
    """MNIST cannot be had here: `reason` says why, the message also what to do."""

    def __init__(self, reason: str):
        super().__init__(f"{reason}. {_HOW_TO_GET_MNIST}")
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Digits:
    """A digits data set, white digits on black, pixel values 0..255."""

    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) uint8, labels 0..9
    x_test: np.ndarray  # (M, 28, 28) uint8
    y_test: np.ndarray  # (M,) uint8
    name: str  # MNIST_NAME or SYNTHETIC_NAME
    source: str  # where it came from: a path, "keras download", "generated, seed 0"

    @property
    def is_mnist(self) -> bool:
        return self.name == MNIST_NAME

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`(x_train, y_train), (x_test, y_test) = digits`, as from Keras."""
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test

    def __repr__(self) -> str:
        return (f"Digits({self.name!r}, {len(self.y_train)} train / {len(self.y_test)} test, "
                f"source={self.source!r})")


# --------------------------------------------------------------------------- MNIST


def verify_mnist(arrays: Mapping[str, np.ndarray], *, source: str = "these arrays") -> None:
    """Raise ValueError naming every array of `arrays` that is not MNIST's.

    arrays: a mapping with keys x_train, y_train, x_test, y_test (an npz, a dict).
    """
    problems = []
    for key, (shape, sha256) in MNIST_ARRAYS.items():
        if key not in arrays:
            problems.append(f"{key} is missing")
            continue
        arr = np.asarray(arrays[key])
        if arr.shape != shape or arr.dtype != np.uint8:
            problems.append(f"{key} is {arr.dtype}{list(arr.shape)}, MNIST's is uint8{list(shape)}")
            continue
        digest = hashlib.sha256(np.ascontiguousarray(arr)).hexdigest()
        if digest != sha256:
            problems.append(f"{key} differs (sha256 {digest[:16]}..., MNIST's is {sha256[:16]}...)")
    if problems:
        raise ValueError(f"{source} is not MNIST: " + "; ".join(problems))


def _read_mnist_file(path: Path) -> Digits:
    """MNIST from an npz file, verified; DataUnavailable naming `path` otherwise."""
    if not path.is_file():
        raise DataUnavailable(f"{path} does not exist or is not a file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in MNIST_ARRAYS if key in npz.files}
    except Exception as exc:  # BadZipFile, EOFError, ValueError, AttributeError (an .npy), ...
        raise DataUnavailable(
            f"cannot read {path} as an .npz file ({type(exc).__name__}: {exc}); "
            "it may be truncated or not an npz at all") from exc
    try:
        verify_mnist(arrays, source=str(path))
    except ValueError as exc:
        raise DataUnavailable(str(exc)) from exc
    return Digits(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                  name=MNIST_NAME, source=str(path))


def keras_cache_file() -> Path:
    """Where Keras keeps (or would put) mnist.npz; Keras's own rule for its home."""
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"])
    else:
        base = Path.home()
        home = (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"
    return home.expanduser() / "datasets" / "mnist.npz"


def _env_mnist_path() -> Path | None:
    value = os.environ.get(MNIST_ENV, "")
    return Path(value).expanduser() if value else None


def mnist_file() -> Path | None:
    """The verified local MNIST file ($ML4P_MNIST, else Keras's cache), or None.

    Never downloads. A set $ML4P_MNIST that is not MNIST raises DataUnavailable
    (an explicit setting is not silently ignored); a bad cache file gives None.
    """
    explicit = _env_mnist_path()
    if explicit is not None:
        _read_mnist_file(explicit)
        return explicit
    cache = keras_cache_file()
    try:
        _read_mnist_file(cache)
    except DataUnavailable:
        return None
    return cache


def _keras_download() -> dict[str, np.ndarray]:
    import keras  # imports TensorFlow: only here

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_mnist(path: str | os.PathLike | None = None) -> Digits:
    """Real MNIST, from the first place that has it (see the module docstring).

    A `path` or $ML4P_MNIST that does not hold MNIST raises at once; a bad cache
    file or a failed download moves on to the next place. Raises DataUnavailable
    saying how to provide the file when no place has it.
    """
    if path is not None:
        return _read_mnist_file(Path(path).expanduser())
    explicit = _env_mnist_path()
    if explicit is not None:
        return _read_mnist_file(explicit)

    tried = []
    cache = keras_cache_file()
    if cache.exists():
        try:
            return _read_mnist_file(cache)
        except DataUnavailable as exc:
            tried.append(exc.reason)
    else:
        tried.append(f"{cache} does not exist")
    try:
        arrays = _keras_download()
        verify_mnist(arrays, source="Keras's download")
    except Exception as exc:  # no network, proxy refusal, a bad mirror, ...
        tried.append(f"Keras's download failed ({type(exc).__name__}: {exc})")
    else:
        return Digits(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                      name=MNIST_NAME, source="keras download")
    raise DataUnavailable("MNIST is not available here: " + "; ".join(tried))


def load_digits(path: str | os.PathLike | None = None) -> Digits:
    """The digits a notebook trains on: MNIST, or the stand-in if ML4P_DIGITS=synthetic.

    ML4P_DIGITS=synthetic wins over `path`. Raises ValueError for any other
    non-empty ML4P_DIGITS, DataUnavailable when MNIST cannot be found.
    """
    choice = os.environ.get(DIGITS_ENV, "")
    if choice == "synthetic":
        return synthetic_digits()
    if choice:
        raise ValueError(f"{DIGITS_ENV}={choice!r} is not understood: unset it to use MNIST, "
                         f"or set {DIGITS_ENV}=synthetic for the synthetic stand-in")
    return load_mnist(path)


# ------------------------------------------------------------- synthetic stand-in
#
# Each example: a glyph of a digit in one of six DejaVu fonts shipped with
# matplotlib, rasterised once at twice the final resolution (the template),
# thinned or thickened by a random disk erosion/dilation, then sampled
# bilinearly through a random affine map into a 28x28 frame with MNIST's
# framing (the digit's 20x20 box, centre of mass at the frame's centre),
# blurred, contrast-stretched and noised.

_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
          "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")
_SIDE = 28  # output frame, pixels
_BOX = 20  # the digit's longer side, output pixels (MNIST's size normalisation)
_UP = 2  # templates are drawn at _UP times the output resolution
_CELL = 80  # template side, template pixels: room for the transformed glyph plus a zero border
_DILATIONS = (-1, 0, 1)  # stroke thickness: disk radius in template pixels (< 0 thins)
_ROTATION_DEG = 15.0  # rotation uniform in +-this
_SCALE = (0.8, 1.15)  # isotropic scale, uniform
_ASPECT = (0.85, 1.15)  # extra horizontal scale, uniform
_SHEAR = 0.3  # horizontal shear factor, uniform in +-this
_SHIFT = 2.0  # shift in x and y, output pixels, uniform in +-this
_GAIN = (1.0, 1.3)  # contrast stretch after normalising the peak to 1 (saturates strokes)
_NOISE = 0.04  # Gaussian noise sigma, uniform in [0, this] (peak = 1)
_CHUNK = 2000  # examples rendered at a time (bounds memory)


@functools.cache
def _glyphs() -> np.ndarray:
    """(6, 10, _CELL, _CELL) float32 in [0, 1]: each font's digits, longer side _UP*_BOX,
    bounding box centred, drawn with matplotlib's Agg renderer in one pass."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    font_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    n_fonts, box = len(_FONTS), _UP * _BOX
    fig = Figure(figsize=(10 * _CELL / 100, n_fonts * _CELL / 100), dpi=100, facecolor="black")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, 10 * _CELL)
    ax.set_ylim(n_fonts * _CELL, 0)  # rows downwards, like the image
    for f, font in enumerate(_FONTS):
        prop = FontProperties(fname=font_dir / font)
        for digit in range(10):
            path = TextPath((0, 0), str(digit), size=100, prop=prop)
            ext = path.get_extents()
            s = box / max(ext.width, ext.height)
            to_cell = (Affine2D().translate(-(ext.x0 + ext.x1) / 2, -(ext.y0 + ext.y1) / 2)
                       .scale(s, -s).translate((digit + 0.5) * _CELL, (f + 0.5) * _CELL))
            ax.add_patch(PathPatch(to_cell.transform_path(path), facecolor="white",
                                   edgecolor="none"))
    canvas.draw()
    red = np.asarray(canvas.buffer_rgba())[..., 0].astype(np.float32) / 255
    return red.reshape(n_fonts, _CELL, 10, _CELL).transpose(0, 2, 1, 3).copy()


def _shifted(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """img (..., H, W) moved by (dy, dx) pixels, zeros shifted in."""
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def _dilate(img: np.ndarray, radius: int) -> np.ndarray:
    """Grey-level dilation (a max filter) of img (..., H, W) by a disk of `radius`
    pixels; a negative radius erodes (a min filter) by a disk of -radius."""
    extreme = np.maximum if radius >= 0 else np.minimum
    r = abs(radius)
    out = img.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if (dy or dx) and dy * dy + dx * dx <= r * r:
                extreme(out, _shifted(img, dy, dx), out=out)
    return out


def _smooth(img: np.ndarray) -> np.ndarray:
    """img (..., H, W) convolved with the 3x3 binomial kernel [1 2 1]^T [1 2 1] / 16."""
    rows = (_shifted(img, 1, 0) + 2 * img + _shifted(img, -1, 0)) / 4
    return (_shifted(rows, 0, 1) + 2 * rows + _shifted(rows, 0, -1)) / 4


@functools.cache
def _templates() -> tuple[np.ndarray, np.ndarray]:
    """Templates (thickness, font, digit, _CELL, _CELL) float32, each smoothed against
    aliasing when sampled at stride _UP, and their centres of mass (..., 2) as (row, col)."""
    glyphs = _glyphs()
    templates = np.stack([_smooth(_dilate(glyphs, r)) for r in _DILATIONS])
    grid = np.arange(_CELL, dtype=np.float64)
    mass = templates.sum(axis=(-2, -1))
    com = np.stack([(templates.sum(-1) * grid).sum(-1) / mass,
                    (templates.sum(-2) * grid).sum(-1) / mass], axis=-1)
    return templates, com.astype(np.float32)


def _bilinear(flat: np.ndarray, base: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample images stored in `flat` (the raveled (T, _CELL, _CELL) stack) bilinearly.

    base: (n, 1) int, offset of each example's template in `flat`;
    rows, cols: (n, P) float template coordinates; outside the cell reads the zero border.
    """
    r = np.clip(rows, 0, _CELL - 1.001)
    c = np.clip(cols, 0, _CELL - 1.001)
    r0, c0 = r.astype(np.intp), c.astype(np.intp)
    fr, fc = r - r0, c - c0
    i = base + r0 * _CELL + c0
    top = flat[i] * (1 - fc) + flat[i + 1] * fc
    bottom = flat[i + _CELL] * (1 - fc) + flat[i + _CELL + 1] * fc
    return top * (1 - fr) + bottom * fr


def _draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n synthetic examples: x (n, 28, 28) uint8, y (n,) uint8 with balanced classes."""
    templates, com = _templates()
    n_thick, n_fonts = templates.shape[:2]
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    thick = rng.integers(n_thick, size=n)
    font = rng.integers(n_fonts, size=n)
    angle = np.deg2rad(rng.uniform(-_ROTATION_DEG, _ROTATION_DEG, n))
    scale = rng.uniform(*_SCALE, n)
    aspect = rng.uniform(*_ASPECT, n)
    shear = rng.uniform(-_SHEAR, _SHEAR, n)
    shift = rng.uniform(-_SHIFT, _SHIFT, (n, 2))  # (dx, dy)
    blur = rng.uniform(0, 1, (n, 1, 1))
    gain = rng.uniform(*_GAIN, (n, 1, 1))
    noise = rng.uniform(0, _NOISE, (n, 1, 1))

    # Forward map on (x, y) = (col, row), output pixels per glyph pixel:
    # A = rotation @ shear @ diag(scale * aspect, scale) / _UP; sampling needs its inverse.
    cos, sin = np.cos(angle), np.sin(angle)
    a = np.empty((n, 2, 2))
    a[:, 0, 0], a[:, 0, 1] = cos * scale * aspect, (cos * shear - sin) * scale
    a[:, 1, 0], a[:, 1, 1] = sin * scale * aspect, (sin * shear + cos) * scale
    inv = (np.linalg.inv(a) * _UP).astype(np.float32)  # (n, 2, 2)

    centre = (_SIDE - 1) / 2  # centre of the frame in pixel-centre coordinates
    ys, xs = np.mgrid[:_SIDE, :_SIDE].astype(np.float32) - centre
    xs, ys = xs.ravel(), ys.ravel()  # (P,)
    flat = templates.reshape(-1)
    x = np.empty((n, _SIDE, _SIDE), np.uint8)
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, n))
        dx = xs - shift[sl, :1].astype(np.float32)  # (m, P): offset from the digit's centre
        dy = ys - shift[sl, 1:].astype(np.float32)
        k_com = com[thick[sl], font[sl], labels[sl]]  # (m, 2) row, col
        cols = k_com[:, 1:] + inv[sl, 0, :1] * dx + inv[sl, 0, 1:] * dy
        rows = k_com[:, :1] + inv[sl, 1, :1] * dx + inv[sl, 1, 1:] * dy
        t_index = (thick[sl] * n_fonts + font[sl]) * 10 + labels[sl]
        img = _bilinear(flat, (t_index * _CELL * _CELL)[:, None], rows, cols)
        img = img.reshape(-1, _SIDE, _SIDE)
        img += blur[sl] * (_smooth(img) - img)
        img /= np.maximum(img.max(axis=(1, 2), keepdims=True), 1e-6)
        img = np.clip(img * gain[sl], 0, 1)
        img += noise[sl] * rng.standard_normal(img.shape, dtype=np.float32)
        x[sl] = np.rint(np.clip(img, 0, 1) * 255)
    return x, labels


def synthetic_digits(n_train: int = 12000, n_test: int = 2000, seed: int = 0) -> Digits:
    """ml4p's synthetic stand-in for MNIST, drawn from fonts; deterministic per seed.

    Balanced classes (counts differ by at most one). Train and test come from
    independent streams of `seed`, so the test set does not depend on n_train.
    """
    train_seq, test_seq = np.random.SeedSequence(seed).spawn(2)
    x_train, y_train = _draw(np.random.default_rng(train_seq), n_train)
    x_test, y_test = _draw(np.random.default_rng(test_seq), n_test)
    return Digits(x_train, y_train, x_test, y_test, name=SYNTHETIC_NAME,
                  source=f"generated, seed {seed}")
