"""Do student functions called through KernelProxy come back as exact data, and only data?

One sandboxed kernel with TensorFlow (default Limits, so this also checks that
TensorFlow works under them) serves most tests; a test that leaves its kernel
stuck or dead starts its own small one.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import pytest
from jupyter_core.utils import run_sync

from ml4p.grading import proxy as proxy_module
from ml4p.grading.proxy import (
    BadResult,
    CallTimeout,
    KernelCode,
    KernelDied,
    KernelProxy,
    StudentError,
)
from ml4p.grading.sandbox import sandboxed_kernel_manager

STUDENT_NOTEBOOK = '''
import base64, time
import numpy as np
import tensorflow as tf

def ident(x):
    return x

def kinds(*args, **kwargs):
    return [type(a).__name__ for a in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()]

def type_codes(*args, **kwargs):
    codes = {"float": 1, "int": 2, "bool": 3, "NoneType": 4, "str": 5, "complex": 6,
             "float32": 7, "ndarray": 8, "tuple": 9, "list": 10, "function": 11}
    return np.array([codes.get(name.split("=")[-1], -1) for name in kinds(*args, **kwargs)])

def pair(x):
    return x, [2 * x, tf.reduce_sum(x)]

def apply(f, x):
    return f(x)

traces = []

@tf.function(reduce_retracing=True)
def traced_apply(f, x):
    traces.append(x.shape)  # runs once per trace
    return f(x)

def trace_count():
    return len(traces)

def identity_of(f, x):
    return id(f)

def identity_of_energy(x):
    return id(energy)

def energy(x):                      # deliberately wrong: the reference replaces it
    return tf.reduce_sum(x)

@tf.function
def forces(x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        e = energy(x)
    return -tape.gradient(e, x)

def forces_eager(x):
    return forces.python_function(x)

def bad(x):
    raise ValueError("negative mass")

def chatty(x):
    raise RuntimeError("x" * 5000)

def noisy(x):
    print("step " * 1000)
    return x

def returns_object(x):
    return object()

def returns_dict(x):
    return {"a": x}

def returns_object_array(x):
    return np.array([1, "a"], dtype=object)

def returns_none(x):
    pass

def returns_text(x):
    return "42"

def slow():
    time.sleep(100)

def names():
    return len(get_ipython().user_ns)

def smuggler(x):
    import sys
    raise ValueError(repr(sys._getframe(1).f_locals))   # the proxy's request, sources included

not_a_function = 3
'''

REFERENCE_ENERGY = "def energy(x):\n    return 0.5 * tf.reduce_sum(x**2)\n"
BAD_PICKLE_MARKER = "ml4p_unpickled_marker"


class _Evil:
    """Unpickling this creates a file: if the marker appears, something unpickled it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def start(workdir: Path, code: str):
    km = sandboxed_kernel_manager(workdir)
    run_sync(km.start_kernel)()
    client = km.blocking_client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    return km, client


def stop(km, client) -> None:
    client.stop_channels()
    run_sync(km.shutdown_kernel)(now=True)


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """(client to run student code, proxy) on a kernel that ran STUDENT_NOTEBOOK."""
    km, client = start(tmp_path_factory.mktemp("submission"), STUDENT_NOTEBOOK)
    proxy = KernelProxy(km.get_connection_info(), timeout=30)
    yield client, proxy
    proxy.close()
    stop(km, client)


def student_runs(client, code: str) -> None:
    reply = client.execute_interactive(code, timeout=30, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool", "complex128"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 0, 4), (2, 3)])
def test_arrays_round_trip_bitwise(notebook, dtype, shape):
    """Does an array sent to the kernel and returned come back with the same dtype, shape and bits?"""
    _, proxy = notebook
    rng = np.random.default_rng(abs(hash((dtype, shape))) % 2**32)
    x = (rng.standard_normal(shape) * 1e3).astype(dtype)
    if dtype.startswith("float") and x.size:
        x.flat[0] = np.nan  # NaN payloads and signs survive too
    y = proxy.ident(x)
    assert isinstance(y, np.ndarray)
    assert (y.dtype, y.shape, y.tobytes()) == (x.dtype, x.shape, x.tobytes())


def test_scalars_keep_their_types(notebook):
    """Do Python and NumPy scalars, None, strings, tuples and lists arrive as what they were?"""
    _, proxy = notebook
    codes = proxy.type_codes(1.5, 2, True, None, "s", 1j, np.float32(1), np.zeros(2),
                             (1, 2), [3], k=KernelCode("lambda x: x"))  # fmt: skip
    assert codes.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]


def test_float_arguments_are_exact(notebook):
    """Does a Python float cross into the kernel without rounding?"""
    _, proxy = notebook
    x = 0.1 + 0.2
    assert proxy.ident(x).item() == x


def test_tuple_results(notebook):
    """Does a tuple/list result come back as a (nested) tuple of arrays, tensors converted?"""
    _, proxy = notebook
    x = np.arange(3.0)
    first, (double, total) = proxy.pair(x)
    np.testing.assert_array_equal(first, x)
    np.testing.assert_array_equal(double, 2 * x)
    assert total.shape == () and total == 3.0


def test_kernel_code_argument(notebook):
    """Is a KernelCode lambda using tf built in the kernel and passed to the student function?"""
    _, proxy = notebook
    x = np.arange(12.0).reshape(3, 2, 2)
    f = KernelCode("lambda x: -2.0 * tf.reduce_sum(x**2, axis=(-2, -1))")
    np.testing.assert_allclose(proxy.apply(f, x), -2.0 * (x**2).sum(axis=(-2, -1)))


def test_trusted_code_is_made_once_per_argument_types(notebook):
    """Do repeated calls with arguments of the same types and shapes get the same KernelCode lambda and
    reference `energy` (so a student's tf.function traces them once), and other shapes new ones?"""
    _, proxy = notebook
    f = KernelCode("lambda x: 3.0 * x")
    x = np.arange(6.0).reshape(2, 3)
    assert proxy.identity_of(f, x) == proxy.identity_of(f, x + 1)
    assert proxy.identity_of(f, x) != proxy.identity_of(f, x[:1])
    assert proxy.identity_of(f, x) != proxy.identity_of(f, x.astype(np.float32))
    uses = {"energy": REFERENCE_ENERGY}
    assert proxy.call("identity_of_energy", x, uses=uses) == proxy.call("identity_of_energy", 2 * x, uses=uses)
    assert proxy.call("identity_of_energy", x, uses=uses) != proxy.call("identity_of_energy", x[0], uses=uses)
    assert proxy.call("identity_of_energy", x, uses=uses) != proxy.call("identity_of_energy", x)  # the student's
    before = proxy.trace_count()
    for i in range(3):
        np.testing.assert_allclose(proxy.traced_apply(f, x + i), 3.0 * (x + i))
    assert proxy.trace_count() == before + 1
    np.testing.assert_allclose(proxy.traced_apply(f, x[:1]), 3.0 * x[:1])  # a new lambda: traced with its shape
    assert proxy.trace_count() == before + 2


@pytest.mark.parametrize("target", ["forces", "forces_eager"])
def test_uses_replaces_a_global_for_one_call(notebook, target):
    """Does `uses` grade forces with the reference energy (even after a tf.function traced the
    student's), and is the student's energy back afterwards?"""
    _, proxy = notebook
    x = np.arange(6.0).reshape(2, 3)
    student = -np.ones_like(x)  # the gradient of the student's sum(x)
    np.testing.assert_allclose(proxy.call(target, x), student)  # traces with the student's energy
    np.testing.assert_allclose(proxy.call(target, x, uses={"energy": REFERENCE_ENERGY}), -x)
    np.testing.assert_allclose(proxy.call(target, x), student)
    np.testing.assert_allclose(proxy.energy(x), x.sum())


def test_uses_of_a_new_name_leaves_nothing_behind(notebook):
    """Is a global that `uses` introduced removed again, and does a call leave no names?"""
    _, proxy = notebook
    before = proxy.names()
    assert proxy.call("ident", 1.0, uses={"helper": "helper = lambda: 1"}) == 1.0
    assert not proxy.defined("helper")
    assert proxy.names() == before


def test_missing_and_non_callable_names(notebook):
    """Is calling an undefined name a StudentError saying so, and what does defined() report?"""
    _, proxy = notebook
    with pytest.raises(StudentError, match=r"`nope` is not defined — did you run its cell\?"):
        proxy.nope(1.0)
    with pytest.raises(StudentError, match="not a function"):
        proxy.not_a_function()
    assert proxy.defined("ident") and not proxy.defined("nope") and not proxy.defined("not_a_function")


def test_student_exception_is_a_short_student_error(notebook):
    """Does the student's exception arrive as 'Type: message', truncated, without a traceback?"""
    _, proxy = notebook
    with pytest.raises(StudentError) as caught:
        proxy.bad(1.0)
    assert type(caught.value) is StudentError and str(caught.value) == "ValueError: negative mass"
    with pytest.raises(StudentError) as caught:
        proxy.chatty(1.0)
    assert str(caught.value).startswith("RuntimeError: xxx") and len(str(caught.value)) <= 500


def test_error_messages_do_not_quote_grader_code(notebook):
    """Can a student's exception smuggle the reference source sent with `uses` into feedback?"""
    _, proxy = notebook
    with pytest.raises(StudentError) as caught:
        proxy.call("smuggler", 1.0, uses={"energy": REFERENCE_ENERGY})
    assert "reduce_sum" not in str(caught.value) and "withheld" in str(caught.value)


@pytest.mark.parametrize(
    ("function", "message"),
    [("returns_object", "type object"), ("returns_dict", "type dict"),
     ("returns_object_array", "dtype object"), ("returns_none", "None"),
     ("returns_text", "type str")],
)  # fmt: skip
def test_wrong_return_types_are_bad_results(notebook, function, message):
    """Is a result that is not numbers a BadResult naming what was returned?"""
    _, proxy = notebook
    with pytest.raises(BadResult, match=message):
        proxy.call(function, 1.0)


def test_printed_output_is_kept_short_and_apart(notebook):
    """Is what the student function prints kept out of the result, with only its tail kept?"""
    _, proxy = notebook
    assert proxy.noisy(2.0) == 2.0
    assert proxy.last_output.endswith("step \n") and len(proxy.last_output) <= 2048


FORGERIES = {
    "np.save writes a pickle": """
import numpy as np, pickle
def save(file, arr, allow_pickle=True, fix_imports=True):
    file.write(PICKLE)
np.save = save
""",
    "np.save writes an object .npy": """
import numpy as np
def save(file, arr, allow_pickle=True, fix_imports=True):
    np.lib.format.write_array_header_1_0(file, {"descr": "|O", "fortran_order": False,
                                                "shape": (1,)})
    file.write(PICKLE)
np.save = save
""",
    "np.save writes a huge header": """
import numpy as np
def save(file, arr, allow_pickle=True, fix_imports=True):
    np.lib.format.write_array_header_1_0(file, {"descr": "<f8", "fortran_order": False,
                                                "shape": (10**12,)})
    file.write(b"0" * 8)
np.save = save
""",
    "np.save writes an npz": """
import numpy as np, io
_real_savez = np.savez
def save(file, arr, allow_pickle=True, fix_imports=True):
    _real_savez(file, a=np.zeros(3))
np.save = save
""",
    "display is silenced": """
import IPython.display
IPython.display.display = lambda *a, **k: None
""",
    "display sends a forged object array": """
import IPython.display, base64
def display(obj, raw=False, **kwargs):
    forged = {"ok": True, "tuple": False, "values": [base64.b64encode(PICKLE).decode()]}
    get_ipython().display_pub.publish({"application/vnd.ml4p.result+json": forged})
IPython.display.display = display
""",
    "b64encode returns junk": """
import base64
base64.b64encode = lambda data: b"!!! not base64 !!!"
""",
    "student function publishes a second result": """
def ident(x):
    from IPython.display import display
    display({"application/vnd.ml4p.result+json": {"ok": True, "tuple": False, "values": []}}, raw=True)
    return x
""",
}
SAVE_ORIGINALS = """
import numpy as np, base64, IPython.display
_ORIGINALS = (np.save, base64.b64encode, IPython.display.display, ident)
"""
RESTORE = """
np.save, base64.b64encode, IPython.display.display, ident = _ORIGINALS
del _ORIGINALS
"""


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_results_are_rejected(notebook, forgery, tmp_path):
    """Can a student who monkeypatches numpy, display or base64 in the kernel make the grader
    accept a forged result or unpickle anything?"""
    client, proxy = notebook
    marker = tmp_path / BAD_PICKLE_MARKER
    payload = pickle.dumps(np.array([_Evil(str(marker))], dtype=object))
    student_runs(client, SAVE_ORIGINALS + f"PICKLE = {payload!r}\n" + FORGERIES[forgery])
    try:
        with pytest.raises(BadResult):
            proxy.ident(np.arange(3.0))
    finally:
        student_runs(client, RESTORE)
    assert not marker.exists(), "the grader unpickled kernel data"
    np.testing.assert_array_equal(proxy.ident(np.arange(3.0)), np.arange(3.0))


def test_call_timeout_interrupts_and_kernel_answers_again(notebook):
    """Does a call exceeding its timeout raise CallTimeout quickly, leaving the kernel usable?"""
    _, proxy = notebook
    start = time.monotonic()
    with pytest.raises(CallTimeout):
        proxy.call("slow", timeout=2)
    assert time.monotonic() - start < 2 + proxy_module._INTERRUPT_GRACE_SECONDS
    assert proxy.ident(7.0) == 7.0


def test_uses_is_undone_when_the_call_times_out(notebook):
    """After a `uses` call is interrupted, is the student's own global back in place?"""
    _, proxy = notebook
    with pytest.raises(CallTimeout):
        proxy.call("slow", uses={"energy": REFERENCE_ENERGY}, timeout=1)
    np.testing.assert_allclose(proxy.energy(np.arange(3.0)), 3.0)  # the student's sum


def test_arguments_that_are_not_data_are_refused(notebook):
    """Does the proxy refuse to send objects and object arrays (rather than pickling them)?"""
    _, proxy = notebook
    with pytest.raises(TypeError):
        proxy.ident(object())
    with pytest.raises(TypeError):
        proxy.ident(np.array([1, "a"], dtype=object))


def test_stuck_kernel_is_declared_dead(tmp_path, monkeypatch):
    """If the kernel ignores the interrupt, is the call a CallTimeout and every later call a fast
    KernelDied?"""
    monkeypatch.setattr(proxy_module, "_INTERRUPT_GRACE_SECONDS", 1.0)
    km, client = start(tmp_path, """
import time
def stubborn():
    while True:
        try:
            time.sleep(100)
        except KeyboardInterrupt:
            pass
""")  # fmt: skip
    proxy = KernelProxy(km.connection_file, timeout=10)
    try:
        with pytest.raises(CallTimeout, match="did not stop"):
            proxy.call("stubborn", timeout=1)
        start_time = time.monotonic()
        with pytest.raises(KernelDied):
            proxy.call("stubborn")
        assert time.monotonic() - start_time < 0.1
    finally:
        proxy.close()
        stop(km, client)


def test_dead_kernel_raises_kernel_died(tmp_path):
    """Does a student function calling os._exit raise KernelDied, and later calls too, at once?"""
    km, client = start(tmp_path, "import os\ndef boom():\n    os._exit(1)\n")
    proxy = KernelProxy(km.connection_file, timeout=30)
    try:
        start_time = time.monotonic()
        with pytest.raises(KernelDied):
            proxy.boom()
        assert time.monotonic() - start_time < 10
        with pytest.raises(KernelDied):
            proxy.boom()
    finally:
        proxy.close()
        stop(km, client)
