"""Grades that cannot be bought: what student code can take from the grader, and what that buys.

A two-part toy assignment, ``twice`` (first in the notebook) and ``four_times`` (graded
with the reference ``twice`` swapped in). Its test files sort the other way round
(``test_four_times.py`` < ``test_twice.py``), so a grader that ran them in file order
would ship the reference ``twice`` into the kernel before ``twice`` has its grade.

* a thief keeps the reference ``twice`` it is handed while ``four_times`` is checked and
  answers ``twice``'s own checks with it: graded in the notebook's order, its echoing
  ``twice`` scores 0;
* a leaker searches everything its code can reach in the kernel during a check (the
  objects behind ``gc``, its callers' frames, the environment) for the hidden check's own
  expected value and for the reference source, and raises both findings, the reference
  base64-encoded, as its exception text: the feedback then shows the reference (sources
  sent into the kernel are visible to students, by design: THREAT_MODEL.md), and the
  hidden value was never there to find.
"""
from __future__ import annotations

import base64
import re
import textwrap
import uuid

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from toy import nbgrader

from ml4p.course import create_course
from ml4p.grading import sandbox
from ml4p.grading.autograde import autograde, grades
from ml4p.grading.checks import CHECKS_MIME
from ml4p.grading.submissions import known_submissions, submit
from ml4p.release import release

pytestmark = pytest.mark.skipif(not sandbox.isolation_available(), reason="bubblewrap unavailable")

A = "chain"
HIDDEN_VALUE = "hidden-expected-" + uuid.uuid4().hex  # in a check's source only
REFERENCE_MARK = "reference-mark-" + uuid.uuid4().hex  # in the reference source the checks ship

TWICE_CHECKS = f'''
import numpy as np
import pytest

from ml4p.grading.numerics import assert_close, fail

SECRET = {HIDDEN_VALUE!r}  # stands for what a check keeps back: expected values, tolerances


@pytest.mark.points(1)
def test_values(student, rng):
    """twice doubles an array"""
    x = rng.normal(size=5)
    assert_close(student.call("twice", x), 2 * x, what="twice(x)")


@pytest.mark.points(1)
def test_answer(student):
    """twice(21) is 42"""
    if float(student.call("twice", np.array(21.0))) != 42 or not SECRET:
        fail("twice(21) should be 42")
'''

FOUR_TIMES_CHECKS = f'''
import pytest

from ml4p.grading.numerics import assert_close

REFERENCE_TWICE = "def twice(x):\\n    return 2 * np.asarray(x)  # {REFERENCE_MARK}\\n"


@pytest.mark.points(1)
def test_values(student, rng):
    """four_times is twice twice (graded with the reference twice)"""
    x = rng.normal(size=5)
    assert_close(student.call("four_times", x, uses={{"twice": REFERENCE_TWICE}}), 4 * x, what="four_times(x)")
'''


def source_notebook():
    cells = [
        new_markdown_cell("# Chain\n\nWrite `twice(x)`, then `four_times(x)` with it."),
        new_code_cell("import numpy as np", metadata=nbgrader("setup", locked=True)),
        new_code_cell("def twice(x):\n    ### BEGIN SOLUTION\n    return 2 * np.asarray(x)\n    ### END SOLUTION",
                      metadata=nbgrader("twice_solution", solution=True)),
        new_code_cell('from ml4p.grading.cell import hidden_checks\nhidden_checks("twice")',
                      metadata=nbgrader("twice", grade=True, locked=True, points=2)),
        new_code_cell("def four_times(x):\n    ### BEGIN SOLUTION\n    return twice(twice(x))\n    ### END SOLUTION",
                      metadata=nbgrader("four_times_solution", solution=True)),
        new_code_cell('from ml4p.grading.cell import hidden_checks\nhidden_checks("four_times")',
                      metadata=nbgrader("four_times", grade=True, locked=True, points=1)),
        # an ordinary nbgrader answer and test cell, graded by nbgrader from its output
        new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", metadata=nbgrader("answer", solution=True)),
        new_code_cell("assert answer == 42", metadata=nbgrader("answer_test", grade=True, locked=True, points=1)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


THIEF = {
    "twice_solution": '''
def twice(x):
    stolen = globals().get("_stolen")
    return stolen(x) if stolen is not None else np.asarray(x)  # echoes its input, unless it stole
''',
    "four_times_solution": '''
def four_times(x):
    globals().setdefault("_stolen", twice)  # while four_times is checked, `twice` is the reference
    return twice(twice(x))
''',
}

LEAKER = {
    "four_times_solution": f'''
def four_times(x):
    import base64, gc, os, sys, types

    def strings(value, depth=0):
        if isinstance(value, str):
            yield value
        elif isinstance(value, bytes):
            yield value.decode("latin-1")
        elif depth < 3 and isinstance(value, dict):
            for k, v in list(value.items()):
                yield from strings(k, depth + 1)
                yield from strings(v, depth + 1)
        elif depth < 3 and isinstance(value, (list, tuple, set, frozenset)):
            for v in list(value):
                yield from strings(v, depth + 1)
        elif isinstance(value, types.CodeType):
            yield from strings(value.co_consts, depth + 1)

    caller = sys._getframe(1)
    needle = {HIDDEN_VALUE[:20]!r} + {HIDDEN_VALUE[20:]!r}  # never whole in this cell's text

    def everything():
        for obj in gc.get_objects():
            yield from strings(obj)
        frame = caller
        while frame is not None:
            yield from strings(frame.f_globals)
            yield from strings(frame.f_locals)
            yield from strings(frame.f_code)
            frame = frame.f_back
        yield from strings(dict(os.environ))

    hidden = reference = None
    for text in everything():
        if needle in text:
            hidden = text
        start = text.find("def twice(x):\\n")  # a real line break: not this cell's own text
        end = text.find({REFERENCE_MARK!r}, max(start, 0))
        if reference is None and 0 <= start < end < start + 200:
            reference = text[start:end + {len(REFERENCE_MARK)}]
    found = base64.b64encode(reference.encode()).decode() if reference else "-"
    raise RuntimeError(f"hidden value {{'FOUND' if hidden else 'absent'}}; reference {{found}}")
''',
}


#: A kernel that dies before a test cell: that cell did not run, so it earns nothing.
KILLER = {"answer": "import os\nos._exit(0)"}

#: A solution cell that hides every later traceback (nbgrader's test_showtraceback_exploit): the failing
#: assert below it shows no error output, but its execute reply still says it failed.
HIDES_ERRORS = {"answer": '''
from IPython.core.interactiveshell import InteractiveShell

def _quiet(*args, **kwargs):
    pass

InteractiveShell.showtraceback = _quiet
get_ipython().showtraceback = _quiet
answer = 41
'''}

#: nbgrader's FAQ tells authors to test NBGRADER_EXECUTION: the sandbox's clean environment keeps it.
UNDER_NBGRADER = {
    "twice_solution": '''
import os

def twice(x):
    return 2 * np.asarray(x) if os.environ.get("NBGRADER_EXECUTION") == "autograde" else np.asarray(x)
''',
}


def with_cells(reference, replacements: dict[str, str]):
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(reference), as_version=4))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell.source = textwrap.dedent(replacements[grade_id]).strip()
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("integrity")
    materials = tmp / "materials"
    (materials / "assignments" / A).mkdir(parents=True)
    nbformat.write(source_notebook(), materials / "assignments" / A / f"{A}.ipynb")
    checks = materials / "autograder" / A
    checks.mkdir(parents=True)
    (materials / "autograder" / "conftest.py").write_text('pytest_plugins = ["ml4p.grading.plugin"]\n')
    (checks / "test_twice.py").write_text(TWICE_CHECKS)
    (checks / "test_four_times.py").write_text(FOUR_TIMES_CHECKS)
    assert sorted(p.name for p in checks.glob("test_*.py")) == ["test_four_times.py", "test_twice.py"]
    root = create_course(tmp / "course", materials=materials, assignments=[A])
    release(A, course=root)
    reference = known_submissions(root, A)["reference"][0]
    for student, nb in {"good": reference, "thief": with_cells(reference, THIEF),
                        "leaker": with_cells(reference, LEAKER),
                        "asks-nbgrader": with_cells(reference, UNDER_NBGRADER),
                        "killer": with_cells(reference, KILLER),
                        "hides-errors": with_cells(reference, HIDES_ERRORS)}.items():
        submit(root, student, A, nb)
    done = autograde(A, course=root, jobs=2, progress=False)
    assert all(g.ok for g in done if g.student != "killer"), [g for g in done if not g.ok]
    return root


@pytest.fixture(scope="module")
def scores(course):
    return {r.student: {p: s for p, (s, _) in r.parts.items()} for r in grades(course=course, assignment=A)}


def report(course, student: str, part: str) -> dict:
    nb = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == part)
    return cell.outputs[-1].data[CHECKS_MIME]


def test_good_submission_gets_full_marks(scores):
    """Does the solution get 2/2 and 1/1?"""
    assert scores["good"] == {"twice": 2, "four_times": 1, "answer_test": 1}


def test_a_stolen_reference_buys_nothing(scores):
    """Does a `twice` that answers with the reference it stole while `four_times` was checked score 0
    (the notebook's first part is graded before any of its references enters the kernel)?"""
    assert scores["thief"] == {"twice": 0, "four_times": 1, "answer_test": 1}


def test_what_reaches_the_feedback_is_only_what_the_kernel_was_sent(course, scores):
    """Can exception text carry out the reference sent into the kernel (visible by design), but never
    the hidden check's own values, which the kernel never holds?"""
    assert scores["leaker"] == {"twice": 2, "four_times": 0, "answer_test": 1}
    message = report(course, "leaker", "four_times")["checks"][0]["message"]
    assert "hidden value absent" in message, message
    found = re.search(r"reference ([A-Za-z0-9+/=]+)", message)
    assert found, message  # the search itself works: it finds what was sent
    assert base64.b64decode(found.group(1)).decode() == f"def twice(x):\n    return 2 * np.asarray(x)  # {REFERENCE_MARK}"
    text = (course / "autograded" / "leaker" / A / f"{A}.ipynb").read_text()
    assert HIDDEN_VALUE not in text


def test_the_kernel_sees_nbgraders_execution_variable(scores):
    """Does a notebook that tests NBGRADER_EXECUTION (as nbgrader's FAQ suggests) see `autograde`?"""
    assert scores["asks-nbgrader"] == {"twice": 2, "four_times": 1, "answer_test": 1}


def test_a_cell_that_did_not_run_earns_nothing(course, scores):
    """After `os._exit(0)` in a solution cell, does the ordinary test cell below it score 0 (it never ran)
    and say why, as nbgrader leaves such a cell ungraded, rather than full marks for an empty output?"""
    assert scores["killer"] == {"twice": 0, "four_times": 0, "answer_test": 0}
    nb = nbformat.read(course / "autograded" / "killer" / A / f"{A}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer_test")
    assert cell.outputs and cell.outputs[0].output_type == "error" and "not run" in cell.outputs[0].evalue


def test_a_hidden_traceback_does_not_hide_the_failure(course, scores):
    """A solution cell that replaces `showtraceback` so that a failing test cell shows no error: does
    that cell still score 0 (its execute reply says it failed), with an error output saying so?"""
    assert scores["hides-errors"] == {"twice": 2, "four_times": 1, "answer_test": 0}
    nb = nbformat.read(course / "autograded" / "hides-errors" / A / f"{A}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer_test")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert [o.ename for o in errors] == ["AssertionError"], cell.outputs
    assert "showtraceback" in "\n".join(errors[0].traceback)
