"""Under attack: hostile and broken submissions of the toy assignment, graded as one class.

Every submission below is graded once, in one course, by ``autograde(..., jobs=2)``
(the module fixture ``graded``), next to good ones. Each test asks about one attack:
does it end as a correctly graded submission (0 for what it fakes, full marks for
what it does right) or as a clearly failed one with its reason, within its time
limit, while the good submissions of the same batch still get 2/2?

The course runs with small limits (see ``COURSE_LIMITS``) so that the whole
module takes a few minutes.
"""
from __future__ import annotations

import base64
import copy
import io
import json
import os
import shutil
import socket
import stat
import textwrap
import threading
import time
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from toy import A, write_materials

from ml4p.course import create_course
from ml4p.grading import sandbox
from ml4p.grading.autograde import autograde, grades
from ml4p.grading.cache import failure_file
from ml4p.grading.checks import CHECKS_MIME, part_reports, run_checks
from ml4p.grading.proxy import RESULT_MIME
from ml4p.grading.restore import NOTICE
from ml4p.grading.submissions import known_submissions, submit
from ml4p.release import release

needs_bwrap = pytest.mark.skipif(not sandbox.isolation_available(), reason="bubblewrap unavailable")

CELL_TIMEOUT = 5  # seconds a cell, or one call of `double` by a check, may run
NOTEBOOK_TIMEOUT = 16  # seconds all cells of a notebook may run (the slowest attack above takes ~11 s)
DISK_MB, TMP_MB = 96, 48  # sizes of the work folder and of /tmp and /dev/shm
COURSE_LIMITS = f"""
# Small limits for the hostile-submission tests.
c.SandboxedExecute.timeout = {CELL_TIMEOUT}
c.SandboxedExecute.checks_timeout = 60
c.SandboxedExecute.memory_mb = 1536  # the memory hog fills it within its cell timeout
c.SandboxedExecute.processes = 64
c.SandboxedExecute.cpu_seconds = 120
c.SandboxedExecute.notebook_timeout = {NOTEBOOK_TIMEOUT}
c.SandboxedExecute.disk_mb = {DISK_MB}
c.SandboxedExecute.tmp_mb = {TMP_MB}
"""
OUTPUT_LIMIT = 5_000_000  # SandboxedExecute's default: bytes of output kept per notebook
# How long one submission may take, start to recorded grade (~13 s measured for the slowest:
# a cell or call timeout, the interrupt grace, a kill or the second call), with room for a busy machine.
SUBMISSION_SECONDS = 45
BATCH_SECONDS = 300  # the whole class in two jobs (~90 s measured)
SECRET_NAME, SECRET_VALUE = "ML4P_HOSTILE_SECRET", "hunter2-" + uuid.uuid4().hex
GOOD = ("good-0", "good-1")

# ------------------------------------------------------------------ submissions


def solution(nb):
    """The index of the cell that defines ``double``."""
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "double_solution")


def hidden(nb):
    """The index of the hidden-check cell of ``double``."""
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "double")


def variant(base, *, double=None, cells=(), hidden_source=None, before_solution=False):
    """``base`` with ``double``'s cell replaced and extra ``cells`` before the hidden checks
    (or before ``double``'s cell)."""
    nb = copy.deepcopy(base)
    if double is not None:
        nb.cells[solution(nb)].source = double
    if hidden_source is not None:
        nb.cells[hidden(nb)].source = hidden_source
    at = solution(nb) if before_solution else hidden(nb)
    nb.cells[at:at] = [new_code_cell(source) for source in cells]
    return nb


def returning(expression: str, setup: str = "") -> str:
    return f"{setup}\ndef double(x):\n    return {expression}\n"


NETWORK = """
import socket
def attempt(action):
    try:
        action()
        return "REACHED"
    except Exception as error:
        return "blocked " + type(error).__name__
print("tcp", attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close()))
print("dns", attempt(lambda: socket.getaddrinfo("example.com", 443)))
print("dns-ip", attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=3).close()))
"""

SNOOP = """
import os
def read(path):
    try:
        if os.path.isdir(path):
            return "READ " + ",".join(os.listdir(path))
        with open(path, "rb") as f:
            return "READ " + repr(f.read(40))
    except Exception as error:
        return "blocked " + type(error).__name__
for path in {paths!r}:
    print(read(path))
own = {{os.getcwd().split("/")[2], os.path.basename(os.environ["HOME"])}}  # /tmp/ml4p-sandbox-*/work, its $HOME
data = os.environ.get("ML4P_HOSTILE_DATA", "")  # a bound data file: its parent folders exist, empty but for it
leaks = [p for p in os.listdir("/tmp") if p not in own and not data.startswith(f"/tmp/{{p}}/")]
print("host /tmp:", "READ " + ",".join(leaks) if leaks else "blocked (private)")
environ = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        environ.append(open(f"/proc/{{pid}}/environ", "rb").read())
    except OSError:
        pass
print("secret:", os.environ.get({secret!r}, "blocked"),
      "READ" if any({value!r}.encode() in e for e in environ) else "blocked (not in /proc)")
"""

WRITE = """
import os
def write(path):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("def test_nothing(): pass  # hacked")
        return "wrote " + path
    except Exception as error:
        return "blocked " + type(error).__name__
for path in {paths!r}:
    print(write(path))
"""

MONKEYPATCH_TESTING = """
# Everything the checks might use to compare, patched to say yes, then a wrong `double`.
import builtins, sys, types
import numpy as np
import ml4p.grading.numerics as numerics
np.testing.assert_allclose = np.testing.assert_array_equal = lambda *a, **k: None
np.allclose = np.array_equal = lambda *a, **k: True
np.isclose = lambda *a, **k: np.True_
np.all = np.any = lambda *a, **k: True
fake = types.ModuleType("pytest")
fake.approx = lambda expected, *a, **k: expected
sys.modules["pytest"] = fake
numerics.assert_close = numerics.assert_finite = lambda *a, **k: None
builtins.AssertionError = type("AssertionError", (Exception,), {})

def double(x):
    return x
"""

MONKEYPATCH_BUILTINS = """
# The grader's request runs through exec/compile/__import__: make them report success.
import builtins
builtins.exec = lambda *a, **k: print("all checks passed")
builtins.compile = lambda *a, **k: "pass"
"""

SHOWTRACEBACK = """
# nbgrader PR #1324: hide every error, so failing cells look like passing ones.
import IPython
IPython.core.interactiveshell.InteractiveShell.showtraceback = lambda *a, **k: None
IPython.core.interactiveshell.InteractiveShell._showtraceback = lambda *a, **k: None
get_ipython().showtraceback = lambda *a, **k: None
"""

FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

MEMORY_HOG = """
hog = None
try:
    hog = bytearray(50 * 2**30)  # 50 GB at once
except MemoryError:
    print("50 GB at once: MemoryError")
blocks = []
try:
    while True:  # then all it can get, touching every page
        blocks.append(bytearray(b"x" * 2**26))
except MemoryError:
    print(f"MemoryError after {len(blocks) * 64} MB")
del blocks
"""

IGNORES_INTERRUPTS = """
while True:
    try:
        while True:
            pass
    except KeyboardInterrupt:
        print("not stopping")
"""

IGNORES_SIGINT = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""

SEGFAULT = "import ctypes\nctypes.string_at(0)\n"

FORGE_PROXY = f"""
from IPython.display import display
def double(x):
    # claim success with the proxy's own mimetype, then swallow the proxy's real reply
    display({{"{RESULT_MIME}": {{"ok": True, "tuple": False, "values": ["Mg=="]}}}}, raw=True)
    print('{{"{RESULT_MIME}": {{"ok": true, "passed": "all"}}}}')
    get_ipython().display_pub.publish = lambda *a, **k: None
    return None
"""


def _npy(value) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value))
    return base64.b64encode(buffer.getvalue()).decode()


FORGE_SECOND_RESULT = f"""
from IPython.display import display
def double(x):
    # a well-formed result claiming 6.0, sent before the proxy sends the real one
    display({{"{RESULT_MIME}": {{"ok": True, "tuple": False, "values": ["{_npy(6.0)}"]}}}}, raw=True)
    return 2 * np.asarray(x)
"""

FORGE_CHECK_REPORT = f"""
# A hidden-check report in ml4p's own mimetype, claiming full marks, as display and as result.
from IPython.display import display
claim = {{"part": "double", "score": 2.0, "max_score": 2.0, "error": "", "checks": []}}
display({{"{CHECKS_MIME}": claim, "text/plain": "2"}}, raw=True)
class Claim:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {{"{CHECKS_MIME}": claim, "text/plain": "2"}}
Claim()
"""

USER_NS = """
# Replace what the grader's kernel-side code might look up in the notebook's namespace.
class Passed:
    def __call__(self, *args, **kwargs):
        return {"ok": True, "values": "all checks passed"}
ns = get_ipython().user_ns
ns.update(_REQUEST='{"mode": "defined", "name": "double"}', _ml4p_call=Passed(), json=None,
          display=Passed(), get_ipython=Passed(), base64=None, io=None)
double = Passed()
"""


SWAP_KERNEL_DIR = """
# The grader's connection folder: rename it (or its parent's entries), leave links where the grader looks.
import os
from ipykernel.kernelapp import IPKernelApp
connection = IPKernelApp.instance().connection_file
kernel_dir = os.path.dirname(connection)
root = os.path.dirname(kernel_dir)
canary = {canary!r}
def attempt(name, action):
    try:
        action()
        return name + " DONE"
    except Exception as error:
        return name + " blocked " + type(error).__name__
for name, action in [
    ("rename-folder", lambda: os.rename(kernel_dir, root + "/moved")),
    ("link-beside", lambda: os.symlink(os.path.dirname(canary), root + "/kernel2")),
    ("chmod-folder", lambda: os.chmod(kernel_dir, 0o777)),
    ("remove-connection", lambda: os.remove(connection)),
    ("link-socket", lambda: os.symlink(canary, kernel_dir + "/kernel-1")),
    ("write-connection", lambda: open(connection, "w").write("{{}}")),
]:
    print(attempt(name, action))
"""

FILL = """
# Fill every writable place until it refuses, in files under the per-file limit; then free it all.
import os
def fill(folder):
    written, files = 0, []
    try:
        while written < 4096:
            path = os.path.join(folder, f"fill-{len(files)}")
            files.append(path)
            with open(path, "wb") as f:
                for _ in range(16):
                    f.write(b"x" * 2**20)
                    written += 1
    except OSError as error:
        reason = type(error).__name__
    else:
        reason = "never refused"
    for path in files:
        if os.path.exists(path):
            os.remove(path)
    return f"{folder}: {written} MB, then {reason}"
for folder in [".", "/tmp", "/dev/shm", os.environ["HOME"]]:
    print(fill(folder))
"""

DATA_FOLDER = """
# The data file is readable; is anything beside it?
import os
data = os.environ["ML4P_HOSTILE_DATA"]
print("data", open(data).read())
print("beside", sorted(os.listdir(os.path.dirname(data))))
try:
    print("secret READ", open(os.path.join(os.path.dirname(data), "answers.txt")).read())
except OSError as error:
    print("secret blocked", type(error).__name__)
"""

SLOW_CELLS = ["import time\ntime.sleep(4)\nprint('slow cell done')"] * 6


def linked(kind: str, course: Path):
    """How to plant ``kind`` into a submitted folder: (folder, course) -> None, or the submission's path."""
    good = course / "submitted" / GOOD[0] / A
    def link(name, target):
        def plant(folder):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).symlink_to(target)
        return plant
    def special(make):
        def plant(folder):
            make(folder / "thing")
        return plant
    def bound_socket(path):
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    def big(folder):
        with open(folder / "big.bin", "wb") as f:
            f.truncate(300 << 20)  # sparse: 300 MB of size, no disk
    def many(folder):
        for i in range(10_001):
            (folder / f"f{i}").touch()
    return {
        "link-to-checks": link("x.py", course / "autograder" / A / "test_double.py"),
        "link-to-gradebook": link("gradebook", Path("../../../gradebook.db")),
        "link-to-other-student": link("theirs.ipynb", good / f"{A}.ipynb"),
        "link-to-shadow": link("shadow", Path("/etc/shadow")),
        "link-to-environ": link("environ", Path("/proc/self/environ")),
        "link-to-dev-zero": link("zero", Path("/dev/zero")),
        "link-dangling": link("nothing", Path("/nonexistent/ml4p")),
        "link-to-folder": link("course", Path("../../..")),
        "link-in-subfolder": link("data/deep/passwd", Path("/etc/passwd")),
        "link-notebook": "notebook",  # the submitted notebook itself a link to another student's
        "link-submission-folder": "folder",  # submitted/<student>/toy a link to another student's folder
        "fifo": special(os.mkfifo),
        "char-device": special(lambda path: os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))),
        "unix-socket": special(bound_socket),
        "too-large": big,
        "too-many-files": many,
    }[kind]


LINKED = ("link-to-checks", "link-to-gradebook", "link-to-other-student", "link-to-shadow", "link-to-environ",
          "link-to-dev-zero", "link-dangling", "link-to-folder", "link-in-subfolder", "link-notebook",
          "link-submission-folder", "fifo", *(["char-device"] if os.geteuid() == 0 else []), "unix-socket",
          "too-large", "too-many-files")


def hostile_submissions(reference, blank, course: Path, port: int, tmp_probe: Path):
    """student -> notebook, or raw bytes for files that are no notebook."""
    course = Path(course)
    secrets = [course / "autograder" / A / "test_double.py", course / "solutions" / f"{A}.py",
               course / "gradebook.db", course / "nbgrader_config.py",
               course / "submitted" / GOOD[0] / A / f"{A}.ipynb", course / "submitted",
               course / ".ml4p", course]
    writes = [course / "autograder" / A / "test_double.py", course / "submitted" / GOOD[0] / A / f"{A}.ipynb",
              tmp_probe, Path("/usr/ml4p_hostile_probe"), Path("/ml4p_hostile_probe")]
    subs = {
        "network": variant(reference, cells=[NETWORK.format(port=port)]),
        "snoop": variant(reference, cells=[SNOOP.format(paths=[str(p) for p in secrets], secret=SECRET_NAME,
                                                        value=SECRET_VALUE)]),
        "write-outside": variant(reference, cells=[WRITE.format(paths=[str(p) for p in writes])]),
        "monkeypatch-testing": variant(reference, double=MONKEYPATCH_TESTING),
        "monkeypatch-builtins": variant(blank, cells=[MONKEYPATCH_BUILTINS]),
        "monkeypatch-showtraceback": variant(blank, cells=[SHOWTRACEBACK]),
        "fork-bomb": variant(reference, cells=[FORK_BOMB]),
        "memory-hog": variant(reference, cells=[MEMORY_HOG]),
        "infinite-loop-cell": variant(reference, cells=["while True:\n    pass"]),
        "infinite-loop-in-double": variant(reference, double="def double(x):\n    while True:\n        pass\n"),
        "ignores-interrupts-cell": variant(reference, cells=[IGNORES_INTERRUPTS, "print('after')"]),
        "ignores-sigint-cell": variant(reference, cells=[IGNORES_SIGINT, "print('after')"]),
        "ignores-interrupts-in-double": variant(reference, double=(
            "import time\ndef double(x):\n    while True:\n        try:\n            time.sleep(100)\n"
            "        except KeyboardInterrupt:\n            pass\n")),
        "os-exit-cell": variant(reference, cells=["import os\nos._exit(1)", "print('after')"]),
        "segfault-cell": variant(reference, cells=[SEGFAULT, "print('after')"]),
        "os-exit-in-double": variant(reference, double="import os\ndef double(x):\n    os._exit(1)\n"),
        "segfault-in-double": variant(reference, double="import ctypes\ndef double(x):\n    ctypes.string_at(0)\n"),
        "print-50-mb": variant(reference, cells=['print("x" * 50_000_000)',
                                                 'for _ in range(50):\n    print("y" * 1_000_000, flush=True)']),
        "forge-proxy-result": variant(reference, double=FORGE_PROXY),
        "forge-second-result": variant(reference, double=FORGE_SECOND_RESULT),
        "replace-user-ns": variant(reference, cells=[USER_NS]),
        "forge-check-report": variant(blank, cells=[FORGE_CHECK_REPORT]),
        # the host's resources and paths
        "swap-kernel-dir": variant(reference, cells=[SWAP_KERNEL_DIR.format(canary=str(tmp_probe) + "-canary")]),
        "fill-filesystems": variant(reference, cells=[FILL]),
        "data-file-folder": variant(reference, cells=[DATA_FOLDER]),
        "slow-cells": variant(reference, cells=SLOW_CELLS),
        "slow-cells-first": variant(reference, cells=SLOW_CELLS, before_solution=True),
        # wrong results
        "returns-wrong-shape": variant(reference, double=returning("(2 * np.asarray(x)).ravel()")),
        "returns-wrong-dtype": variant(reference, double=returning("np.rint(2 * np.asarray(x)).astype(int)")),
        "returns-nan": variant(reference, double=returning("2 * np.asarray(x) + np.nan")),
        "returns-dict": variant(reference, double=returning('{"result": 2 * x}')),
        "returns-string": variant(reference, double=returning('"6.0"')),
        "returns-none": variant(reference, double="def double(x):\n    pass\n"),
        "returns-object-array": variant(reference, double=returning("np.array([2 * x, 'passed'], dtype=object)")),
        "returns-generator": variant(reference, double=returning("(2 * v for v in np.ravel(x))")),
    }
    # locked cells deleted, edited or moved
    nb = copy.deepcopy(reference)
    del nb.cells[hidden(nb)]
    subs["hidden-checks-deleted"] = nb
    subs["hidden-checks-replaced"] = variant(blank, hidden_source="print(2)\n2")
    nb = variant(blank, hidden_source="2")
    nb.cells[hidden(nb)].metadata = {}
    subs["hidden-checks-unmarked"] = nb
    nb = copy.deepcopy(blank)
    nb.cells[solution(nb) - 1].source = "import numpy as np\ndef double(x):\n    return 2 * np.asarray(x)\n"
    subs["setup-edited"] = nb
    nb = copy.deepcopy(reference)
    nb.cells.insert(solution(nb) + 1, copy.deepcopy(nb.cells[hidden(nb)]))  # a second cell with its grade id
    nb.cells[solution(nb) + 1].source = "2"
    subs["duplicate-grade-id"] = nb
    nb = copy.deepcopy(reference)
    nb.cells.insert(0, nb.cells.pop(hidden(nb)))
    subs["locked-cells-reordered"] = nb
    # outputs stored in the submitted file
    nb = copy.deepcopy(blank)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
            cell.execution_count = 1
    subs["stored-fake-results"] = nb
    # files that are no (usable) notebook
    v3 = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[
        nbformat.v3.new_code_cell(input=c.source, metadata=c.metadata) if c.cell_type == "code"
        else nbformat.v3.new_text_cell("markdown", source=c.source, metadata=c.metadata)
        for c in reference.cells])], metadata={})
    subs["not-json"] = b"{ this is not json"
    subs["nbformat-3"] = json.dumps(v3).encode()
    subs["cells-not-a-list"] = b'{"cells": 5}'
    subs["empty-file"] = b""
    subs["no-cells"] = nbformat.writes(new_notebook(cells=[])).encode()
    return subs


# ------------------------------------------------------------------ grading


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the host's loopback: [port, connections accepted]."""
    server = socket.create_server(("127.0.0.1", 0))
    reached = []

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            reached.append(True)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], reached
    server.close()


def hostile_course(tmp: Path, port: int) -> dict:
    """A course of the toy assignment (in ``tmp``) with every hostile submission and the good ones
    submitted, ready to grade; ``port``: a listener the network attack tries to reach. Used by the
    fixture below and by ``benchmarks/hostile_memory.py``."""
    materials = write_materials(tmp / "materials")
    (materials / "solutions").mkdir()
    (materials / "solutions" / f"{A}.py").write_text("ORACLE = 'instructor only'\n")
    course = create_course(tmp / "course", materials=materials, assignments=[A])
    datasets = tmp / "datasets"  # a data file beside a secret, as MNIST beside a course's files
    datasets.mkdir(mode=0o755)
    (datasets / "digits.bin").write_text("the digits")
    (datasets / "answers.txt").write_text("the answers")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(COURSE_LIMITS)
        f.write(f"c.SandboxedExecute.data_env = {{'ML4P_HOSTILE_DATA': {str(datasets / 'digits.bin')!r}}}\n")
    release(A, course=course)
    known = known_submissions(course, A)
    reference, blank = known["reference"][0], known["blank"][0]
    tmp_probe = Path("/tmp") / f"ml4p_hostile_probe_{uuid.uuid4().hex}"
    subs = hostile_submissions(reference, blank, course, port, tmp_probe)
    for sid in GOOD:
        submit(course, sid, A, reference)
    checks_before = (course / "autograder" / A / "test_double.py").read_text()
    good_before = (course / "submitted" / GOOD[0] / A / f"{A}.ipynb").read_bytes()
    for sid, nb in subs.items():
        if isinstance(nb, bytes):
            path = submit(course, sid, A, reference)
            path.write_bytes(nb)
        else:
            submit(course, sid, A, nb)
    for sid in LINKED:
        folder = submit(course, sid, A, reference).parent
        plant = linked(sid, course)
        if plant == "notebook":
            (folder / f"{A}.ipynb").unlink()
            (folder / f"{A}.ipynb").symlink_to(course / "submitted" / GOOD[0] / A / f"{A}.ipynb")
        elif plant == "folder":
            shutil.rmtree(folder)
            folder.symlink_to(course / "submitted" / GOOD[0] / A)
        else:
            plant(folder)
    canary = Path(str(tmp_probe) + "-canary")
    canary.write_text("the grader must not delete this")
    return {"course": course, "tmp_probe": tmp_probe, "checks_before": checks_before, "good_before": good_before,
            "canary": canary, "students": list(subs) + list(GOOD) + list(LINKED)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, listener):
    """The course after one ``autograde(jobs=2)`` of every hostile submission and the good ones."""
    result = hostile_course(tmp_path_factory.mktemp("hostile"), listener[0])
    course, canary = result["course"], result["canary"]
    os.environ[SECRET_NAME] = SECRET_VALUE
    start = time.monotonic()
    try:
        done = autograde(A, course=course, jobs=2, progress=False)
    finally:
        del os.environ[SECRET_NAME]
    seconds = time.monotonic() - start
    result.update(done={d.student: d for d in done}, seconds=seconds,
                  scores={r.student: r.score for r in grades(course=course, assignment=A)})
    yield result
    canary.unlink(missing_ok=True)


def autograded(graded, student):
    return nbformat.read(graded["course"] / "autograded" / student / A / f"{A}.ipynb", as_version=4)


def report(graded, student) -> str:
    """The text ml4p wrote into the student's hidden-check cell."""
    nb = autograded(graded, student)
    return "".join(o.get("text", "") for o in nb.cells[hidden(nb)].outputs)


def stream(nb_or_cell) -> str:
    """Every output of a cell (or notebook) as text."""
    cells = nb_or_cell.cells if hasattr(nb_or_cell, "cells") else [nb_or_cell]
    text = []
    for cell in cells:
        for o in cell.get("outputs", []):
            text.append(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                        or f"{o.get('ename', '')}: {o.get('evalue', '')}\n")
    return "".join(text)


def cell_with(graded, student, needle: str):
    """The first code cell of the student's autograded notebook whose source holds ``needle``."""
    return next(c for c in autograded(graded, student).cells if c.cell_type == "code" and needle in c.source)


def assert_scored(graded, student, score, *reasons):
    """``student`` got ``score`` for `double`, and its hidden-check report says each of ``reasons``."""
    assert graded["done"][student].ok, graded["done"][student].error
    assert graded["scores"][student] == score, (student, graded["scores"][student], report(graded, student))
    text = report(graded, student)
    assert text.startswith(f"Hidden checks for `double`: {score:g} / 2 points"), text
    for reason in reasons:
        assert reason in text, (student, reason, text)


# ------------------------------------------------------------------ the batch


def test_good_submissions_in_the_same_batch_get_full_marks(graded):
    """With every attack graded alongside, in two jobs at once, do the good submissions still get 2/2?"""
    for student in GOOD:
        assert_scored(graded, student, 2)


def test_every_submission_ends_in_bounded_time(graded):
    """Does every submission, however hostile, end (graded or failed) within its time bound?"""
    assert set(graded["done"]) == set(graded["students"])
    slow = {s: round(d.seconds) for s, d in graded["done"].items() if d.seconds > SUBMISSION_SECONDS}
    assert not slow, slow
    assert graded["seconds"] < BATCH_SECONDS


# ------------------------------------------------------------------ escaping the sandbox


@needs_bwrap
def test_network_access(graded, listener):
    """Can a submission open a TCP connection to the grader's loopback, or resolve a name? (No, and it
    still gets the points its `double` earns.)"""
    out = stream(cell_with(graded, "network", "socket.create_connection"))
    assert "REACHED" not in out and out.count("blocked") == 3, out
    assert listener[1] == [], "the sandbox reached the listener on 127.0.0.1"
    assert_scored(graded, "network", 2)


@needs_bwrap
def test_reading_checks_oracle_gradebook_others_work_and_secrets(graded):
    """Can a submission read the hidden checks, the oracle, the gradebook, the course, another
    student's notebook, the host's /tmp, or a secret in the grader's environment?"""
    out = stream(cell_with(graded, "snoop", "def read(path)"))
    assert "READ" not in out and out.count("blocked") == 11, out
    assert SECRET_VALUE not in out
    assert_scored(graded, "snoop", 2)


@needs_bwrap
def test_writing_outside_the_sandbox(graded):
    """Can a submission change the hidden checks, another student's submission, the host's /tmp or
    /usr? (Writes to course paths land in its private /tmp; the host's files stay as they were.)"""
    out = stream(cell_with(graded, "write-outside", "def write(path)"))
    course = graded["course"]
    assert (course / "autograder" / A / "test_double.py").read_text() == graded["checks_before"]
    assert (course / "submitted" / GOOD[0] / A / f"{A}.ipynb").read_bytes() == graded["good_before"]
    assert not graded["tmp_probe"].exists()
    assert not Path("/usr/ml4p_hostile_probe").exists() and not Path("/ml4p_hostile_probe").exists()
    assert "blocked" in out.splitlines()[-1] and "blocked" in out.splitlines()[-2], out  # / and /usr
    assert_scored(graded, "write-outside", 2)


# ------------------------------------------------------------------ faking a pass


def test_monkeypatching_numpy_pytest_and_assertions(graded):
    """Does patching numpy's comparisons, numpy.testing, pytest, AssertionError and ml4p's own
    assert_close inside the kernel make a wrong `double` pass? (No: the checks run elsewhere.)"""
    assert_scored(graded, "monkeypatch-testing", 0, "double(x) is wrong")


def test_monkeypatching_builtins(graded):
    """Does replacing builtins.exec/compile (what runs the grader's request) fake a result?"""
    assert_scored(graded, "monkeypatch-builtins", 0, "the kernel sent no result")


def test_monkeypatching_showtraceback(graded):
    """Does hiding every traceback (nbgrader PR #1324) make an unanswered `double` pass?"""
    assert_scored(graded, "monkeypatch-showtraceback", 0, "NotImplementedError")


def test_stored_fake_results(graded):
    """Does a submitted file whose cells (the hidden-check cell too) already hold an execute_result
    "2" keep any of it? (nbgrader clears outputs; the hidden-check cell is written by the grader.)"""
    assert_scored(graded, "stored-fake-results", 0, "NotImplementedError")
    nb = autograded(graded, "stored-fake-results")
    results = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "execute_result"]
    assert [o.data["text/plain"] for o in results] == ["0"]


def test_forged_check_report(graded):
    """Can a cell publish a hidden-check report in ml4p's own mimetype, claiming 2/2? (Student
    output loses ml4p's mimetypes; only the hidden-check cell carries a report.)"""
    assert_scored(graded, "forge-check-report", 0, "NotImplementedError")
    nb = autograded(graded, "forge-check-report")
    carriers = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                for o in c.outputs if any(k.startswith("application/vnd.ml4p.") for k in o.get("data", {}))]
    assert carriers == [hidden(nb)]
    assert nb.cells[hidden(nb)].outputs[-1].data[CHECKS_MIME]["score"] == 0


def test_forged_proxy_result(graded):
    """Can `double` publish a result in the proxy's mimetype claiming success (and silence the real
    one), or send a second, well-formed result? (A result is data, checked by the grader; two are refused.)"""
    assert_scored(graded, "forge-proxy-result", 0, "malformed result", "the kernel sent no result")
    assert_scored(graded, "forge-second-result", 0, "the kernel sent more than one result")


def test_replacing_user_ns_entries(graded):
    """Does replacing names in the notebook's namespace (_REQUEST, display, get_ipython, double)
    change how the proxy calls `double`? (It runs in its own namespace; `double` returns a dict.)"""
    assert_scored(graded, "replace-user-ns", 0, "`double` returned a value of type dict, not numbers")


# ------------------------------------------------------------------ exhausting resources


def test_fork_bomb(graded):
    """Does a fork bomb (forking forever, ignoring EAGAIN) stay within its process limit and end?"""
    assert_scored(graded, "fork-bomb", 0, "kept running after it was interrupted")


def test_memory_hog(graded):
    """Does allocating 50 GB, then every byte it can, fail with MemoryError and leave `double` gradable?"""
    out = stream(cell_with(graded, "memory-hog", "hog = None"))
    assert "50 GB at once: MemoryError" in out and "MemoryError after" in out, out
    assert_scored(graded, "memory-hog", 2)


def test_infinite_loop_in_a_cell(graded):
    """Is `while True: pass` in a cell interrupted at the cell timeout, the rest graded on its merits?"""
    assert "ran longer than 5 s and was interrupted" in stream(cell_with(graded, "infinite-loop-cell", "while True"))
    assert_scored(graded, "infinite-loop-cell", 2)


def test_infinite_loop_in_double(graded):
    """Is a `double` that never returns stopped at the call timeout, each check failing with why?"""
    assert_scored(graded, "infinite-loop-in-double", 0, f"`double` did not return within {CELL_TIMEOUT} s")


@pytest.mark.parametrize("student", ["ignores-interrupts-cell", "ignores-sigint-cell"])
def test_cell_that_ignores_interrupts(graded, student):
    """Is a cell that catches KeyboardInterrupt (or ignores SIGINT) in a loop stopped by killing its
    kernel after the timeout and a grace period, the submission failing with that reason?"""
    reason = f"kept running after it was interrupted at its {CELL_TIMEOUT} s limit: its kernel was stopped"
    assert_scored(graded, student, 0, reason, "no check could run")
    assert reason in stream(cell_with(graded, student, "while True"))
    after = stream(cell_with(graded, student, "print('after')"))  # never ran, and says so (0 points if graded)
    assert after.startswith("NotRun: not run: ") and reason in after and "after\n" not in after


def test_double_that_ignores_interrupts(graded):
    """Is a `double` that ignores the interrupt declared stuck after a grace period, the other check
    failing at once instead of waiting again?"""
    assert_scored(graded, "ignores-interrupts-in-double", 0, "and did not stop",
                  "did not recover after `double` was interrupted")


@pytest.mark.parametrize("student", ["os-exit-cell", "segfault-cell"])
def test_kernel_death_in_a_cell(graded, student):
    """Does os._exit(1) or a segfault in a cell fail the submission with the cell that killed it?"""
    assert_scored(graded, student, 0, "the notebook's kernel died while running cell 4, so no check could run")


@pytest.mark.parametrize("student", ["os-exit-in-double", "segfault-in-double"])
def test_kernel_death_inside_double(graded, student):
    """Does os._exit(1) or a segfault inside `double`, called by a check, fail the checks promptly?"""
    assert_scored(graded, student, 0, "the kernel died while running `double`")


def test_printing_50_mb(graded):
    """Is 50 MB of output (one message, then 50 of 1 MB) capped, the notebooks kept within the output
    limit? (The 50 MB message is dropped unread; of the 1 MB ones, those within 5 MB are kept.)"""
    course, student = graded["course"], "print-50-mb"
    assert "an output message larger than" in stream(cell_with(graded, student, 'print("x" * 50_000_000)'))
    assert "[ml4p: output beyond 5000 kB was discarded]" in stream(cell_with(graded, student, 'print("y" * 1_000_000'))
    cached = course / ".ml4p" / "executed" / A / student / f"{A}.json"
    assert cached.stat().st_size < OUTPUT_LIMIT + 100_000  # what the grader kept: the output limit
    notebook = course / "autograded" / student / A / f"{A}.ipynb"
    assert notebook.stat().st_size < OUTPUT_LIMIT + 100_000  # ~4 MB: four of the 1 MB lines
    assert_scored(graded, student, 2)


# ------------------------------------------------------------------ locked cells


def test_hidden_check_cell_deleted(graded):
    """Does deleting the hidden-check cell dodge the checks? (No: ml4p's `RestoreCells` puts it back from
    the released notebook, with a note, and a right `double` is graded 2.)"""
    student = "hidden-checks-deleted"
    assert_scored(graded, student, 2)
    nb = autograded(graded, student)
    notes = [i for i, c in enumerate(nb.cells) if c.source == NOTICE.format(name="double")]
    assert len(notes) == 1 and "Hidden checks for `double`: 2 / 2" in nb.cells[notes[0] + 1].outputs[0].text


def test_hidden_check_cell_replaced(graded):
    """Does replacing the hidden-check cell's source with `print(2)` / `2` gain anything? (nbgrader
    restores the locked cell; the grader writes its report there.)"""
    student = "hidden-checks-replaced"
    assert_scored(graded, student, 0, "NotImplementedError")
    assert "hidden_checks(\"double\")" in autograded(graded, student).cells[hidden(autograded(graded, student))].source


def test_hidden_check_cell_unmarked(graded):
    """Does a hidden-check cell turned into `2` with its nbgrader metadata removed score? (No: it is
    an ordinary cell; the real one is put back and the blank `double` scores 0.)"""
    student = "hidden-checks-unmarked"
    assert graded["done"][student].ok and graded["scores"][student] == 0
    assert any(c.source == NOTICE.format(name="double") for c in autograded(graded, student).cells)


def test_setup_cell_edited(graded):
    """Does defining `double` in the (locked) setup cell of a blank submission gain points? (No:
    nbgrader restores the setup cell.)"""
    student = "setup-edited"
    assert_scored(graded, student, 0, "NotImplementedError")
    nb = autograded(graded, student)
    assert nb.cells[solution(nb) - 1].source == "import numpy as np"


def test_grade_id_copied_into_a_student_cell(graded):
    """Is a notebook where a second cell carries the hidden-check cell's grade id (a copied cell) a failed
    submission whose reason says so, rather than that cells were deleted?"""
    done = graded["done"]["duplicate-grade-id"]
    assert not done.ok and "several cells carry the same grade id: `double` (2 cells)" in done.error, done.error
    assert graded["scores"].get("duplicate-grade-id", 0) == 0


def test_locked_cells_reordered(graded):
    """Does moving the hidden-check cell to the top change anything? (The checks run after the
    whole notebook, so a right `double` still gets 2.)"""
    assert_scored(graded, "locked-cells-reordered", 2)


# ------------------------------------------------------------------ broken files


@pytest.mark.parametrize(("student", "reason"), [("not-json", "json"), ("empty-file", "json"),
                                                 ("cells-not-a-list", "not iterable")])
def test_file_that_is_not_a_notebook(graded, student, reason):
    """Is a file that is not JSON, is empty, or has `"cells": 5` a failed submission with its reason,
    scoring nothing?"""
    done = graded["done"][student]
    assert not done.ok and reason in done.error.lower(), done.error
    assert reason in failure_file(graded["course"], A, student).read_text().lower()
    assert graded["scores"].get(student, 0) == 0


def test_nbformat_3_notebook(graded):
    """Is an nbformat 3 notebook converted (as nbformat reads it) and graded on what it holds?"""
    assert_scored(graded, "nbformat-3", 2)


def test_notebook_without_cells(graded):
    """Is a valid notebook with no cells graded as the released notebook without answers (its locked cells
    put back), scoring nothing?"""
    done = graded["done"]["no-cells"]
    assert done.ok, done.error
    assert_scored(graded, "no-cells", 0, "`double` is not defined")


# ------------------------------------------------------------------ wrong results


@pytest.mark.parametrize(("student", "score", "reason"), [
    ("returns-wrong-shape", 0, "double(x) has shape (12,); it should have shape (4, 3)"),
    ("returns-wrong-dtype", 1, "double(x) is wrong: max relative error"),  # int: 6 is right, 2x rounded is not
    ("returns-nan", 0, "double(x) contains NaN or inf"),
    ("returns-dict", 0, "`double` returned a value of type dict, not numbers"),
    ("returns-string", 0, "`double` returned a value of type str, not numbers"),
    ("returns-none", 0, "`double` returned None (is a `return` missing?)"),
    ("returns-object-array", 0, "`double` returned an array of dtype object, not numbers"),
    ("returns-generator", 0, "`double` returned a value of type generator, not numbers"),
])
def test_wrong_results(graded, student, score, reason):
    """Is a wrong shape, dtype, NaN, or a Python object instead of an array a failed check saying what was wrong?"""
    assert_scored(graded, student, score, reason)


# ------------------------------------------------------------------ the grader's own limits


def test_checks_stopped_at_their_time_limit_keep_what_they_found(tmp_path):
    """When the hidden checks hit their time limit, does a check that finished keep its result, and
    one never finished score 0 saying why (rather than vanishing and leaving all weight to the first)?"""
    (tmp_path / A).mkdir()
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["ml4p.grading.plugin"]\n')
    (tmp_path / A / "test_double.py").write_text(textwrap.dedent('''
        import time
        import pytest

        @pytest.mark.points(1)
        def test_quick():
            """a check that passes at once"""

        @pytest.mark.points(3)
        def test_stuck():
            """a check that never ends"""
            time.sleep(1000)
    '''))
    results, error = run_checks(tmp_path, A, None, timeout=5)
    assert error == "the hidden checks did not finish within 5 s"
    part = part_reports({"double": 2.0}, results, error)["double"]
    assert [(c.name, c.passed, c.message) for c in part.checks] == [
        ("a check that passes at once", True, ""),
        ("a check that never ends", False, "not run: the hidden checks did not finish within 5 s")]
    assert part.score == 0.5


GRADER_MEMORY = """
import resource, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from nbformat.v4 import new_code_cell
from toy import A, source_notebook
from ml4p.grading.execute import grade_notebook
from ml4p.grading.sandbox import Limits
root, out = Path({root!r}), Path({root!r}) / "sub"
out.mkdir()
nb = source_notebook([new_code_cell('s = "x" * {size}\\nprint(s)\\ndel s'), new_code_cell('print("after")')])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome = grade_notebook(nb, assignment=A, source_dir=out, checks_dir=root / "autograder", solutions_dir=None,
                         limits=Limits(memory_mb=3072, processes=64, cpu_seconds=120, threads=1), timeout=30)
print(before // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
      outcome.reports["double"].score, repr(nb.cells[4].outputs[-1].get("text", "")))
"""


def test_output_cap_bounds_the_graders_memory(tmp_path):
    """Does a cell printing 400 MB in one message leave the grader's memory where it was (the message
    is dropped unread), the next cell's output still arriving?"""
    import subprocess
    import sys

    write_materials(tmp_path)
    code = GRADER_MEMORY.format(tests=str(Path(__file__).parent), root=str(tmp_path), size=400_000_000)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after, score, last = proc.stdout.split(maxsplit=3)
    assert int(after) - int(before) < 100, f"grader grew from {before} MB to {after} MB"
    assert float(score) == 2  # the source notebook answers `double`: graded, not stuck
    assert "after" in last


# ------------------------------------------------------------------ the host's files and resources


@pytest.mark.parametrize("student", LINKED)
def test_submission_with_links_or_special_files_is_refused(graded, student):
    """Is a submission holding a link of any kind (to the checks, the gradebook, another student's work,
    /etc/shadow, /proc/self/environ, /dev/zero, a folder, nowhere; in a subfolder; the notebook or the
    submission folder itself), a FIFO, a device, a socket, or too much, refused with its reason before
    nbgrader or the sandbox read any of it, and the batch graded on?"""
    done = graded["done"][student]
    expected = "more than" if student.startswith("too-") else "only regular files and folders are accepted"
    assert not done.ok and done.error.startswith("refused: ") and expected in done.error, done.error
    assert expected in failure_file(graded["course"], A, student).read_text()
    assert not (graded["course"] / "autograded" / student).exists()  # nbgrader never copied its files
    assert graded["scores"].get(student, 0) == 0
    assert done.seconds < 10


def test_nothing_a_link_points_at_reaches_the_course(graded):
    """Does any file the grader wrote (autograded notebooks, the execution cache) hold the content
    of /etc/shadow, another file a link pointed at, or the grader's environment?"""
    secrets = [SECRET_VALUE.encode(), graded["checks_before"].encode()]
    if os.access("/etc/shadow", os.R_OK):
        secrets.append(Path("/etc/shadow").read_bytes()[:64])
    course = graded["course"]
    written = [p for folder in ("autograded", ".ml4p") for p in (course / folder).rglob("*")
               if p.is_file() and "snoop" not in p.parts and p.name != "snoop.json"]  # its source names the secret
    assert written
    holding = [str(p) for p in written for secret in secrets if secret in p.read_bytes()]
    assert holding == []


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="the connection folder is locked only when the grader is root")
def test_kernel_cannot_swap_its_connection_folder(graded):
    """Can the kernel rename its connection folder, plant a link beside it or inside it, or rewrite its
    connection file, so that the checks or the grader's clean-up follow a path the student chose?
    (No: each attempt fails, the file a link would point at survives, and `double` still scores.)"""
    out = stream(cell_with(graded, "swap-kernel-dir", "IPKernelApp"))
    assert "DONE" not in out and out.count("blocked") == 6, out
    assert graded["canary"].exists()
    assert_scored(graded, "swap-kernel-dir", 2)


@needs_bwrap
def test_filling_the_writable_filesystems(graded):
    """Does filling the work folder, /tmp, /dev/shm and $HOME stop at their size caps (host memory and
    disk untouched beyond them), the submission graded on its merits afterwards?"""
    out = stream(cell_with(graded, "fill-filesystems", "def fill"))
    written = {line.split(":")[0]: int(line.split(": ")[1].split()[0]) for line in out.splitlines() if " MB, " in line}
    caps = {".": DISK_MB, "/tmp": TMP_MB, "/dev/shm": TMP_MB}
    assert "never refused" not in out, out
    for folder, cap in caps.items():
        assert cap - 16 <= written[folder] <= cap, (folder, written[folder], out)
    assert len(written) == 4 and max(written.values()) <= DISK_MB, out  # $HOME lies in /tmp
    assert_scored(graded, "fill-filesystems", 2)


@needs_bwrap
def test_data_file_exposes_nothing_beside_it(graded):
    """Is a data file the course names readable in the sandbox, while the files beside it in its folder
    (here a secret; in a course, the checks and the gradebook) are not?"""
    out = stream(cell_with(graded, "data-file-folder", "ML4P_HOSTILE_DATA"))
    assert "data the digits" in out and "beside ['digits.bin']" in out and "secret blocked" in out, out
    assert_scored(graded, "data-file-folder", 2)


def test_notebook_of_many_slow_cells(graded):
    """Is a notebook of slow cells, each within the cell limit, stopped at the notebook's limit, the cells
    after it marked as not run, and graded on what ran (`double` before them: 2; after them: 0)?"""
    nb = autograded(graded, "slow-cells")
    outputs = [stream(c) for c in nb.cells if c.cell_type == "code" and "time.sleep(4)" in c.source]
    ran = sum("slow cell done" in o for o in outputs)
    interrupted = sum("reached its time limit of" in o and "interrupted" in o for o in outputs)
    not_run = sum("not run: the notebook reached its time limit" in o for o in outputs)
    assert 1 <= ran < len(SLOW_CELLS) and not_run >= 1 and ran + interrupted + not_run == len(SLOW_CELLS), outputs
    assert_scored(graded, "slow-cells", 2)
    assert_scored(graded, "slow-cells-first", 0, "is not defined")
    assert graded["done"]["slow-cells"].seconds < NOTEBOOK_TIMEOUT + 20
