"""What the benchmarks share."""
from __future__ import annotations

import os


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads, user + system."""
    t = os.times()
    return t.user + t.system
