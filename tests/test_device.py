"""ml4p.device: the strategy a notebook trains under.

TensorFlow's device set-up happens once per process, so each check that
initialises TensorFlow runs in its own fresh Python process.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ml4p
from ml4p import device

TPU_ENV = ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")


def run_fresh(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python with this ml4p and no TPU hints; the last line
    of stdout is JSON."""
    env = {k: v for k, v in os.environ.items() if k not in TPU_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ml4p.__file__).parents[1]),
                                         env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def no_tpu_hints(monkeypatch, tmp_path):
    for var in TPU_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(device, "_LOCAL_TPU_GLOBS", (str(tmp_path / "accel[0-9]*"),))
    return tmp_path


def test_no_tpu_is_probed_without_a_hint(no_tpu_hints):
    """With no TPU variable and no TPU device file, is the TPU left unprobed?"""
    assert device._tpu_address() is None


@pytest.mark.parametrize("var, value, address", [
    ("TPU_NAME", "my-tpu", "my-tpu"),
    ("COLAB_TPU_ADDR", "10.0.0.2:8470", "grpc://10.0.0.2:8470"),
    ("TPU_ACCELERATOR_TYPE", "v3-8", "local"),
])
def test_tpu_hints_from_the_environment(no_tpu_hints, monkeypatch, var, value, address):
    """Does each TPU environment variable lead to the right resolver address?"""
    monkeypatch.setenv(var, value)
    assert device._tpu_address() == address


def test_tpu_device_file_means_a_local_tpu(no_tpu_hints):
    """Does a TPU device file on this VM (a TPU VM) lead to tpu='local'?"""
    (no_tpu_hints / "accel0").touch()
    assert device._tpu_address() == "local"


def test_cpu_strategy_is_the_default_and_silent():
    """On a CPU-only machine, is strategy() the default strategy (cached), described as
    "CPU", with nothing on stderr?"""
    proc = run_fresh("""
        import json
        from ml4p.device import describe, strategy
        import tensorflow as tf
        s = strategy()
        print(json.dumps({"gpus": len(tf.config.list_physical_devices("GPU")),
                          "describe": describe(), "cached": strategy() is s,
                          "default": s is tf.distribute.get_strategy()}))
    """)
    result = last_json(proc)
    if result["gpus"]:
        pytest.skip("this machine has a GPU")
    assert result == {"gpus": 0, "describe": "CPU", "cached": True, "default": True}
    assert proc.stderr == ""


def test_mirrored_over_logical_cpus_keeps_replicas_in_step():
    """With the CPU split in two, does strategy() mirror over both, and after a Keras
    training step do both replicas hold the same weights, equal to a one-device step
    on the whole batch?"""
    proc = run_fresh("""
        import json
        from ml4p.device import describe, logical_cpus, strategy
        logical_cpus(2)
        import keras, numpy as np, tensorflow as tf

        def model():
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                                  keras.layers.Dense(1)])
            m.compile(keras.optimizers.SGD(0.1), "mse")
            return m

        rng = np.random.default_rng(0)
        x = rng.normal(size=(8, 3)).astype("float32")
        y = (x ** 2).sum(1, keepdims=True)
        s = strategy()
        with s.scope():
            mirrored = model()
        start = [w.numpy() for w in mirrored.weights]
        mirrored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        replicas = [[c.numpy() for c in w.value.values] for w in mirrored.weights]
        single = model()
        single.set_weights(start)
        single.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        try:
            logical_cpus(3)
            late = ""
        except RuntimeError as exc:
            late = str(exc)
        print(json.dumps({
            "describe": describe(s), "replicas": s.num_replicas_in_sync,
            "copies": sorted({len(r) for r in replicas}),
            "replica_gap": max(float(np.abs(r[0] - r[1]).max()) for r in replicas),
            "moved": min(float(np.abs(r[0] - w0).max()) for r, w0 in zip(replicas, start)),
            "vs_single": max(float(np.abs(r[0] - w).max())
                             for r, w in zip(replicas, single.get_weights())),
            "late": late}))
    """)
    result = last_json(proc)
    assert result["describe"] == "2 logical CPUs (MirroredStrategy)"
    assert result["replicas"] == 2 and result["copies"] == [2]
    assert result["replica_gap"] == 0.0, "the replicas' weights differ after a step"
    assert result["moved"] > 1e-4, "a weight did not change in the training step"
    assert result["vs_single"] < 1e-5, "the mirrored step is not the one-device step on the batch"
    assert "fresh process" in result["late"]
