"""Known submissions of an assignment: the solution, the blank release, known mistakes.

A *mistake* is a small file ``<course>/autograder/<a>/mistakes/<what>.py``::

    \"\"\"Counts every pair twice (sums over i != j).\"\"\"
    LOSES = ("energy",)          # the parts that must lose points, and no other

    def energy(x):
        ...

Its source is appended to the solution cell that defines its first function,
in an otherwise correct submission, so it overrides the right definition.
"""
from __future__ import annotations

import ast
import copy
import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


@dataclass(frozen=True)
class Mistake:
    name: str  # file stem, e.g. "double_counted_pairs"
    description: str  # the docstring's first line
    loses: tuple[str, ...]  # parts that must lose points
    source: str  # code appended to the solution cell
    function: str  # the first function it defines

    @property
    def student(self) -> str:
        return "mistake-" + self.name.replace("_", "-")


def load_mistakes(checks_dir: Path, assignment: str) -> list[Mistake]:
    mistakes = []
    for path in sorted((Path(checks_dir) / assignment / "mistakes").glob("*.py")):
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
        doc = (ast.get_docstring(tree) or path.stem).strip().splitlines()[0]
        loses = None
        functions = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LOSES" for t in node.targets):
                loses = tuple(ast.literal_eval(node.value))
            elif isinstance(node, ast.FunctionDef):
                functions.append(node.name)
        if not loses or not functions:
            raise ValueError(f"{path}: a mistake needs LOSES = (...) and at least one function")
        mistakes.append(Mistake(path.stem, doc, loses, source, functions[0]))
    return mistakes


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_solution(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def reference_notebook(source_nb, release_nb):
    """The release with every solution cell answered by the source's solution."""
    solutions = {_grade_id(c): c.source for c in source_nb.cells if _is_solution(c)}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if _is_solution(cell) and _grade_id(cell) in solutions:
            lines = solutions[_grade_id(cell)].splitlines()
            cell.source = "\n".join(line for line in lines if not SOLUTION_MARKERS.match(line))
    return nb


def with_mistake(reference_nb, mistake: Mistake):
    nb = copy.deepcopy(reference_nb)
    pattern = re.compile(rf"^def {re.escape(mistake.function)}\(", re.MULTILINE)
    for cell in nb.cells:
        if cell.cell_type == "code" and _is_solution(cell) and pattern.search(cell.source):
            cell.source = cell.source.rstrip() + "\n\n\n# A known mistake:\n" + mistake.source
            return nb
    raise ValueError(f"mistake {mistake.name}: no solution cell defines {mistake.function}()")


def submit(course: Path, student: str, assignment: str, nb, *, when: dt.datetime | None = None) -> Path:
    """Place a notebook where nbgrader expects a submission, with a timestamp."""
    folder = Path(course) / "submitted" / student / assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = folder / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    stamp = (when or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (folder / "timestamp.txt").write_text(stamp)
    return path


def known_submissions(course: Path, assignment: str) -> dict[str, tuple[object, tuple[str, ...] | None]]:
    """student id -> (notebook, parts that must lose points; None: all of them).

    ``reference`` loses nothing, ``blank`` loses everything, each mistake loses its parts.
    """
    course = Path(course)
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    reference = reference_notebook(source, release)
    subs = {"reference": (reference, ()), "blank": (release, None)}
    for m in load_mistakes(course / "autograder", assignment):
        subs[m.student] = (with_mistake(reference, m), m.loses)
    return subs


def exec_solution(assignment: str, grade_ids, scope: dict) -> dict:
    """Run the named solution cells of an assignment's source notebook in `scope`, as one module.

    The notebook is ``assignments/<assignment>/<assignment>.ipynb`` of this repository's
    materials. The source goes through a real file (AutoGraph reads the source of what it
    converts, so `tf.function` needs it) and the solution markers are dropped.
    """
    import tempfile

    from ml4p.course import materials_root

    notebook = materials_root() / "assignments" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    cells = {_grade_id(cell): cell for cell in nb.cells}
    missing = [g for g in grade_ids if g not in cells]
    if missing:
        raise ValueError(f"{notebook}: no cell with grade_id {', '.join(missing)}")
    source = "\n\n".join("\n".join(line for line in cells[g].source.splitlines() if not SOLUTION_MARKERS.match(line))
                         for g in grade_ids)
    path = Path(tempfile.mkdtemp(prefix="ml4p-solution-")) / f"{assignment}_solution.py"
    path.write_text(source)
    exec(compile(source, str(path), "exec"), scope)
    return scope
