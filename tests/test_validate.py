"""`ml4p validate` tells a student, before handing in, what the grader will say of the visible tests.

The toy assignment with two visible tests after the solution (one worth a point, one not):
for a correct, a wrong and an unwritten submission, the cells ``ml4p validate`` reports
failing are exactly the cells that fail when ``ml4p autograde`` runs the notebook in the
sandbox, and a failing graded visible test scores 0 there.
"""
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell
from toy import A, nbgrader, write_materials

from ml4p.course import create_course
from ml4p.grading.autograde import autograde, grades
from ml4p.grading.submissions import reference_notebook, submit
from ml4p.release import release
from ml4p.validate import validate

VISIBLE = [
    new_code_cell("assert double(3) == 6, f'double(3) should be 6, not {double(3)}'",
                  metadata=nbgrader("double_visible", locked=True)),
    new_code_cell("import numpy as np\nassert np.allclose(double(np.arange(3)), [0, 2, 4])",
                  metadata=nbgrader("double_visible_graded", grade=True, locked=True, points=1)),
]


def failing_cells(nb) -> set[str]:
    """grade ids (or first lines) of the cells with an error output, hidden-check cells left out."""
    failing = set()
    for cell in nb.cells:
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            failing.add(cell.metadata.get("nbgrader", {}).get("grade_id") or cell.source.splitlines()[0])
    return failing


@pytest.mark.slow
def test_validate_and_the_grader_agree_on_the_visible_tests(tmp_path):
    course = create_course(tmp_path / "course", materials=write_materials(tmp_path / "m", VISIBLE), assignments=[A])
    released = nbformat.read(release(A, course=course) / f"{A}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    right = reference_notebook(source, released)
    wrong = reference_notebook(source, released)
    for cell in wrong.cells:
        if "return 2 * np.asarray(x)" in cell.source:
            cell.source = cell.source.replace("return 2 * np.asarray(x)", "return np.asarray(x) + 2")
    submissions = {"right": right, "wrong": wrong, "blank": released}

    told = {}
    for student, nb in submissions.items():
        path = tmp_path / f"{student}.ipynb"
        nbformat.write(nb, path)
        result = validate(path)
        told[student] = {p.what for p in result.problems}
        submit(course, student, A, nb)
    assert told["right"] == set()
    assert told["wrong"] == {"double_visible", "double_visible_graded"}
    assert told["blank"] >= {"double_visible", "double_visible_graded"}

    done = autograde(A, course=course, jobs=2, progress=False)
    assert all(g.ok for g in done)
    for student in submissions:
        graded = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)
        assert failing_cells(graded) == told[student], student
    scores = {g.student: g.score for g in grades(course=course, assignment=A)}
    assert scores == {"right": 3.0, "wrong": 0.0, "blank": 0.0}


def test_nbgraders_own_validate_names_a_part_whose_functions_fail(tmp_path):
    """With nbgrader's default settings its Validate looks only at graded cells, the hidden-check cells here: does
    the blank release fail there with the unwritten function named, and the finished notebook pass?"""
    from nbgrader.validator import Validator

    course = create_course(tmp_path / "course", materials=write_materials(tmp_path / "m", VISIBLE), assignments=[A])
    released = nbformat.read(release(A, course=course) / f"{A}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    for name, nb in (("blank", released), ("finished", reference_notebook(source, released))):
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    blank = Validator().validate(str(tmp_path / "blank.ipynb"))
    failed = [cell for cell in blank.get("failed", []) if 'hidden_checks("double")' in cell["source"]]
    assert failed and "NotImplementedError" in failed[0]["error"], blank
    assert "PartNotReady" in failed[0]["error"]
    finished = Validator().validate(str(tmp_path / "finished.ipynb"))
    assert not finished.get("failed") and not finished.get("changed"), finished


def test_the_stand_in_fails_only_under_validation_and_only_after_a_failure(tmp_path):
    """Run by hand, the hidden-check cell only explains itself; under validation it fails after a failing cell,
    and the next part, whose cells ran, passes again."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_notebook

    cells = [new_code_cell("from ml4p.grading.cell import hidden_checks\nraise NotImplementedError('write me')"),
             new_code_cell("hidden_checks('first')"), new_code_cell("x = 1"), new_code_cell("hidden_checks('second')")]
    for validating in (True, False):
        nb = new_notebook(cells=[c.copy() for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("NBGRADER_")}
        if validating:
            env["NBGRADER_EXECUTION"] = "validate"
        NotebookClient(nb, allow_errors=True, timeout=120).execute(env=env)
        first, second = nb.cells[1].outputs, nb.cells[3].outputs
        assert [o.output_type for o in second] == ["stream"]
        if validating:
            assert first[0].output_type == "error" and first[0].ename == "PartNotReady"
            assert "NotImplementedError: write me" in first[0].evalue
        else:
            assert [o.output_type for o in first] == ["stream"] and "run when your notebook is graded" in first[0].text
