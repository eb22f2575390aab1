"""The rules every assignment keeps (docs/authoring.md), checked for each folder in assignments/.

The assignments are found by listing the folder when the tests are collected, so a new one
is checked the day it appears. The two slow checks read one ``ml4p check`` run per
assignment, shared with the assignments' own tests (``checked_course`` in conftest.py).
"""
from __future__ import annotations

import ast
import functools
import importlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ml4p.course import create_course, materials_root
from ml4p.grading.checks import parts_with_checks
from ml4p.grading.submissions import SOLUTION_MARKERS, load_mistakes, split_at_markers, with_mistake
from ml4p.release import release

ROOT = materials_root()
ASSIGNMENTS = sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir() and not p.name.startswith("."))
#: The whole source of a hidden-check cell, comments aside (the grader skips the cell; in the
#: student's kernel it only says where the checks run).
STAND_IN = 'from ml4p.grading.cell import hidden_checks\nhidden_checks({part!r})'
#: Lines at least this long (stripped) are distinctive enough to look for in the release.
DISTINCTIVE = 25

pytestmark = pytest.mark.parametrize("assignment", ASSIGNMENTS)


def notebook_path(assignment: str) -> Path:
    return ROOT / "assignments" / assignment / f"{assignment}.ipynb"


@functools.cache
def source(assignment: str):
    """The source notebook; a folder without ``<a>.ipynb`` fails here, saying what it holds."""
    path = notebook_path(assignment)
    if not path.is_file():
        held = sorted(p.name for p in path.parent.iterdir()) or ["nothing"]
        pytest.fail(f"assignments/{assignment}/ has no {path.name} (the notebook is named after its folder); "
                    f"it holds: {', '.join(held)}")
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def autograded_cells(nb) -> dict[str, object]:
    """grade id -> cell, for the autograded-test cells (graded, not a solution: a hidden-check cell)."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if c.cell_type == "code" and nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def test_notebook_is_named_after_its_folder(assignment):
    """Does assignments/<a>/ hold exactly one notebook, <a>.ipynb (others would be skipped or released unasked)?"""
    folder = ROOT / "assignments" / assignment
    notebooks = sorted(p.name for p in folder.glob("*.ipynb"))
    source(assignment)  # fails, naming what the folder holds, if <a>.ipynb is missing
    assert notebooks == [f"{assignment}.ipynb"], f"assignments/{assignment}/ holds the notebooks {notebooks}"


def test_every_part_has_checks_and_every_check_a_part(assignment):
    """Does every autograded cell have autograder/<a>/test_<part>.py, with points, and every test file a cell?"""
    cells = autograded_cells(source(assignment))
    checks = parts_with_checks(ROOT / "autograder", assignment)
    assert cells, "no autograded part: a hidden-check cell has nbgrader metadata grade=True, solution=False"
    unchecked, orphans = sorted(set(cells) - checks), sorted(checks - set(cells))
    assert not unchecked, f"autograded cells without autograder/{assignment}/test_<part>.py: {unchecked}"
    assert not orphans, f"test files whose part has no hidden-check cell in the notebook: {orphans}"
    unscored = [part for part, cell in cells.items() if not float(nbgrader_meta(cell).get("points", 0)) > 0]
    assert not unscored, f"hidden-check cells without points: {unscored}"


def test_hidden_check_cells_hold_only_the_stand_in(assignment):
    """Is each hidden-check cell locked and its code only `from ml4p.grading.cell import hidden_checks`,
    `hidden_checks("<part>")` (comments aside)?"""
    for part, cell in autograded_cells(source(assignment)).items():
        assert nbgrader_meta(cell).get("locked"), f"the hidden-check cell {part!r} is not locked"
        assert ast.dump(ast.parse(cell.source)) == ast.dump(ast.parse(STAND_IN.format(part=part))), (
            f"the hidden-check cell {part!r} holds more than the stand-in:\n{cell.source}")


def test_every_part_has_known_mistakes(assignment):
    """Does every part have a known mistake and a degenerate one, does each mistake's LOSES name parts
    that exist, and does each replace a function that a solution cell defines?"""
    nb = source(assignment)
    parts = set(autograded_cells(nb))
    mistakes = load_mistakes(ROOT / "autograder", assignment)
    for m in mistakes:
        assert set(m.loses) <= parts, f"mistakes/{m.name}.py: LOSES names {sorted(set(m.loses) - parts)}, not parts"
        with_mistake(nb, m)  # raises if no solution cell defines its function
    uncaught = sorted(parts - {p for m in mistakes for p in m.loses})
    assert not uncaught, f"parts without a known mistake (autograder/{assignment}/mistakes/): {uncaught}"
    undegenerate = sorted(parts - {p for m in mistakes for p in m.degenerate})
    assert not undegenerate, f"parts without a DEGENERATE mistake: {undegenerate}"


def test_oracle_imports(assignment, tmp_path):
    """Does solutions/<a>.py import, in the tree and in a course made for <a> alone (where the
    checks import it as `from solutions import <a>`, and no other assignment's oracle is)?"""
    assert (ROOT / "solutions" / f"{assignment}.py").is_file(), f"no oracle solutions/{assignment}.py"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    importlib.import_module(f"solutions.{assignment}")
    course = create_course(tmp_path / "course", assignments=[assignment])
    alone = subprocess.run([sys.executable, "-c", f"from solutions import {assignment}"], cwd=course,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(course)})
    assert alone.returncode == 0, f"the oracle does not import in a course of its own: {alone.stderr[-500:]}"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """``released(a)``: the student version of ``a``, made by ``ml4p release`` in a scratch course."""
    done: dict[str, Path] = {}

    def make(assignment: str) -> Path:
        if assignment not in done:
            course = create_course(tmp_path_factory.mktemp(f"release-{assignment}"), assignments=[assignment])
            done[assignment] = release(assignment, course=course, force=True) / f"{assignment}.ipynb"
        return done[assignment]

    return make


def public_text(nb) -> str:
    """The source notebook without what lies between the solution markers: what students see anyway."""
    return "\n".join(split_at_markers(nb)[0])


def solution_lines(nb) -> list[str]:
    """Distinctive lines between the solution markers that the public part does not hold."""
    public = public_text(nb)
    return [line.strip() for line in split_at_markers(nb)[1]
            if len(line.strip()) >= DISTINCTIVE and line.strip() not in public]


def hidden_lines(assignment: str, nb) -> list[str]:
    """Distinctive code lines of the hidden checks, references, mistakes and oracle that the public
    part of the notebook does not hold (given code that the checks repeat may stay)."""
    files = [*sorted((ROOT / "autograder" / assignment).rglob("*.py")), ROOT / "solutions" / f"{assignment}.py"]
    public = public_text(nb)
    return [line.strip() for f in files for line in f.read_text().splitlines()
            if len(line.strip()) >= DISTINCTIVE and not line.strip().startswith(("#", '"""', "import", "from"))
            and line.strip() not in public]


def test_release_holds_no_solution_hidden_or_oracle_line(assignment, released):
    """Does `ml4p release` leave out every solution line, all hidden-check, reference and mistake source
    and the oracle, and keep the hidden-check cells as stand-ins?"""
    nb = source(assignment)
    out = nbformat.read(released(assignment), as_version=4)
    body = "\n".join(c.source for c in out.cells)
    secret = solution_lines(nb)
    assert secret, "no distinctive solution line to look for: are the solutions between the markers?"
    leaked = [line for line in secret + hidden_lines(assignment, nb) if line in body]
    assert not leaked, f"the release holds {len(leaked)} hidden line(s), e.g. {leaked[:3]}"
    assert not any(SOLUTION_MARKERS.match(line) for line in body.splitlines()), "solution markers left in"
    assert {p: c.source for p, c in autograded_cells(out).items()} == {
        p: c.source for p, c in autograded_cells(nb).items()}


@pytest.mark.slow
def test_ml4p_check_passes(assignment, checked_course):
    """Does `ml4p check <a> --combined` pass: solution full marks, blank 0, each submission of
    mistakes losing exactly their parts, each degenerate one at most 10 %?"""
    assert not checked_course(assignment).problems


@pytest.mark.slow
def test_solution_runs_top_to_bottom(assignment, checked_course):
    """Does the solution notebook, as graded in the sandbox, run every cell without an error or
    a line on stderr (which nbgrader scores 0 in a graded cell)?"""
    path = checked_course(assignment).root / "autograded" / "reference" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    failed = [(i, o.get("ename") or o.get("text", "")[:200]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")]
    assert not failed, f"cells with an error or stderr (index, what): {failed[:3]}"
