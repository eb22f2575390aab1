"""An nbclient that caps a notebook's output, for untrusted kernels.

``CappedNotebookClient`` keeps at most ``output_limit`` bytes of output per
notebook, strips ml4p's private mimetypes from what the student's code displays,
notes whether a timed-out cell stopped, and records the error a cell's execute reply
reports when no error output said so. Its kernel connection,
``CappedKernelClient``, drops messages far beyond the output limit unread, and
its iopub channel (``_HealingChannel``) reconnects when libzmq has closed the
connection over such a message.
"""
from __future__ import annotations

import queue
import time

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from nbclient import NotebookClient
from nbformat.v4 import new_output
from zmq.utils.monitor import recv_monitor_message

from ml4p.grading.kernel_client import LimitedSockets, PromptReady

_HEAL_SECONDS = 0.2  # how often the notebook client checks that its iopub connection is still there
PRIVATE_MIME = "application/vnd.ml4p."  # ml4p's own mimetypes: only the grader writes them into a notebook
_OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "error", "update_display_data"}


class _HealingChannel(AsyncZMQSocketChannel):
    """An iopub channel that reconnects when its socket drops an oversized message.

    libzmq closes a connection whose peer exceeds MAXMSGSIZE and never reconnects it by
    itself: the notebook would hear nothing more from its kernel. A socket monitor tells.
    """

    def __init__(self, socket, session, loop=None, *, url: str):
        super().__init__(socket, session, loop)
        self.url = url
        self.drops = 0  # connections lost (each dropped at least one message)
        address = f"inproc://ml4p-iopub-monitor-{id(self)}"
        socket.monitor(address, zmq.EVENT_DISCONNECTED)
        self._monitor = zmq.Context.shadow(socket.context.underlying).socket(zmq.PAIR)
        self._monitor.connect(address)

    async def get_msg(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._heal()
            wait = _HEAL_SECONDS if deadline is None else min(_HEAL_SECONDS, max(0.0, deadline - time.monotonic()))
            try:
                return await super().get_msg(timeout=wait)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def _heal(self) -> None:
        lost = 0
        while self._monitor.poll(0):
            lost += recv_monitor_message(self._monitor)["event"] == zmq.EVENT_DISCONNECTED
        if lost:
            self.drops += lost
            self.socket.disconnect(self.url)
            self.socket.connect(self.url)

    def close(self) -> None:
        if not self._monitor.closed:
            try:
                self.socket.disable_monitor()
            except zmq.ZMQError:
                pass
            self._monitor.close(linger=0)
        super().close()

    stop = close  # what stop_channels calls


class CappedKernelClient(PromptReady, LimitedSockets, AsyncKernelClient):
    """The notebook client's connection: messages far beyond the output limit are dropped unread.

    Its ``max_message_bytes`` follows from the notebook's output limit: ``execute.grade_notebook``
    sets it on a subclass per notebook.
    """

    @property
    def iopub_channel(self):
        if self._iopub_channel is None:
            self._iopub_channel = _HealingChannel(self.connect_iopub(), self.session, self.ioloop,
                                                  url=self._make_url("iopub"))
        return self._iopub_channel

    wait_for_ready = PromptReady._async_wait_for_ready


class CappedNotebookClient(NotebookClient):
    """An nbclient that keeps at most ``output_limit`` bytes of output per notebook, drops
    ml4p's private mimetypes from student output, notes whether a timed-out cell stopped, and
    takes a cell's errors from its execute reply as well as from its outputs.

    The error output a cell shows comes from the kernel's ``InteractiveShell.showtraceback``,
    which the student's code can replace (to show nothing): its failing test cells would then
    look passed to nbgrader, which grades a test cell by its error outputs. The execute reply's
    status says the truth, and nbgrader's own ``Execute`` adds its error when no output has it
    (nbgrader PR #1324); so does this client.
    """

    def __init__(self, *args, output_limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_cell_executed = self._record_reply_error
        self.output_limit = output_limit
        self.output_bytes = 0
        self.timed_out = False  # the current cell hit the timeout and was interrupted
        self.went_idle = False  # the kernel said it finished the current cell

    def process_message(self, msg, cell, cell_index):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and content.get("execution_state") == "idle":
            self.went_idle = True
        if kind in _OUTPUT_MESSAGES:
            self.output_bytes += _size(content)
            if self.output_bytes > self.output_limit:
                if not getattr(self, "_capped", False):
                    self._capped = True
                    cell.outputs.append(new_output("stream", name="stdout", text=(
                        f"\n[ml4p: output beyond {self.output_limit // 1000} kB was discarded]\n")))
                return None
            if isinstance(content.get("data"), dict):
                content["data"] = {k: v for k, v in content["data"].items() if not k.startswith(PRIVATE_MIME)}
        return super().process_message(msg, cell, cell_index)

    def _record_reply_error(self, cell, cell_index, execute_reply) -> None:
        """An error the execute reply reports but no output of the cell shows becomes an error output."""
        content = (execute_reply or {}).get("content") or {}
        if content.get("status") != "error":
            return
        ename = _text(content.get("ename"), 200) or "Error"
        if any(o.get("output_type") == "error" and o.get("ename") == ename for o in cell.outputs):
            return
        evalue = _text(content.get("evalue"), 2000)
        trace = content.get("traceback")
        trace = [_text(line, 2000) for line in trace[:50]] if isinstance(trace, list) else []
        if not trace:
            trace = [f"{ename}: {evalue}", "[ml4p: the kernel reported this error but displayed no traceback "
                     "(showtraceback was replaced or disabled)]"]
        cell.outputs.append(new_output("error", ename=ename, evalue=evalue, traceback=trace))

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out = True
        return await super()._async_handle_timeout(timeout, cell)


def _text(value, limit: int) -> str:
    """A string from the kernel's reply, whatever it sent, cut to ``limit`` characters."""
    if value is None:
        return ""
    return (value if isinstance(value, str) else repr(value))[:limit]


def _size(node, depth: int = 0) -> int:
    """Characters of text in a message's content, without copying it."""
    if isinstance(node, str):
        return len(node)
    if depth > 8:
        return 0
    if isinstance(node, dict):
        return sum(_size(v, depth + 1) for v in node.values())
    if isinstance(node, list):
        return sum(_size(v, depth + 1) for v in node)
    return 8


def drops(client: NotebookClient) -> int:
    """How often the client's iopub connection dropped an oversized message so far."""
    return getattr(getattr(client.kc, "_iopub_channel", None), "drops", 0)
