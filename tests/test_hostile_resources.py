"""Under attack, the host's resources: the grader's memory, and the CPU share of a submission's neighbours.

Each memory test grades one toy submission in a fresh grader process (so that its peak
memory is its own) and measures the grader's peak (ru_maxrss) and the checks process's
peak (VmHWM, sampled while it runs). The CPU test grades a good submission alone, then
next to one that starts 48 busy processes, and compares.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from toy import A, write_materials

from ml4p.grading import cgroups, sandbox
from ml4p.grading.proxy import MAX_RESULT_BYTES

needs_bwrap = pytest.mark.skipif(not sandbox.isolation_available(), reason="bubblewrap unavailable")
MB = 1 << 20

#: A check that leaves the kernel alone for a while between two calls: the time a flood has to queue.
SLOW_CHECKS = '''
import time
import numpy as np
import pytest

from ml4p.grading.numerics import assert_close


@pytest.mark.points(2)
def test_array(student, rng):
    """double doubles every element of an array, twice, seconds apart"""
    x = rng.normal(size=(4, 3))
    assert_close(student.call("double", x), 2 * x, what="double(x)")
    time.sleep(4)
    assert_close(student.call("double", x), 2 * x, what="double(x)")
'''

GRADE = """
import json, resource, sys, threading, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from nbformat.v4 import new_code_cell
from toy import A, source_notebook
from ml4p.grading import checks as checks_module
from ml4p.grading.execute import grade_notebook
from ml4p.grading.sandbox import Limits

peaks = []
run = checks_module.ChecksProcess.run

def watched(self, *args, **kwargs):  # sample the checks process's peak resident memory while it runs
    done = threading.Event()
    def sample():
        path = Path(f"/proc/{{self._proc.pid}}/status")
        while not done.is_set():
            try:
                peaks.append(int(next(l for l in path.read_text().splitlines() if l.startswith("VmHWM")).split()[1]))
            except (OSError, StopIteration):
                pass
            time.sleep(0.02)
    thread = threading.Thread(target=sample)
    thread.start()
    try:
        return run(self, *args, **kwargs)
    finally:
        done.set()
        thread.join()

checks_module.ChecksProcess.run = watched
root, out = Path({root!r}), Path({root!r}) / "sub"
out.mkdir()
nb = source_notebook([new_code_cell(source) for source in {cells!r}])
if {double!r}:
    nb.cells[2].source = {double!r}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome = grade_notebook(nb, assignment=A, source_dir=out, checks_dir=root / "autograder", solutions_dir=None,
                         limits=Limits(memory_mb=3072, processes=64, cpu_seconds=120, threads=1), timeout=10)
print(json.dumps({{"grader_before_mb": before // 1024,
                  "grader_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "checks_peak_mb": max(peaks, default=0) // 1024,
                  "score": outcome.reports["double"].score, "report": outcome.reports["double"].text()}}))
"""


def grade(tmp_path: Path, *, cells=(), double: str = "", checks: str = "") -> dict:
    """Grade the toy with extra ``cells`` (and another ``double``) in a fresh grader process."""
    write_materials(tmp_path)
    if checks:
        (tmp_path / "autograder" / A / "test_double.py").write_text(checks)
    code = GRADE.format(tests=str(Path(__file__).parent), root=str(tmp_path), cells=list(cells), double=double)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


FLOOD = """
import threading
def flood():
    line = "z" * 1_000_000
    while True:
        print(line, flush=True)
threading.Thread(target=flood, daemon=True).start()
"""


@needs_bwrap
def test_flooding_iopub_during_the_checks(tmp_path):
    """Does a kernel thread that prints 1 MB lines without end, while the notebook runs and while the
    checks leave the kernel alone between calls, leave the grader's and the checks' memory bounded
    (nobody reads the notebook's connection then; every socket queues two messages at most), the
    submission ending graded, with its reason, within its time limits? (The flood drowns its own
    results: what it costs is the flooder's points.)"""
    import time

    start = time.monotonic()
    got = grade(tmp_path, cells=[FLOOD], checks=SLOW_CHECKS)
    print({k: v for k, v in got.items() if k != "report"}, got["report"])
    assert got["grader_peak_mb"] - got["grader_before_mb"] < 150, got
    assert got["checks_peak_mb"] < 400, got
    assert got["report"].startswith("Hidden checks for `double`: ") and got["score"] in (0, 2), got["report"]
    assert got["score"] == 2 or "did not return within" in got["report"] or "no result" in got["report"], got
    assert time.monotonic() - start < 90


@needs_bwrap
def test_huge_result(tmp_path):
    """Does a result just under the size cap peak the checks process at a small multiple of its size
    (decoded chunk by chunk into its array), and is one over the cap refused without being sent?"""
    near = (MAX_RESULT_BYTES - MB) // 8
    got = grade(tmp_path, double=f"import numpy as np\ndef double(x):\n    return np.ones({near})\n")
    print(got)
    assert "has shape" in got["report"] and got["score"] == 0, got["report"]  # decoded, then judged
    result_mb = near * 8 // MB
    # ~100 MB of pytest and numpy, + the message as zmq, UTF-8 and JSON text (3 x 4/3) and the array: ~5x
    assert got["checks_peak_mb"] < 150 + 5 * result_mb, got
    over = grade(tmp_path / "over", double=f"import numpy as np\ndef double(x):\n    return np.ones({2 * near})\n")
    assert f"returned more than {MAX_RESULT_BYTES >> 20} MB" in over["report"], over["report"]
    assert over["checks_peak_mb"] < 150, over


# ------------------------------------------------------------------ a CPU-hungry neighbour

HOG = """
import multiprocessing, os
def burn():
    os.setsid()  # a session of its own: the scheduler's autogroups then give each burner a full share
    while True:
        pass
burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(48)]
for p in burners:
    p.start()
print(len(burners), "busy processes")
"""


@needs_bwrap
@pytest.mark.skipif(bool(cgroups.unavailable_reason()), reason=f"no cgroups: {cgroups.unavailable_reason()}")
def test_cpu_hungry_neighbour(tmp_path):
    """Graded with `--jobs 2` next to a submission whose 48 processes burn every core they are given
    (within the process limit), does a good submission take about as long as next to another good one
    (each sandbox its cgroup's share of the cores)?"""
    import copy

    from nbformat.v4 import new_code_cell

    from ml4p.course import create_course
    from ml4p.grading.autograde import autograde
    from ml4p.grading.submissions import known_submissions, submit
    from ml4p.release import release

    course = create_course(tmp_path / "course", materials=write_materials(tmp_path / "materials"), assignments=[A])
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("c.SandboxedExecute.timeout = 10\nc.SandboxedExecute.processes = 96\n")
    release(A, course=course)
    reference = known_submissions(course, A)["reference"][0]
    hog = copy.deepcopy(reference)
    hog.cells[3:3] = [new_code_cell(HOG)] + [new_code_cell("import time\ntime.sleep(7)")] * 2
    submit(course, "good", A, reference)
    submit(course, "other", A, reference)
    fair = {g.student: g for g in autograde(A, course=course, jobs=2, progress=False)}
    shutil.rmtree(course / "submitted" / "other")
    submit(course, "hog", A, hog)
    hogged = {g.student: g for g in autograde(A, course=course, jobs=2, force=True, progress=False)}
    assert fair["good"].ok and hogged["good"].ok and hogged["hog"].ok
    ratio = hogged["good"].seconds / fair["good"].seconds
    print(f"good next to a good one {fair['good'].seconds:.1f} s, next to the hog {hogged['good'].seconds:.1f} s: "
          f"{ratio:.2f}x")
    assert ratio < 1.6, (fair["good"].seconds, hogged["good"].seconds)
    assert hogged["hog"].seconds > 14  # the hog did run its slow cells meanwhile
