"""The Coulomb gas assignment through the whole chain, graded once for the module.

source notebook -> release -> submissions (solution, blank, known mistakes,
attacks) -> sandboxed kernels -> hidden checks in a trusted process ->
nbgrader gradebook -> grades, export, feedback.
"""
from __future__ import annotations

import copy
import csv
import io
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from ml4p.check import judge
from ml4p.course import create_course, materials_root
from ml4p.grading import sandbox
from ml4p.grading.autograde import autograde, grades, grades_csv
from ml4p.grading.checks import parts_with_checks
from ml4p.grading.submissions import SOLUTION_MARKERS, known_submissions, load_mistakes, submit
from ml4p.release import release

A = "coulomb_gas"
ROOT = materials_root()
MISTAKES = {m.student: m.loses for m in load_mistakes(ROOT / "autograder", A)}
PARTS = sorted(parts_with_checks(ROOT / "autograder", A))

pytestmark = pytest.mark.slow

MONKEYPATCH = '''
# Everything a submission could patch to fake a pass, then a wrong energy.
import builtins, sys, types
import numpy as np
import IPython
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: np.True_
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
fake_pytest = types.ModuleType("pytest")
fake_pytest.approx = lambda *a, **k: a[0]
sys.modules["pytest"] = fake_pytest
builtins.AssertionError = type("AssertionError", (Exception,), {})
IPython.core.interactiveshell.InteractiveShell.showtraceback = lambda *a, **k: None
tf.debugging.assert_near = lambda *a, **k: None

def energy(x):
    return "all checks passed"
'''


def snoop_cell(course: Path, port: int) -> str:
    targets = [course / "autograder" / A / "test_energy.py", course / "solutions" / f"{A}.py",
               course / "gradebook.db", course / "submitted" / "reference" / A / f"{A}.ipynb",
               course / "submitted"]
    return f'''
# Try to read what a submission must never see, and to reach the network.
import os, socket
for path in {[str(t) for t in targets]!r}:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(10)
        print("READ", path)
    except Exception as exc:
        print("blocked", type(exc).__name__)
for host, port in [("127.0.0.1", {port}), ("pypi.org", 443)]:
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("CONNECTED", host)
    except Exception as exc:
        print("blocked", type(exc).__name__)
print("secret:", os.environ.get("ML4P_TEST_SECRET", "not visible"))
'''


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the host's loopback that a sandboxed kernel must not reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    reached = []

    def accept():
        try:
            conn, _ = server.accept()
            reached.append(True)
            conn.close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], reached
    server.close()


@pytest.fixture(scope="module")
def course(tmp_path_factory, listener, monkeypatch_module):
    monkeypatch_module.setenv("ML4P_TEST_SECRET", "hunter2")
    root = create_course(tmp_path_factory.mktemp("course"), materials=ROOT, assignments=[A])
    release(A, course=root)
    subs = known_submissions(root, A)
    for student, (nb, _) in subs.items():
        submit(root, student, A, nb)
    reference = subs["reference"][0]
    attack = copy.deepcopy(reference)
    attack.cells.append(new_code_cell(MONKEYPATCH))
    submit(root, "attack-monkeypatch", A, attack)
    snoop = copy.deepcopy(reference)
    snoop.cells.insert(1, new_code_cell(snoop_cell(root, listener[0])))
    submit(root, "attack-snoop", A, snoop)
    graded = autograde(A, course=root, progress=False)
    assert all(g.ok for g in graded), [g.error for g in graded if not g.ok]
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def rows(course):
    return {r.student: r for r in grades(course=course, assignment=A)}


def autograded_nb(course: Path, student: str):
    return nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)


@pytest.mark.parametrize("student, loses", [("reference", ()), ("blank", None), *MISTAKES.items()])
def test_known_submission_gets_what_it_should(rows, student, loses):
    """Does the solution get full marks, the blank 0, and each mistake lose points on exactly its part?"""
    verdict = judge(student, A, loses, rows.get(student), set(PARTS))
    assert verdict.ok, verdict.problems


def test_every_mistake_is_a_wrong_answer_somewhere():
    """Does each hidden-check part have at least one known mistake that it must catch?"""
    caught = {part for loses in MISTAKES.values() for part in loses}
    assert caught == set(PARTS)


def test_monkeypatching_fakes_nothing(rows):
    """Does a submission that patches numpy, pytest, AssertionError and showtraceback lose the part it fakes?"""
    parts = rows["attack-monkeypatch"].parts
    assert parts["energy"][0] == 0
    assert all(parts[p][0] == parts[p][1] for p in PARTS if p != "energy"), parts


@pytest.mark.skipif(not sandbox.isolation_available(), reason="bubblewrap isolation not available")
def test_sandbox_hides_course_files_network_and_secrets(course, rows, listener):
    """Can a submission read the checks, oracle, gradebook or others' work, or reach the network? (It must not.)"""
    nb = autograded_nb(course, "attack-snoop")
    out = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "READ" not in out and "CONNECTED" not in out, out
    assert out.count("blocked") == 7, out
    assert "hunter2" not in out and "not visible" in out
    assert not listener[1]
    parts = rows["attack-snoop"].parts
    assert all(parts[p][0] == parts[p][1] for p in PARTS), parts


def test_reports_are_in_the_hidden_check_cells(course):
    """Does each hidden-check cell hold a report and a numeric score, and no check source?"""
    nb = autograded_nb(course, "mistake-flipped-gradient-sign")
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    text = "".join(o.get("text", "") for o in cells["forces"].outputs)
    assert text.startswith("Hidden checks for `forces`: ")
    assert "✗" in text and "gradient" in text
    assert cells["forces"].outputs[-1].output_type == "execute_result"
    assert "✗" not in "".join(o.get("text", "") for o in cells["energy"].outputs)


def test_nbgrader_export_agrees_with_ml4p_grades(course):
    """Does nbgrader's own export give the same scores as `ml4p grades`?"""
    out = course / "export.csv"
    subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--to={out}"], cwd=course, check=True,
                   capture_output=True)
    exported = {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
                for r in csv.DictReader(out.open())}
    ours = {(r["student"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
            for r in csv.DictReader(io.StringIO(grades_csv(grades(course=course))))}
    assert ours and ours == exported


def solution_lines(course: Path) -> list[str]:
    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    lines = []
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if SOLUTION_MARKERS.match(line):
                inside = not inside
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    assert len(lines) > 10
    return lines


def hidden_lines(course: Path) -> list[str]:
    files = [*(course / "autograder" / A).glob("*.py"), course / "solutions" / f"{A}.py"]
    lines = [line.strip() for f in files for line in f.read_text().splitlines()
             if len(line.strip()) > 30 and not line.strip().startswith(("#", '"""', "import", "from"))]
    assert len(lines) > 50
    return lines


def test_release_has_no_solution_and_no_hidden_checks(course):
    """Does the released notebook leave out every solution line and all hidden-check source?"""
    text = (course / "release" / A / f"{A}.ipynb").read_text()
    text = nbformat.reads(text, as_version=4)
    body = "\n".join(c.source for c in text.cells)
    leaked = [line for line in solution_lines(course) + hidden_lines(course) if line in body]
    assert not leaked


def test_feedback_has_no_hidden_source(course):
    """Does nbgrader's feedback HTML show the reports but no hidden checks, oracle or (for blank) solution?"""
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", A, "--force"], cwd=course, check=True,
                   capture_output=True)
    import html
    for student in ("blank", "mistake-no-rejection"):
        page = html.unescape(re.sub(r"<[^>]+>", "", (course / "feedback" / student / A / f"{A}.html").read_text()))
        assert "Hidden checks for `metropolis`" in page
        forbidden = hidden_lines(course) + (solution_lines(course) if student == "blank" else [])
        leaked = [line for line in forbidden if line in page]
        assert not leaked, leaked[:3]
