"""The grader's memory under attack: the hostile suite's batch against a batch of good submissions.

    python benchmarks/hostile_memory.py [--jobs 2]

Builds the course of `tests/test_hostile.py` (the toy assignment; every hostile submission
there: memory hogs, fork bombs, 50 MB of printing, forged results, huge files, links, broken
notebooks, ... and two good ones) and grades it with `ml4p autograde --jobs N`, sampling the
resident memory of the grader: this process, its worker processes and the hidden checks'
processes, not the sandboxed kernels (their memory is the submission's, capped by the sandbox).
For comparison, the same course's two good submissions alone, graded the same way first.
Target: the hostile batch's peak at most `TARGET_RATIO` times the good batch's.
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import common  # noqa: E402
from common import MemoryWatch  # noqa: E402

from ml4p.grading.autograde import autograde  # noqa: E402

TARGET_RATIO = 1.5  # the hostile batch's peak / the good batch's peak, at most


def measure(jobs: int = 2, only: list[str] | None = None) -> dict:
    """``only``: the hostile submissions to grade (default: all of them), with the good ones."""
    import test_hostile as hostile

    server = socket.create_server(("127.0.0.1", 0))  # the network attack's target; nobody answers
    try:
        with tempfile.TemporaryDirectory(prefix="ml4p-bench-") as tmp:
            built = hostile.hostile_course(Path(tmp), server.getsockname()[1])
            course, a = built["course"], hostile.A
            submitted, aside = course / "submitted", Path(tmp) / "aside"
            aside.mkdir()
            unknown = set(only or ()) - set(built["students"])
            if unknown:
                raise SystemExit(f"no hostile submission named {', '.join(sorted(unknown))}")

            def move_aside(keep):  # renamed, not copied: links stay links
                moved = [p for p in submitted.iterdir() if p.name not in keep]
                for p in moved:
                    p.rename(aside / p.name)
                return moved

            if only:
                move_aside({*hostile.GOOD, *only})
            others = move_aside(set(hostile.GOOD))  # the good submissions alone first
            with MemoryWatch() as good:
                autograde(a, course=course, jobs=jobs, progress=False)
            for p in others:
                (aside / p.name).rename(submitted / p.name)
            start = time.monotonic()
            with MemoryWatch() as attacked:
                done = autograde(a, course=course, jobs=jobs, force=True, progress=False)
            seconds = time.monotonic() - start
            built["canary"].unlink(missing_ok=True)
    finally:
        server.close()
    return {"submissions": len(done), "jobs": jobs, "seconds": seconds, "good_before": good.before_mb,
            "good_peak": good.peak_mb, "peak": attacked.peak_mb, "own_peak": attacked.own_peak_mb,
            "samples": attacked.samples, "ratio": attacked.peak_mb / good.peak_mb,
            "graded": sum(d.ok for d in done)}


def verdict(m: dict) -> str:
    return common.verdict(m["ratio"] <= TARGET_RATIO, f"by {m['ratio'] / TARGET_RATIO:.2f}×")


def table(m: dict) -> str:
    return "\n".join([
        "| batch | submissions | grader's peak resident memory (MB) | seconds |",
        "| --- | ---: | ---: | ---: |",
        f"| the two good submissions, --jobs {m['jobs']} | 2 | {m['good_peak']:.0f} (before: {m['good_before']:.0f}) | |",
        f"| the hostile suite, --jobs {m['jobs']} | {m['submissions']} | {m['peak']:.0f} "
        f"(this process's own peak since it started, VmHWM: {m['own_peak']:.0f}) | {m['seconds']:.0f} |",
        f"| hostile / good | | {m['ratio']:.2f} (target ≤ {TARGET_RATIO:g}: {verdict(m)}) | |",
    ])


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", action="append", help="grade only this hostile submission (repeatable)")
    args = parser.parse_args(argv)
    out = table(measure(args.jobs, args.only))
    print(out)
    return out


if __name__ == "__main__":
    main()
