"""What the benchmarks share."""
from __future__ import annotations

import os
import threading

import psutil

#: Command-line words of the processes that run a submission (ml4p's sandbox: bubblewrap, the
#: limits launcher, the kernel). Their memory is the submission's, bounded by the sandbox's limits
#: (``Limits.memory_mb``, the cgroup); everything else below the grader is the grader's own.
SANDBOX_WORDS = ("bwrap", "_limits.py", "_kernel.py", "ipykernel_launcher", "ipykernel")


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads, user + system."""
    t = os.times()
    return t.user + t.system


def verdict(ok: bool, missed: str) -> str:
    """A target's verdict for the tables: met, or missed and by how much (``missed``)."""
    return "met" if ok else f"**missed** ({missed})"


def _is_sandbox(process: psutil.Process) -> bool:
    try:
        words = " ".join([process.name(), *process.cmdline()])
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return any(w in words for w in SANDBOX_WORDS)


def grader_rss_mb(root: psutil.Process | None = None) -> float:
    """Resident memory (MB) of this process and of its descendants that are the grader's own: the
    worker processes of ``--jobs``, the hidden checks' pytest processes, nbgrader's; not the
    sandboxed kernels and what runs below them."""
    root = root or psutil.Process()
    total, stack = 0, [root]
    while stack:
        p = stack.pop()
        try:
            total += p.memory_info().rss
            stack += [c for c in p.children() if not _is_sandbox(c)]
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return total / 2**20


class MemoryWatch:
    """The grader's peak resident memory while the ``with`` block runs, sampled every ``interval``
    seconds on a thread (``grader_rss_mb``), and this process's own high-water mark (``VmHWM``,
    exact, never missed between samples)."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak_mb, self.samples = interval, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, grader_rss_mb())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> MemoryWatch:
        self.before_mb = grader_rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, grader_rss_mb())
        self.own_peak_mb = own_peak_mb()


def own_peak_mb() -> float:
    """This process's peak resident memory so far (Linux ``VmHWM``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
