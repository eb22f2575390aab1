"""Known submissions of an assignment: the solution, the blank release, known mistakes.

A *mistake* is a small file ``<course>/autograder/<a>/mistakes/<what>.py``::

    \"\"\"Counts every pair twice (sums over i != j).\"\"\"
    LOSES = ("energy",)          # the parts that must lose points, and no other
    DEGENERATE = False           # optional: True, or some of LOSES: they must score <= 10 %

    def energy(x):
        ...

In an otherwise correct submission, each function is appended to the solution cell
that defines it, so it overrides the right definition (one file can answer several
cells: a whole submission of zeros). Functions no solution cell defines are helpers,
and go, with everything else in the file, into the earliest of those cells.

A *degenerate* mistake is an answer with no physics in it (zeros, a constant, the input
echoed, random numbers, a chain that never moves, a model never trained, the visible
test's expected value copied): ``ml4p check`` requires it to score at most
``DEGENERATE_AT_MOST`` of the points of each part it names, and every part to have one.
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
DEGENERATE_AT_MOST = 0.1  # of a part's points, for a degenerate mistake


def split_at_markers(nb) -> tuple[list[str], list[str]]:
    """The notebook's source lines outside and inside the solution markers (markers left out)."""
    outside, inside = [], []
    for cell in nb.cells:
        within = False
        for line in cell.source.splitlines():
            if SOLUTION_MARKERS.match(line):
                within = not within
            else:
                (inside if within else outside).append(line)
    return outside, inside


@dataclass(frozen=True)
class Mistake:
    name: str  # file stem, e.g. "double_counted_pairs"
    loses: tuple[str, ...]  # parts that must lose points
    source: str  # code appended to the solution cells
    function: str  # the first function it defines
    degenerate: tuple[str, ...] = ()  # parts it must score (almost) nothing on

    @property
    def student(self) -> str:
        return "mistake-" + self.name.replace("_", "-")


def load_mistakes(checks_dir: Path, assignment: str) -> list[Mistake]:
    mistakes = []
    for path in sorted((Path(checks_dir) / assignment / "mistakes").glob("*.py")):
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
        loses, degenerate = None, False
        functions = []
        for node in tree.body:
            names = [getattr(t, "id", None) for t in node.targets] if isinstance(node, ast.Assign) else []
            if "LOSES" in names:
                loses = tuple(ast.literal_eval(node.value))
            elif "DEGENERATE" in names:
                degenerate = ast.literal_eval(node.value)
            elif isinstance(node, ast.FunctionDef):
                functions.append(node.name)
        if not loses or not functions:
            raise ValueError(f"{path}: a mistake needs LOSES = (...) and at least one function")
        if degenerate is True:
            degenerate = loses
        elif degenerate is False:
            degenerate = ()
        elif isinstance(degenerate, str):
            degenerate = (degenerate,)
        if not isinstance(degenerate, tuple) or not set(degenerate) <= set(loses):
            raise ValueError(f"{path}: DEGENERATE is True, False, or some of the parts in LOSES")
        mistakes.append(Mistake(path.stem, loses, source, functions[0], degenerate))
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
    """``reference_nb`` with each of the mistake's functions appended to the cell defining it."""
    nb = copy.deepcopy(reference_nb)
    lines = mistake.source.splitlines()
    tree = ast.parse(mistake.source)

    def segment(node) -> str:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        return "\n".join(lines[first - 1:node.end_lineno])

    def cell_defining(name: str) -> int | None:
        pattern = re.compile(rf"^def {re.escape(name)}\(", re.MULTILINE)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and _is_solution(cell) and pattern.search(cell.source):
                return i
        return None

    placed: dict[int, list[str]] = {}
    rest: list[str] = []
    for node in tree.body:
        where = cell_defining(node.name) if isinstance(node, ast.FunctionDef) else None
        if where is None:
            rest.append(segment(node))
        else:
            placed.setdefault(where, []).append(segment(node))
    if not placed:
        raise ValueError(f"mistake {mistake.name}: no solution cell defines {mistake.function}()")
    if len(placed) == 1:  # the common case: the file as it is
        placed = {min(placed): [mistake.source.strip()]}
    else:
        placed[min(placed)] = rest + placed[min(placed)]
    for i, parts in placed.items():
        nb.cells[i].source = nb.cells[i].source.rstrip() + "\n\n\n# A known mistake:\n" + "\n\n\n".join(parts) + "\n"
    return nb


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


def known_submissions(course: Path, assignment: str, *,
                      mistakes: bool = True) -> dict[str, tuple[object, tuple[str, ...] | None]]:
    """student id -> (notebook, parts that must lose points; None: all of them).

    ``reference`` loses nothing, ``blank`` loses everything, each mistake loses its parts
    (``mistakes=False``: the first two only).
    """
    course = Path(course)
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    reference = reference_notebook(source, release)
    subs = {"reference": (reference, ()), "blank": (release, None)}
    for m in load_mistakes(course / "autograder", assignment) if mistakes else ():
        subs[m.student] = (with_mistake(reference, m), m.loses)
    return subs


def known_degenerate(course: Path, assignment: str) -> dict[str, tuple[str, ...]]:
    """student id -> the parts that known submission must score (almost) nothing on."""
    return {m.student: m.degenerate for m in load_mistakes(Path(course) / "autograder", assignment)}


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
