"""The Coulomb gas assignment through the whole chain, graded once for the session.

source notebook -> release -> submissions (solution, blank, known mistakes,
attacks) -> sandboxed kernels -> hidden checks in a trusted process ->
nbgrader gradebook -> grades, export, feedback.

The known submissions are graded by the session's one ``ml4p check coulomb_gas``
(``checked_course``), whose verdicts, and the rules every assignment keeps (release without
solutions, a mistake for every part, no stderr), ``test_assignments.py`` checks; the attacks
are graded here, in the same course.
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

from ml4p import cli
from ml4p.course import materials_root
from ml4p.grading import sandbox
from ml4p.grading.autograde import grades
from ml4p.grading.checks import parts_with_checks
from ml4p.grading.submissions import known_submissions, split_at_markers, submit

A = "coulomb_gas"
ROOT = materials_root()
PARTS = sorted(parts_with_checks(ROOT / "autograder", A))

pytestmark = pytest.mark.slow

MONKEYPATCH = '''
# What a submission could patch to fake a pass inside its kernel, then a wrong energy.
import builtins, sys, types
import numpy as np
import IPython
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
fake_pytest = types.ModuleType("pytest")
fake_pytest.approx = lambda *a, **k: a[0]
sys.modules["pytest"] = fake_pytest
builtins.AssertionError = type("AssertionError", (Exception,), {})
IPython.core.interactiveshell.InteractiveShell.showtraceback = lambda *a, **k: None
tf.debugging.assert_near = lambda *a, **k: None

def energy(x):
    return "all checks passed"
'''


# Patching numpy's comparisons too breaks TensorFlow in that kernel, so this one
# goes into a blank notebook: nothing is implemented, everything is faked.
MONKEYPATCH_NUMPY = MONKEYPATCH + '''
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: np.True_
np.array_equal = lambda *a, **k: True
np.all = lambda *a, **k: True
forces = gradient_descent = metropolis = energy
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


ATTACKS = ("attack-monkeypatch", "attack-monkeypatch-numpy", "attack-snoop")
#: Known mistakes graded alone here, whose feedback and gradebook rows the tests below read.
SINGLES = ("mistake-flipped-gradient-sign", "mistake-no-rejection")


@pytest.fixture(scope="module")
def graded(checked_course, listener, monkeypatch_module):
    """The session's `ml4p check` course, then the attacks, graded one by one with `ml4p autograde --student`."""
    root = checked_course(A).root
    monkeypatch_module.setenv("ML4P_TEST_SECRET", "hunter2")
    subs = known_submissions(root, A)
    reference = subs["reference"][0]
    attack = copy.deepcopy(reference)
    attack.cells.append(new_code_cell(MONKEYPATCH))
    submit(root, "attack-monkeypatch", A, attack)
    blank_attack = copy.deepcopy(subs["blank"][0])
    blank_attack.cells.append(new_code_cell(MONKEYPATCH_NUMPY))
    submit(root, "attack-monkeypatch-numpy", A, blank_attack)
    snoop = copy.deepcopy(reference)
    snoop.cells.insert(1, new_code_cell(snoop_cell(root, listener[0])))
    submit(root, "attack-snoop", A, snoop)
    for student in SINGLES:  # the check may have graded them only together with other mistakes
        submit(root, student, A, subs[student][0])
    first = cli.main(["autograde", A, "--student", ATTACKS[0], "--course", str(root), "--quiet"])
    after_first = {r.student for r in grades(course=root, assignment=A)}
    rest = cli.main(["autograde", A, "--course", str(root), "--quiet"])  # what is new: the others, two at a time
    return {"root": root, "autograde_exits": [first, rest], "after_first": after_first}


@pytest.fixture(scope="module")
def course(graded):
    return graded["root"]


def test_autograde_one_student_at_a_time(graded, rows):
    """Does `ml4p autograde --student` grade exactly that student and exit 0, and a rerun without it
    grade the submissions that are new?"""
    assert graded["autograde_exits"] == [0, 0]
    assert ATTACKS[0] in graded["after_first"]
    assert not set(ATTACKS[1:] + SINGLES) & graded["after_first"]
    assert set(ATTACKS + SINGLES) <= set(rows)


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


def test_monkeypatching_fakes_nothing(rows):
    """Does a submission that patches pytest, numpy.testing, AssertionError and showtraceback lose the part it fakes?"""
    parts = rows["attack-monkeypatch"].parts
    assert parts["energy"][0] == 0
    assert all(parts[p][0] == parts[p][1] for p in PARTS if p != "energy"), parts


def test_monkeypatching_numpy_fakes_nothing(rows):
    """Does a blank submission that also patches numpy's comparisons get 0 on every part?"""
    parts = rows["attack-monkeypatch-numpy"].parts
    assert all(parts[p][0] == 0 for p in PARTS), parts


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
    printed = subprocess.run([sys.executable, "-m", "ml4p.cli", "grades", "--format", "csv", "--course", str(course)],
                             check=True, capture_output=True, text=True).stdout
    ours = {(r["student"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
            for r in csv.DictReader(io.StringIO(printed))}
    assert ours and ours == exported


def solution_lines(course: Path) -> list[str]:
    """Distinctive lines between the solution markers (not elsewhere in the public notebook)."""
    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    public = public_text(course)
    lines = [line.strip() for line in split_at_markers(source)[1] if len(line.strip()) > 25 and line.strip() not in public]
    assert len(lines) > 10
    return lines


def public_text(course: Path) -> str:
    """The source notebook without its solutions: what students may see anyway."""
    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    return "\n".join(split_at_markers(source)[0])


def hidden_lines(course: Path) -> list[str]:
    """Distinctive lines of the hidden checks and the oracle (not in the public notebook)."""
    files = [*(course / "autograder" / A).glob("*.py"), course / "solutions" / f"{A}.py"]
    public = public_text(course)
    lines = [line.strip() for f in files for line in f.read_text().splitlines()
             if len(line.strip()) > 30 and not line.strip().startswith(("#", '"""', "import", "from"))
             and line.strip() not in public]
    assert len(lines) > 50
    return lines


def test_feedback_has_no_hidden_source(course):
    """Does nbgrader's feedback HTML show the reports but no hidden checks, oracle or (for blank) solution?"""
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", A, "--force"], cwd=course, check=True,
                   capture_output=True)
    import html
    for student in ("blank", "mistake-no-rejection"):
        page = html.unescape(re.sub(r"<[^>]+>", "", (course / "feedback" / student / A / f"{A}.html").read_text()))
        assert "Hidden checks for `metropolis`" in page
        own = "\n".join(c.source for c in nbformat.read(  # the student's own code may show
            course / "submitted" / student / A / f"{A}.ipynb", as_version=4).cells)
        forbidden = hidden_lines(course) + (solution_lines(course) if student == "blank" else [])
        leaked = [line for line in forbidden if line in page and line not in own]
        assert not leaked, leaked[:3]


def test_plain_nbgrader_autograde_uses_the_sandbox_and_checks(course, rows):
    """Does `nbgrader autograde`, typed by a TA in the course, grade through ml4p with the same result?"""
    student = "mistake-flipped-gradient-sign"
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", A, f"--student={student}", "--force"],
                   cwd=course, check=True, capture_output=True)
    again = {r.student: r for r in grades(course=course, assignment=A)}[student]
    assert again.parts == rows[student].parts
    assert again.parts["forces"][0] < again.parts["forces"][1]


def test_validate_passes_the_solution_and_names_the_blank_problems(course, capsys):
    """Does `ml4p validate` pass the solution and list the blank's failing cells?"""
    assert cli.main(["validate", str(course / "submitted" / "reference" / A / f"{A}.ipynb")]) == 0
    assert cli.main(["validate", str(course / "submitted" / "blank" / A / f"{A}.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "NotImplementedError" in out and "energy_visible_tests" in out
