"""Call a notebook's functions from the trusted grader process, data only.

    proxy = KernelProxy(connection_file, timeout=60)
    forces = proxy.forces(x)                              # x: numpy array
    forces = proxy.call("forces", x, uses={"energy": REFERENCE_ENERGY_SOURCE})

Arguments go into the kernel as `.npy` bytes (or as trusted source text,
`KernelCode`); results come back as `.npy` bytes in a display message with a
private mimetype and are decoded with `np.load(..., allow_pickle=False)` after
the header has been checked against the data size. Nothing the kernel sends is
unpickled or executed; anything unexpected is a `BadResult`.

The kernel-side code travels as source with every call and runs in a fresh
namespace: it relies on nothing the notebook defined, and leaves nothing in the
notebook's namespace. The one thing it keeps between calls, out of the way of
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
import zmq
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_core.utils import ensure_async, run_sync

RESULT_MIME = "application/vnd.ml4p.result+json"
MAX_RESULT_BYTES = 64 << 20  # total .npy bytes of one result (the checks' largest need a few MB)
_MAX_MESSAGE_BYTES = MAX_RESULT_BYTES * 4 // 3 + (16 << 20)  # base64 + JSON; larger: dropped
_QUEUED_MESSAGES = 2  # per socket, in the grader: more wait in the kernel's own memory
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

# Runs in the kernel, in a fresh namespace holding only _REQUEST (JSON text).
_KERNEL_SOURCE = r'''
def _ml4p_call(request_json):
    import base64, io, json, signal
    import numpy as np
    from IPython import get_ipython
    from IPython.display import display

    request = json.loads(request_json)
    missing = object()
    modules = {}

    def publish(result):
        display({request["mime"]: result}, raw=True)

    def tf():
        if "tf" not in modules:
            import tensorflow
            modules["tf"] = tensorflow
        return modules["tf"]

    def message(error):
        try:
            return f"{type(error).__name__}: {error}"[:2000]
        except Exception:
            return type(error).__name__

    def decode(node):
        kind = node["k"]
        if kind == "npy":
            value = np.load(io.BytesIO(base64.b64decode(node["b"])), allow_pickle=False)
            return value[()] if node["scalar"] else value
        if kind == "py":
            return node["v"]
        if kind == "float":
            return float.fromhex(node["v"])
        if kind == "complex":
            return complex(float.fromhex(node["re"]), float.fromhex(node["im"]))
        if kind == "code":
            return trusted("code", node["src"],
                           lambda: eval(node["src"], {"tf": tf(), "np": np, "__name__": "ml4p_grader"}))
        items = [decode(item) for item in node["items"]]
        return tuple(items) if kind == "tuple" else items

    class Unusable(Exception):
        pass

    def encode(value, size):
        if isinstance(value, (tuple, list)):
            return [encode(item, size) for item in value]
        if value is None:
            raise Unusable("returned None (is a `return` missing?)")
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if array.dtype.hasobject or array.dtype.kind not in "biufc":
            what = (f"an array of dtype {array.dtype}" if isinstance(value, np.ndarray)
                    else f"a value of type {type(value).__name__}")
            raise Unusable(f"returned {what}, not numbers")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        size.append(buffer.tell())
        if sum(size) > request["limit"]:
            raise Unusable(f"returned more than {request['limit'] >> 20} MB")
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    shell = get_ipython()
    namespace = shell.user_ns
    name = request["name"]
    made = getattr(shell, "_ml4p_trusted_objects", None)  # (kind, source, signature) -> object
    if type(made) is not dict:
        made = {}
        try:
            shell._ml4p_trusted_objects = made
        except Exception:
            pass

    def trusted(kind, source, make):
        """The object made from trusted `source` for calls with this request's argument types."""
        key = (kind, source, request["signature"])
        if key not in made:
            made[key] = make()
        return made[key]

    def run_source(source):
        scope = {"tf": tf(), "np": np, "__name__": "ml4p_grader"}
        exec(source, scope)
        return scope

    if request["mode"] == "defined":
        return publish({"ok": True, "values": [encode(callable(namespace.get(name)), [])],
                        "tuple": False})
    saved = {}
    try:
        for used, source in request["uses"].items():
            try:
                replacement = trusted("uses", source, lambda: run_source(source))[used]
            except Exception as error:
                return publish({"ok": False, "bad": True,
                                "error": f"grader code for `{used}` failed: {message(error)}"})
            saved[used] = namespace.get(used, missing)
            namespace[used] = replacement
        function = namespace.get(name, missing)
        if function is missing:
            return publish({"ok": False, "error": f"`{name}` is not defined — did you run its cell?"})
        if not callable(function):
            return publish({"ok": False,
                            "error": f"`{name}` is a {type(function).__name__}, not a function"})
        if saved and hasattr(function, "python_function"):
            # a trace of its own: the notebook's captured the student's globals
            python_function = function.python_function
            key = ("wrap", json.dumps([name, request["uses"]], sort_keys=True), request["signature"])
            wrapped = made.get(key)
            if not (type(wrapped) is tuple and len(wrapped) == 2 and wrapped[0] is python_function):
                wrapped = made[key] = (python_function, tf().function(
                    python_function, input_signature=getattr(function, "input_signature", None)))
            function = wrapped[1]
        args = decode(request["args"])
        kwargs = {key: decode(node) for key, node in request["kwargs"].items()}
        try:
            value = function(*args, **kwargs)
        except (Exception, SystemExit) as error:
            return publish({"ok": False, "error": message(error)})
        try:
            is_tuple = isinstance(value, (tuple, list))
            values = encode(value, []) if is_tuple else [encode(value, [])]
        except Unusable as error:
            return publish({"ok": False, "bad": True, "error": f"`{name}` {error}"})
        except Exception as error:
            return publish({"ok": False, "bad": True,
                            "error": f"`{name}` returned something unusable: {message(error)}"})
        return publish({"ok": True, "values": values, "tuple": is_tuple})
    finally:
        if saved:  # restore the student's globals, even if interrupted meanwhile
            pending = []
            previous = signal.signal(signal.SIGINT, lambda *_: pending.append(1))
            try:
                for used, old in saved.items():
                    if old is missing:
                        namespace.pop(used, None)
                    else:
                        namespace[used] = old
            finally:
                signal.signal(signal.SIGINT, previous)
            if pending:
                raise KeyboardInterrupt

_ml4p_call(_REQUEST)
'''


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


class LimitedSockets:
    """Kernel-client mixin: the grader's memory stays bounded whatever the kernel sends.

    Anything in the kernel can send messages of any size, as fast as it likes, on any
    channel, including while nobody reads them. Every socket of the client (heartbeat
    too) drops the connection over a message above `max_message_bytes` rather than
    buffer it, and queues at most `queued_messages` messages: zmq then stops reading, so
    the rest wait in the kernel's process (its own memory limit), and beyond the kernel's
    high-water mark its PUB socket drops them. At most (queued + 1) x the largest message
    per socket, then, rather than one `print` of a gigabyte becoming several in the grader.
    """

    max_message_bytes = _MAX_MESSAGE_BYTES
    queued_messages = _QUEUED_MESSAGES

    def start_channels(self, *args, **kwargs):
        # defaults for every socket this client's own context makes from now on (before connect)
        self.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        self.context.setsockopt(zmq.RCVHWM, self.queued_messages)
        return super().start_channels(*args, **kwargs)


class PromptReady:
    """Kernel-client mixin: ready once the kernel answers a ``kernel_info_request`` on shell
    and goes idle after it on iopub.

    jupyter_client's ``wait_for_ready`` ends with a fifth of a second of silence on iopub
    (and a client without a kernel manager first polls the heartbeat every 0.2 s); here
    the iopub message saying the kernel went idle after *this* request shows that the
    subscription is live (older messages are told apart by their parent). A subclass binds
    ``wait_for_ready`` to ``_async_wait_for_ready``, through ``run_sync`` if it blocks.
    """

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = await _first(self.shell_channel, msg_id, "kernel_info_reply", deadline)
            if reply is not None:
                self._handle_kernel_info_reply(reply)
                if await _first(self.iopub_channel, msg_id, "status", deadline, state="idle"):
                    return
            if isinstance(self.parent, KernelManager) and not await self._async_is_alive():
                raise RuntimeError("the kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer within {timeout:g} s")


async def _first(channel, msg_id: str, kind: str, deadline: float, state: str | None = None):
    """The first message of ``kind`` replying to ``msg_id`` within a second (and the deadline)."""
    until = min(deadline, time.monotonic() + 1.0)
    while (remaining := until - time.monotonic()) > 0:
        try:
            msg = await ensure_async(channel.get_msg(timeout=remaining))
        except queue.Empty:
            return None
        except Exception:  # noqa: BLE001 - the kernel signs its messages, so it can send junk
            continue
        got, content = _parts(msg, msg_id)
        if got == kind and (state is None or content.get("execution_state") == state):
            return msg
    return None


class _Client(PromptReady, LimitedSockets, BlockingKernelClient):
    """A client that drops (rather than buffers) huge messages from the kernel."""

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
            kind, content = _parts(msg, msg_id)
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
            kind, content = _parts(msg, msg_id)
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


def _parts(msg: Any, msg_id: str) -> tuple[str | None, dict]:
    """(type, content) of a message replying to `msg_id`; (None, {}) for any other or junk."""
    parent = msg.get("parent_header") if isinstance(msg, dict) else None
    content = msg.get("content") if isinstance(msg, dict) else None
    if not isinstance(parent, dict) or parent.get("msg_id") != msg_id or not isinstance(content, dict):
        return None, {}
    return msg.get("msg_type"), content


def _kernel_sources(value: Any) -> list[str]:
    """The KernelCode sources inside (nested) arguments."""
    if isinstance(value, KernelCode):
        return [value.source]
    if isinstance(value, (tuple, list)):
        return [source for item in value for source in _kernel_sources(item)]
    return []
