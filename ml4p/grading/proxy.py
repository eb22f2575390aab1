"""Call a notebook's functions from the trusted grader process, data only.

    proxy = KernelProxy(connection_file, timeout=60)
    forces = proxy.forces(x)                              # x: numpy array
    forces = proxy.call("forces", x, uses={"energy": REFERENCE_ENERGY_SOURCE})

Arguments go into the kernel as `.npy` bytes (or as trusted source text,
`KernelCode`); results come back as `.npy` bytes in a display message with a
private mimetype and are decoded with `np.load(..., allow_pickle=False)` after
the header has been checked against the data size. Nothing the kernel sends is
unpickled or executed; anything unexpected is a `BadResult`.

The kernel-side code (``_in_kernel.py``, read as text) travels as source with
every call and runs in a fresh namespace: it relies on nothing the notebook
defined, and leaves nothing in the notebook's namespace. The one thing it keeps between calls, out of the way of
the notebook's names, is what it made from trusted source (a reference `energy`
for `uses`, a `KernelCode` lambda), reused by later calls whose arguments have
the same types and shapes: a student's `tf.function` that takes it as an
argument then traces (and XLA-compiles) once, not once per call, as it would
for a caller that keeps its functions. Same shapes, not just the same source:
a reused object seen with new shapes would make `reduce_retracing` relax them,
and the references may use static shapes. A student who replaces `np.save`,
`display` or that store in the kernel only breaks their own results.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import math
import queue
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from jupyter_client import BlockingKernelClient
from jupyter_core.utils import run_sync

from ml4p.grading.kernel_client import LimitedSockets, PromptReady, reply_parts

RESULT_MIME = "application/vnd.ml4p.result+json"
MAX_RESULT_BYTES = 64 << 20  # total .npy bytes of one result (the checks' largest need a few MB)
_MAX_MESSAGE_BYTES = MAX_RESULT_BYTES * 4 // 3 + (16 << 20)  # base64 + JSON; larger: dropped
_DECODE_CHUNK = 4 << 20  # base64 characters decoded at a time into the result's array
_MAX_ERROR_CHARS = 500  # StudentError messages are truncated to this
_KEEP_OUTPUT_CHARS = 2048  # `last_output` keeps the tail of a call's stdout/stderr
_INTERRUPT_GRACE_SECONDS = 5.0  # after an interrupt, how long the kernel may take to go idle
_HEARTBEAT_MISSES = 3  # consecutive quiet seconds without heartbeat: the kernel is dead
_MAX_NESTING = 8  # of tuples in arguments and results
_NUMERIC_KINDS = "biufc"  # bool, int, uint, float, complex


class StudentError(Exception):
    """The student's function failed; str() is a short "TypeError: message"."""


class CallTimeout(StudentError):
    """The call exceeded its timeout (the kernel was interrupted)."""


class KernelDied(StudentError):
    """The kernel is gone, or stuck after an interrupt: no further calls."""


class BadResult(StudentError):
    """The kernel's reply was missing, malformed, not numeric arrays, or too large."""


@dataclass(frozen=True)
class KernelCode:
    """Trusted source of an expression evaluated in the kernel (with `tf`, `np`) as an argument."""

    source: str  # e.g. "lambda x: -2.0 * tf.reduce_sum(x**2, axis=(-2, -1))"


# ---------------------------------------------------------------- kernel side

#: What the kernel executes for a request: the function ``_in_kernel.py`` defines, then its call,
#: in a fresh namespace holding only ``_REQUEST`` (JSON text).
_KERNEL_SOURCE = Path(__file__).with_name("_in_kernel.py").read_text(encoding="utf-8") + "\n_ml4p_call(_REQUEST)\n"


def _kernel_code(request: dict) -> str:
    """One line of code for `execute_request` (no IPython syntax can hide in it)."""
    return (
        "__import__('builtins').exec(__import__('builtins').compile("
        f"{_KERNEL_SOURCE!r}, '<ml4p-proxy>', 'exec'), "
        f"{{'__name__': 'ml4p_proxy', '_REQUEST': {json.dumps(request)!r}}})"
    )


# ---------------------------------------------------------------- trusted side


def _encode_argument(value: Any, depth: int = 0) -> dict:
    """An argument as a JSON-able node; arrays as base64 .npy bytes."""
    if depth > _MAX_NESTING:
        raise TypeError("arguments nested too deeply")
    if isinstance(value, KernelCode):
        return {"k": "code", "src": value.source}
    if isinstance(value, (tuple, list)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"k": kind, "items": [_encode_argument(item, depth + 1) for item in value]}
    if isinstance(value, (np.generic, np.ndarray)):
        array = np.asarray(value)
        if array.dtype.hasobject or array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"cannot send an array of dtype {array.dtype} to the kernel")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        return {"k": "npy", "b": encoded, "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, (bool, str, int)):
        return {"k": "py", "v": value}
    if isinstance(value, float):
        return {"k": "float", "v": value.hex()}
    if isinstance(value, complex):
        return {"k": "complex", "re": value.real.hex(), "im": value.imag.hex()}
    raise TypeError(
        f"cannot send a {type(value).__name__} to the kernel: "
        "use numpy arrays, scalars, tuples/lists of those, or KernelCode"
    )


def _signature(value: Any) -> Any:
    """The types and shapes of an (already encodable) argument, without its values."""
    if isinstance(value, KernelCode):
        return "code"
    if isinstance(value, (tuple, list)):
        return [type(value).__name__, [_signature(item) for item in value]]
    if isinstance(value, (np.generic, np.ndarray)):
        return [type(value).__name__ if isinstance(value, np.ndarray) else "scalar", np.asarray(value).dtype.str,
                list(np.shape(value))]
    return type(value).__name__


def _decode_array(text: Any) -> np.ndarray:
    """A numeric array from base64 .npy text, checking the header before any allocation.

    The text is decoded a chunk at a time straight into the array: besides the text
    itself, the result's own bytes and one chunk are all the memory it takes.
    """
    if not isinstance(text, str) or len(text) % 4:
        raise BadResult("malformed result: an array is not base64 text")
    try:
        head = base64.b64decode(text[: min(len(text), 1 << 17)], validate=True)  # npy headers are < 64 kB
    except (binascii.Error, ValueError):
        raise BadResult("malformed result: not base64") from None
    stream = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as error:
        raise BadResult(f"malformed result: not .npy data ({error})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise BadResult(f"the result has dtype {dtype}, not numbers")
    if dtype.kind not in _NUMERIC_KINDS:
        raise BadResult(f"the result has dtype {dtype}, not numbers")
    offset = stream.tell()
    size = len(text) // 4 * 3 - len(text[-2:]) + len(text[-2:].rstrip("="))  # decoded bytes
    if any(n < 0 for n in shape) or math.prod(shape) * dtype.itemsize != size - offset:
        raise BadResult("malformed result: the .npy header does not match its data")
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    target = array.reshape(-1, order="A").view(np.uint8) if array.size else np.empty(0, np.uint8)
    written, skip = 0, offset  # bytes of the array filled; header bytes still to pass over
    for start in range(0, len(text), _DECODE_CHUNK):
        try:
            chunk = base64.b64decode(text[start : start + _DECODE_CHUNK], validate=True)
        except (binascii.Error, ValueError):
            raise BadResult("malformed result: not base64") from None
        data = memoryview(chunk)[min(skip, len(chunk)) :]
        skip = max(0, skip - len(chunk))
        target[written : written + len(data)] = np.frombuffer(data, np.uint8)
        written += len(data)
    return array


def _decode_values(node: Any, depth: int = 0) -> Any:
    if isinstance(node, list) and depth < _MAX_NESTING:
        return tuple(_decode_values(item, depth + 1) for item in node)
    return _decode_array(node)


def _size(node: Any, depth: int = 0) -> int:
    if isinstance(node, str):
        return len(node)
    if isinstance(node, list) and depth < _MAX_NESTING:
        return sum(_size(item, depth + 1) for item in node)
    raise BadResult("malformed result: values are not arrays")


def _short(text: Any, trusted_sources: list[str]) -> str:
    """A student-controlled message, truncated, not quoting the grader's sources line by line.

    Tidiness, not secrecy: the student's code holds those sources and can send them out
    encoded; everything sent into the kernel is visible to students (THREAT_MODEL.md).
    """
    text = str(text)
    for source in trusted_sources:
        for line in source.splitlines():
            if len(line.strip()) >= 16 and line.strip() in text:
                return "(message withheld: it quotes grader code)"
    if len(text) > _MAX_ERROR_CHARS:
        return text[: _MAX_ERROR_CHARS - 3] + "..."
    return text


class _Client(PromptReady, LimitedSockets, BlockingKernelClient):
    """A client that drops (rather than buffers) huge messages from the kernel."""

    max_message_bytes = _MAX_MESSAGE_BYTES
    wait_for_ready = run_sync(PromptReady._async_wait_for_ready)


class KernelProxy:
    """Calls functions defined in a running notebook kernel; results come back as arrays.

    `connection` is the kernel's connection file, or (better: the kernel can
    rewrite files in its workdir) the connection info the grader's manager holds.
    """

    def __init__(self, connection: str | Path | Mapping[str, Any], *, timeout: float = 60.0):
        self.timeout = timeout  # default seconds per call
        self.last_output = ""  # tail of what the last call printed (debugging only)
        self._dead: str | None = None  # why the kernel is unusable, once it is
        self._client = _Client()
        if isinstance(connection, Mapping):
            self._client.load_connection_info(dict(connection))
        else:
            self._client.load_connection_file(str(connection))
        self._client.start_channels()
        try:
            self._client.wait_for_ready(timeout=timeout)
        except RuntimeError as error:
            self._dead = f"the kernel does not answer ({error})"

    def __enter__(self) -> KernelProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect from the kernel (which keeps running)."""
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
            self._dead = self._dead or "the proxy was closed"

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return functools.partial(self.call, name)

    def defined(self, name: str) -> bool:
        """Is there a callable called `name` in the notebook's namespace?"""
        request = self._request("defined", name, args=(), kwargs={}, uses={})
        return bool(self._run(request, name, self.timeout, []))

    def call(
        self,
        name: str,
        *args: Any,
        uses: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """`name(*args, **kwargs)` in the kernel: an ndarray, or a tuple for tuple/list results.

        uses: {global name: trusted source defining it}, swapped into the
        notebook's namespace for this call only (a reference `energy` while
        grading `forces`).
        """
        uses = dict(uses or {})
        request = self._request("call", name, args, kwargs, uses)
        sources = list(uses.values()) + _kernel_sources((args, tuple(kwargs.values())))
        return self._run(request, name, self.timeout if timeout is None else timeout, sources)

    # ------------------------------------------------------------ internals

    def _until_idle(self, msg_id: str, deadline: float) -> bool:
        """Read iopub until the kernel goes idle after request `msg_id` (True) or `deadline` passes."""
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                msg = self._next_message(remaining)
            except queue.Empty:
                return False
            except BadResult:
                continue
            kind, content = reply_parts(msg, msg_id)
            if kind == "status" and content.get("execution_state") == "idle":
                return True
        return False

    @staticmethod
    def _request(mode: str, name: str, args: tuple, kwargs: Mapping, uses: Mapping) -> dict:
        if not name.isidentifier():
            raise ValueError(f"not a Python name: {name!r}")
        for used, source in uses.items():
            if not used.isidentifier() or not isinstance(source, str):
                raise TypeError("uses maps global names to source text")
        encoded_args = _encode_argument(tuple(args))
        encoded_kwargs = {key: _encode_argument(value) for key, value in kwargs.items()}
        return {
            "mode": mode,
            "name": name,
            "args": encoded_args,
            "kwargs": encoded_kwargs,
            "signature": json.dumps([_signature(tuple(args)), {k: _signature(v) for k, v in sorted(kwargs.items())}]),
            "uses": dict(uses),
            "mime": RESULT_MIME,
            "limit": MAX_RESULT_BYTES,
        }

    def _run(self, request: dict, name: str, timeout: float, sources: list[str]) -> Any:
        if self._dead:
            raise KernelDied(self._dead)
        client = self._client
        msg_id = client.execute(
            _kernel_code(request), silent=False, store_history=False,
            allow_stdin=False, stop_on_error=False,
        )  # fmt: skip
        self.last_output = ""
        results, error = [], None
        deadline = time.monotonic() + timeout
        misses = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._interrupt(msg_id, name, timeout)
            try:
                msg = self._next_message(min(remaining, 1.0))
            except queue.Empty:
                misses = 0 if client.hb_channel.is_beating() else misses + 1
                if misses >= _HEARTBEAT_MISSES:
                    self._dead = "the kernel died"
                    raise KernelDied(f"the kernel died while running `{name}`") from None
                continue
            kind, content = reply_parts(msg, msg_id)
            if kind == "status" and content.get("execution_state") == "idle":
                break
            data = content.get("data")
            if kind in ("display_data", "execute_result") and isinstance(data, dict) and RESULT_MIME in data:
                results.append(data[RESULT_MIME])
            elif kind == "error":
                error = f"{content.get('ename')}: {content.get('evalue')}"
            else:
                self._keep_output(content)
        self._drain_shell()
        if len(results) > 1:
            raise BadResult(f"`{name}`: the kernel sent more than one result")
        if not results:
            if error is not None:
                raise StudentError(_short(error, sources))
            raise BadResult(f"`{name}`: the kernel sent no result (were display or numpy replaced?)")
        return self._decode(results[0], name, sources)

    def _decode(self, result: Any, name: str, sources: list[str]) -> Any:
        if not isinstance(result, dict) or not isinstance(result.get("ok"), bool):
            raise BadResult(f"`{name}`: malformed result")
        if not result["ok"]:
            message = _short(result.get("error"), sources)
            raise (BadResult if result.get("bad") else StudentError)(message)
        values = result.get("values")
        if not isinstance(values, list) or not isinstance(result.get("tuple"), bool):
            raise BadResult(f"`{name}`: malformed result")
        if _size(values) > MAX_RESULT_BYTES * 4 // 3 + 1024:
            raise BadResult(f"`{name}` returned more than {MAX_RESULT_BYTES >> 20} MB")
        if result["tuple"]:
            return _decode_values(values)
        if len(values) != 1:
            raise BadResult(f"`{name}`: malformed result")
        return _decode_array(values[0])

    def _next_message(self, timeout: float) -> dict:
        """The next iopub message; raises queue.Empty, or BadResult if it cannot be parsed."""
        try:
            return self._client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            raise
        except Exception as error:  # the kernel signs its messages, so it can send junk
            raise BadResult(f"the kernel sent a malformed message ({type(error).__name__})") from None

    def _keep_output(self, content: dict) -> None:
        text = content.get("text")
        if text is None and isinstance(content.get("data"), dict):
            text = content["data"].get("text/plain")
        if isinstance(text, str):
            self.last_output = (self.last_output + text)[-_KEEP_OUTPUT_CHARS:]

    def _drain_shell(self) -> None:
        while True:
            try:
                self._client.get_shell_msg(timeout=0)
            except queue.Empty:
                return

    def _interrupt(self, msg_id: str, name: str, timeout: float) -> None:
        """Interrupt the running call; raise CallTimeout (and mark the kernel dead if stuck)."""
        client = self._client
        client.control_channel.send(client.session.msg("interrupt_request", {}))
        if self._until_idle(msg_id, time.monotonic() + _INTERRUPT_GRACE_SECONDS):
            self._drain_shell()
            raise CallTimeout(f"`{name}` did not return within {timeout:g} s")
        self._dead = f"the kernel did not recover after `{name}` was interrupted"
        raise CallTimeout(f"`{name}` did not return within {timeout:g} s, and did not stop")


def _kernel_sources(value: Any) -> list[str]:
    """The KernelCode sources inside (nested) arguments."""
    if isinstance(value, KernelCode):
        return [value.source]
    if isinstance(value, (tuple, list)):
        return [source for item in value for source in _kernel_sources(item)]
    return []
