"""`ml4p validate` tells a student, before handing in, what the grader will say of the visible tests.

The toy assignment with two visible tests after the solution (one worth a point, one not):
for a correct, a wrong and an unwritten submission, the cells ``ml4p validate`` reports
failing are exactly the cells that fail when ``ml4p autograde`` runs the notebook in the
sandbox, and a failing graded visible test scores 0 there.
"""
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
