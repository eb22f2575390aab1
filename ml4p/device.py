"""The distribution strategy from ml4p, so the same notebook runs on CPU, GPU or TPU.

    from ml4p.device import describe, strategy
    print("Training on", describe())      # "CPU", "1 GPU", "2 GPUs (MirroredStrategy)", ...
    with strategy().scope():
        model = make_model()              # variables are created (mirrored) under the scope
        model.compile(...)
    model.fit(...)                        # Keras splits each batch across the replicas

TensorFlow is imported inside the functions, after ml4p's quiet environment
is in place (importing ml4p.device imports ml4p first).
"""
from __future__ import annotations

import functools
import glob
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

#: Environment variables that name a Cloud TPU (TPU node, GKE, old Colab).
_TPU_NAME_ENV = ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS")
#: Device files of a TPU attached to this VM (v2-v4: /dev/accel*, v5e and later: vfio).
_LOCAL_TPU_GLOBS = ("/dev/accel[0-9]*", "/dev/vfio/[0-9]*")


def _tpu_address() -> str | None:
    """What to pass TPUClusterResolver, judged from the environment alone, or None
    when nothing suggests a TPU (then it is not probed: no network, no log lines)."""
    for var in _TPU_NAME_ENV:
        if os.environ.get(var):
            return os.environ[var]
    if os.environ.get("COLAB_TPU_ADDR"):
        return "grpc://" + os.environ["COLAB_TPU_ADDR"]
    if os.environ.get("TPU_ACCELERATOR_TYPE") or any(glob.glob(g) for g in _LOCAL_TPU_GLOBS):
        return "local"
    return None


def _tpu_strategy() -> tf.distribute.Strategy | None:
    """A TPUStrategy if a TPU is suggested and can be initialised, else None."""
    address = _tpu_address()
    if address is None:
        return None
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver.connect(tpu=address)
        return tf.distribute.TPUStrategy(resolver)
    except Exception:  # unreachable or not a TPU after all: train on what is here
        return None


@functools.cache
def strategy() -> tf.distribute.Strategy:
    """The strategy to build and train models under; the same object on every call.

    A TPU if one is reachable; else MirroredStrategy over the GPUs if there is
    more than one (or over the logical CPUs, see `logical_cpus`); else the
    default strategy (one GPU or the CPU). Memory growth is turned on for every
    GPU, so that TensorFlow does not reserve all GPU memory at start-up.
    """
    tpu = _tpu_strategy()
    if tpu is not None:
        return tpu
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # devices already initialised, or a virtual split
            pass
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus if gpus else tf.config.list_logical_devices("CPU")
    if len(devices) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


_strategy = strategy  # describe()'s parameter hides the name


def _tpu_kind() -> str:
    kind = os.environ.get("TPU_ACCELERATOR_TYPE", "")  # "v3-8" on TPU VMs
    return f" {kind}" if kind else ""


def describe(strategy: tf.distribute.Strategy | None = None) -> str:
    """What `strategy` (default: `strategy()`) trains on, for the notebook to print:
    "CPU", "1 GPU", "2 GPUs (MirroredStrategy)", "TPU v3-8 (8 cores)"."""
    import tensorflow as tf

    if strategy is None:
        strategy = _strategy()
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return f"TPU{_tpu_kind()} ({strategy.num_replicas_in_sync} cores)"
    try:
        devices = [d.upper() for d in strategy.extended.worker_devices]
    except RuntimeError:  # the default strategy: TensorFlow's placement, the first GPU if any
        return "1 GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    n_gpu = sum(":GPU:" in d for d in devices)
    n_cpu = sum(":CPU:" in d for d in devices)
    if n_gpu == len(devices):
        what = f"{n_gpu} GPU" + ("s" if n_gpu > 1 else "")
    elif n_cpu == len(devices):
        what = "CPU" if n_cpu == 1 else f"{n_cpu} logical CPUs"
    else:
        what = f"{len(devices)} devices"
    return f"{what} ({type(strategy).__name__})"


def logical_cpus(n: int) -> None:
    """Split the CPU into n logical devices, to test multi-device code on one CPU.

    Must run before TensorFlow initialises its devices, i.e. early in a fresh
    process (the split can be set only once per process); afterwards `strategy()`
    mirrors over the n devices.
    """
    if n < 1:
        raise ValueError(f"logical_cpus needs n >= 1, got {n}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError as exc:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            raise RuntimeError(
                f"logical_cpus({n}) came too late: TensorFlow has already initialised "
                f"{have} CPU device(s) in this process; call it first, in a fresh process") from exc
