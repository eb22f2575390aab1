"""The tuning assignment: its oracle against TensorFlow's own implementations, and its parts.

The rules every assignment keeps (a test file and known mistakes for every part, `ml4p check`
passing) are checked for it by ``test_assignments.py``."""
from __future__ import annotations

import sys

import nbformat
import numpy as np
import pytest

import ml4p  # noqa: F401 - quiet TensorFlow before it is imported
from ml4p.course import materials_root

ROOT = materials_root()
sys.path.insert(0, str(ROOT))
from solutions import tuning as oracle  # noqa: E402

A = "tuning"
#: The issue's parts and points (the written question is graded by hand).
PARTS = {"gradient_check": 3, "overfit": 2, "initializers": 3, "clipping": 2, "schedule": 2, "checkpoint": 3,
         "logging": 2, "written_question": 2}


def test_oracle_gradients():
    """Do the oracle's finite differences match the exact gradient and tf.test.compute_gradient?"""
    import tensorflow as tf

    x = np.random.default_rng(0).normal(size=(3, 2))
    assert oracle.relative_error(oracle.numerical_gradient(oracle.smooth, x), oracle.smooth_gradient(x)) < 1e-9
    _, (numerical,) = tf.test.compute_gradient(
        lambda v: tf.reduce_sum(tf.sin(v) * v**2) + 0.5 * tf.reduce_sum(v) ** 2, [tf.constant(x)], delta=1e-3)
    assert oracle.relative_error(oracle.numerical_gradient(oracle.smooth, x, 1e-3).ravel(), np.ravel(numerical)) < 1e-9
    assert oracle.relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert oracle.relative_error(np.array([1.0]), np.array([-1.0])) == 1.0


def test_oracle_clipping_is_tensorflows():
    """Does the oracle clip like tf.clip_by_global_norm, above and below the threshold?"""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    for max_norm in (0.5, 100.0):
        ours, norm = oracle.clip_by_global_norm(grads, max_norm)
        theirs, their_norm = tf.clip_by_global_norm([tf.constant(g) for g in grads], max_norm)
        assert norm == pytest.approx(float(their_norm), rel=1e-12)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-12)


def test_oracle_schedule_is_keras_cosine_decay():
    """Is the oracle's warm-up cosine Keras's CosineDecay with a warm-up?"""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=900, warmup_target=2e-3, warmup_steps=100,
                                                      alpha=0.05)
    steps = np.arange(0, 1100, 13)
    want = [float(schedule(int(s))) for s in steps]
    np.testing.assert_allclose(oracle.warmup_cosine(steps, 1000, 100, 2e-3, 1e-4), want, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("name, variance", [("GlorotUniform", lambda fi, fo: oracle.glorot_variance(fi, fo)),
                                            ("HeNormal", lambda fi, fo: oracle.he_std(fi) ** 2)])
def test_oracle_initializer_variances_are_keras(name, variance):
    """Do the oracle's initialiser variances match samples of Keras's initialisers (5 standard errors)?"""
    import keras

    shape = (784, 128)
    w = np.asarray(getattr(keras.initializers, name)(seed=0)(shape), np.float64)
    assert abs(w.var() / variance(*shape) - 1) < 5 * np.sqrt(2 / w.size)
    if name == "GlorotUniform":
        assert np.abs(w).max() <= oracle.glorot_limit(*shape) * (1 + 1e-6)


def test_oracle_activation_statistics():
    """Does the oracle's deep network show He keeping ReLU activations and Glorot halving their variance?"""
    he = oracle.activation_stds(np.sqrt(2 / 128), "relu", 20, 128, 256, np.random.default_rng(0))
    glorot = oracle.activation_stds(np.sqrt(1 / 128), "relu", 20, 128, 256, np.random.default_rng(1))
    assert 0.3 < he[-1] / he[0] < 3
    assert abs(np.log(glorot[-1] / glorot[0]) - np.log(2 ** (-19 / 2))) < np.log(2)  # 2^(-1/2) per layer


def test_parts_and_points():
    """Does the notebook grade the issue's parts with their points?"""
    nb = nbformat.read(ROOT / "assignments" / A / f"{A}.ipynb", as_version=4)
    graded = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert graded == PARTS
