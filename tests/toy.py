"""A tiny assignment for tests of the grading machinery: no TensorFlow, kernels start in ~1 s.

Part `double` (2 points): ``double(x)`` returns ``2 * x`` for an array.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

A = "toy"


def nbgrader(grade_id, *, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
            "schema_version": 3, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook(extra_cells=()):
    cells = [
        new_markdown_cell("# Toy\n\nWrite `double(x)`."),
        new_code_cell("import numpy as np", metadata=nbgrader("setup", locked=True)),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * np.asarray(x)\n    ### END SOLUTION",
                      metadata=nbgrader("double_solution", solution=True)),
        *extra_cells,
        new_code_cell('# Hidden checks for `double` (2 points): run by the ml4p grader outside this notebook.\n'
                      'from ml4p.grading.cell import hidden_checks\nhidden_checks("double")',
                      metadata=nbgrader("double", grade=True, locked=True, points=2)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


CHECKS = '''
import numpy as np
import pytest

from ml4p.grading.numerics import assert_close


@pytest.mark.points(1)
def test_scalar(student):
    """double(3.0) is 6"""
    assert_close(student.call("double", np.array(3.0)), np.array(6.0), what="double(3.0)")


@pytest.mark.points(1)
def test_array(student, rng):
    """double doubles every element of an array"""
    x = rng.normal(size=(4, 3))
    assert_close(student.call("double", x), 2 * x, what="double(x)")
'''

MISTAKE = '''"""Adds instead of multiplying."""
LOSES = ("double",)


def double(x):
    return np.asarray(x) + 2
'''


DEGENERATE_MISTAKE = '''"""Returns its input: no doubling at all."""
LOSES = ("double",)
DEGENERATE = True


def double(x):
    return np.asarray(x)
'''


def write_materials(root: Path, extra_cells=()) -> Path:
    """A materials folder (assignments/, autograder/, solutions/) holding the toy assignment."""
    (root / "assignments" / A).mkdir(parents=True)
    nbformat.write(source_notebook(extra_cells), root / "assignments" / A / f"{A}.ipynb")
    checks = root / "autograder" / A
    (checks / "mistakes").mkdir(parents=True)
    (root / "autograder" / "conftest.py").write_text('pytest_plugins = ["ml4p.grading.plugin"]\n')
    (checks / "test_double.py").write_text(textwrap.dedent(CHECKS))
    (checks / "mistakes" / "adds.py").write_text(MISTAKE)
    (checks / "mistakes" / "echoes.py").write_text(DEGENERATE_MISTAKE)
    return root
