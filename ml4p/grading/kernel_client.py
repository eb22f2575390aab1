"""What every grader-side client of a sandboxed kernel adds to jupyter_client's.

Two clients talk to an untrusted kernel: the notebook client that executes the cells
(``capped_client.CappedKernelClient``, in the TA's grader) and the hidden checks' proxy
(``proxy._Client``, in the checks process). Both get their sockets bounded
(``LimitedSockets``) and a readiness test that waits for the kernel's own answer rather
than for silence (``PromptReady``); both read replies through ``reply_parts``, which takes
whatever the kernel sent without trusting its shape.
"""
from __future__ import annotations

import queue
import time
from typing import Any

import zmq
from jupyter_client import KernelManager
from jupyter_core.utils import ensure_async

QUEUED_MESSAGES = 2  # per socket, in the grader: more wait in the kernel's own memory


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

    max_message_bytes: int  # each client sets it: the largest message it has a use for
    queued_messages = QUEUED_MESSAGES

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
        got, content = reply_parts(msg, msg_id)
        if got == kind and (state is None or content.get("execution_state") == state):
            return msg
    return None


def reply_parts(msg: Any, msg_id: str) -> tuple[str | None, dict]:
    """(type, content) of a message replying to `msg_id`; (None, {}) for any other or junk."""
    parent = msg.get("parent_header") if isinstance(msg, dict) else None
    content = msg.get("content") if isinstance(msg, dict) else None
    if not isinstance(parent, dict) or parent.get("msg_id") != msg_id or not isinstance(content, dict):
        return None, {}
    return msg.get("msg_type"), content
