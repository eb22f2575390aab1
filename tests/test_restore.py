"""nbgrader's own command line on an ml4p course: deleted cells put back, `--no-execute`, `--force`, kernels.

A small assignment laid out as ml4p's are: a locked setup cell, a solution cell, a locked
visible-tests cell and then the hidden-check cell (nbgrader's own ``add_missing_cells``
cannot put a hidden-check cell back after a visible-tests cell), an ordinary nbgrader
answer with its test cell, a manually graded answer and a task.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from toy import nbgrader

from ml4p.course import create_course
from ml4p.grading import sandbox
from ml4p.grading.autograde import autograde, grades
from ml4p.grading.execute import KernelUnavailable, refuse_kernel
from ml4p.grading.restore import NOTICE, restore
from ml4p.grading.submissions import known_submissions, submit
from ml4p.release import release

A = "layout"
CHECKS = '''
import numpy as np
import pytest

from ml4p.grading.numerics import assert_close


@pytest.mark.points(2)
def test_values(student, rng):
    """triple triples an array"""
    x = rng.normal(size=4)
    assert_close(student.call("triple", x), 3 * x, what="triple(x)")
'''


def source_notebook(kernel: str = "python3"):
    cells = [
        new_markdown_cell("# Layout"),
        new_code_cell("import numpy as np", metadata=nbgrader("setup", locked=True)),
        new_code_cell("def triple(x):\n    ### BEGIN SOLUTION\n    return 3 * np.asarray(x)\n    ### END SOLUTION",
                      metadata=nbgrader("triple_solution", solution=True)),
        new_code_cell("assert triple(1.0) == 3.0", metadata=nbgrader("triple_visible_tests", locked=True)),
        new_code_cell('from ml4p.grading.cell import hidden_checks\nhidden_checks("triple")',
                      metadata=nbgrader("triple", grade=True, locked=True, points=2)),
        new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", metadata=nbgrader("answer", solution=True)),
        new_code_cell("assert answer == 42", metadata=nbgrader("answer_test", grade=True, locked=True, points=1)),
        new_markdown_cell("A written answer.", metadata=nbgrader("written", grade=True, solution=True, points=1)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


def grade_ids(nb) -> list[str]:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells if c.metadata.get("nbgrader")]


def without(nb, *names):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in names]
    return nb


# ------------------------------------------------------------------ placement (no kernel)


def cell(name):
    return new_code_cell(name, metadata=nbgrader(name, locked=True))


def test_restore_puts_each_cell_after_its_nearest_surviving_predecessor():
    """Are missing cells put back in release order, after the nearest earlier cell still there (at the
    top when none is), each with a note above it, and cells still there left alone?"""
    order = ["a", "b", "c", "d", "e"]
    nb = new_notebook(cells=[new_markdown_cell("intro"), cell("b"), new_code_cell("mine"), cell("e")])
    restored = restore(nb, [(n, cell(n)) for n in ["a", "c", "d", "e"]], order)
    assert restored == ["a", "c", "d"]
    sources = [c.source for c in nb.cells]
    assert sources == [NOTICE.format(name="a"), "a", "intro", "b", NOTICE.format(name="c"), "c",
                       NOTICE.format(name="d"), "d", "mine", "e"]


# ------------------------------------------------------------------ kernels (no kernel started)


@pytest.mark.parametrize(("kernelspec", "refused"), [
    (None, ""), ({"name": "python3"}, ""), ({"name": "python"}, ""),
    ({"name": "blarg", "language": "python"}, "not installed"),
])
def test_unknown_kernels_are_refused_as_nbgrader_refuses_them(kernelspec, refused):
    """Does a notebook asking for a kernel that is not installed raise a clear KernelUnavailable (nbgrader
    refuses it too), while no kernelspec, `python` and `python3` run ml4p's Python kernel?"""
    nb = new_notebook()
    if kernelspec:
        nb.metadata["kernelspec"] = kernelspec
    if refused:
        with pytest.raises(KernelUnavailable, match=refused):
            refuse_kernel(nb)
    else:
        refuse_kernel(nb)


# ------------------------------------------------------------------ a course, graded


def nbgrader_cli(course, *args, check=True):
    return subprocess.run([sys.executable, "-m", "nbgrader", "autograde", A, *args], cwd=course,
                          capture_output=True, text=True, check=check, timeout=600)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    if not sandbox.isolation_available():
        pytest.skip("bubblewrap unavailable")
    tmp = tmp_path_factory.mktemp("restore")
    materials = tmp / "materials"
    (materials / "assignments" / A).mkdir(parents=True)
    nbformat.write(source_notebook(), materials / "assignments" / A / f"{A}.ipynb")
    (materials / "autograder" / A).mkdir(parents=True)
    (materials / "autograder" / "conftest.py").write_text('pytest_plugins = ["ml4p.grading.plugin"]\n')
    (materials / "autograder" / A / "test_triple.py").write_text(CHECKS)
    root = create_course(tmp / "course", materials=materials, assignments=[A])
    release(A, course=root)
    reference = known_submissions(root, A)["reference"][0]
    released = nbformat.read(root / "release" / A / f"{A}.ipynb", as_version=4)
    v3 = nbformat.convert(copy.deepcopy(reference), 3)
    forged = copy.deepcopy(released)  # full marks written into the hidden-check cell by hand
    for c in forged.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == "triple":
            c.outputs = [new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    subs = {
        "good": reference,
        "no-hidden-checks": without(reference, "triple_visible_tests", "triple"),
        "no-locked-cells": without(reference, "setup", "triple_visible_tests", "triple", "answer_test"),
        "no-written-answer": without(reference, "written"),
        "no-solution-cell": without(reference, "triple_solution"),
        "no-cells": new_notebook(cells=[]),
    }
    for student, nb in subs.items():
        submit(root, student, A, nb)
    submit(root, "nbformat-3", A, reference).write_text(json.dumps(v3))
    done = {g.student: g for g in autograde(A, course=root, jobs=2, progress=False)}
    submit(root, "forged-outputs", A, forged)  # handed in later: ml4p never executed it
    return {"root": root, "done": done}


def scores(root):
    return {r.student: {p: s for p, (s, _) in r.parts.items()} for r in grades(course=root, assignment=A)}


def autograded(root, student):
    return nbformat.read(root / "autograded" / student / A / f"{A}.ipynb", as_version=4)


FULL = {"triple": 2, "answer_test": 1, "written": None}


@pytest.mark.parametrize("student", ["no-hidden-checks", "no-locked-cells", "no-written-answer", "nbformat-3"])
def test_deleted_locked_cells_are_put_back_and_graded(course, student):
    """Is a submission that lost its visible-tests and hidden-check cells (or every locked cell, or its
    manually graded answer), or that is nbformat 3, graded in full, with a note at each cell put back?"""
    assert course["done"][student].ok, course["done"][student].error
    # a manually graded answer put back is the released "YOUR ANSWER HERE": nbgrader scores it 0
    assert scores(course["root"])[student] == {**FULL, "written": 0 if student == "no-written-answer" else None}
    nb = autograded(course["root"], student)
    assert grade_ids(nb) == grade_ids(source_notebook()), grade_ids(nb)
    notes = [c.source for c in nb.cells if c.source.startswith("**ml4p:** the cell below")]
    missing = {"no-hidden-checks": ["triple_visible_tests", "triple"],
               "no-locked-cells": ["setup", "triple_visible_tests", "triple", "answer_test"],
               "no-written-answer": ["written"], "nbformat-3": []}[student]
    assert notes == [NOTICE.format(name=n) for n in missing]


def test_a_deleted_solution_cell_is_not_put_back(course):
    """Is a deleted solution cell (it holds no points) left out, so that the part it answered scores 0 and
    the rest is graded?"""
    assert course["done"]["no-solution-cell"].ok
    assert scores(course["root"])["no-solution-cell"] == {"triple": 0, "answer_test": 1, "written": None}
    assert "triple_solution" not in grade_ids(autograded(course["root"], "no-solution-cell"))


def test_a_notebook_without_cells_is_the_released_notebook_without_answers(course):
    """Is a notebook with no cells at all graded as the released notebook without its solution cells: 0
    points, every autograded cell saying why?"""
    assert course["done"]["no-cells"].ok, course["done"]["no-cells"].error
    assert scores(course["root"])["no-cells"] == {"triple": 0, "answer_test": 0, "written": 0}


def test_no_execute_takes_hidden_checks_only_from_mls_own_execution(course):
    """`nbgrader autograde --force --no-execute`: does a notebook ml4p executed keep its scores (from its
    execution), while outputs a student wrote into a hidden-check cell earn nothing?"""
    root = course["root"]
    nbgrader_cli(root, "--force", "--no-execute")
    found = scores(root)
    assert found["good"] == FULL and found["no-hidden-checks"] == FULL and found["no-solution-cell"]["triple"] == 0
    assert found["forged-outputs"]["triple"] == 0
    cell = next(c for c in autograded(root, "forged-outputs").cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "triple")
    assert [o.get("ename") for o in cell.outputs] == ["NotChecked"]


def test_force_executes_again(course):
    """Does `nbgrader autograde --force` execute again (as `ml4p autograde --force` does), while a run
    without it records ml4p's earlier execution?"""
    import shutil

    root = course["root"]
    cache = root / ".ml4p" / "executed" / A / "good" / f"{A}.json"
    entry = json.loads(cache.read_text())
    marker = "an earlier execution, marked"
    index = next(i for i, c in enumerate(autograded(root, "good").cells) if c.cell_type == "code")
    entry["outputs"][index] = [{"output_type": "stream", "name": "stdout", "text": marker}]
    cache.write_text(json.dumps(entry))
    shutil.rmtree(root / "autograded" / "good")  # nbgrader grades it again without --force
    nbgrader_cli(root, "--student=good")
    assert marker in json.dumps(autograded(root, "good").cells[index].outputs)
    nbgrader_cli(root, "--student=good", "--force")
    assert marker not in json.dumps(autograded(root, "good").cells[index].outputs)
    assert scores(root)["good"] == FULL
    assert marker not in cache.read_text()  # the new execution replaced the cached one


def test_a_notebook_with_an_unknown_kernel_is_not_run():
    """Does grading a notebook whose kernel is not installed stop before any kernel starts, saying why?"""
    from ml4p.grading.execute import grade_notebook

    nb = source_notebook(kernel="blarg")
    with pytest.raises(KernelUnavailable, match="'blarg', which is not installed"):
        grade_notebook(nb, assignment=A, source_dir=Path("."), checks_dir=Path("."), solutions_dir=None)
