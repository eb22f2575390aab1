"""Deleted locked cells put back: the sanitising step of nbgrader's autograde, made whole.

Students delete cells by accident. nbgrader's ``OverwriteCells.add_missing_cells`` puts a
deleted *grade* cell back after the grade or solution cell that precedes it in the source,
and fails (a ``KeyError``) when that neighbour is an ordinary locked cell, as ml4p's
visible-tests cells are: a submission missing one hidden-check cell was refused as if
several cells were gone. ``RestoreCells`` runs first and puts back every cell of the
released notebook that the submission lacks and that the student could not have meant to
replace: locked cells (setup, visible tests, hidden checks), grade cells (also manually
graded answers, as nbgrader does) and task cells, each at its place (after the nearest
cell that precedes it in the release and is still there), with its released source, and a
note above it saying so. A deleted solution cell is *not* put back: it holds no points, and
its stub would overwrite the student's own code if they moved it elsewhere.

What the released notebook holds comes from the gradebook (as nbgrader's ``OverwriteCells``
takes it); the order of its cells from the released file, ``release/<a>/<notebook>.ipynb``,
where it is (the gradebook keeps no order), else the gradebook's own order.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import OverwriteCells

NOTICE = ("**ml4p:** the cell below (`{name}`) was missing from this submission; it was put back from the "
          "released notebook and graded as released.")


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


class RestoreCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, after putting back every deleted locked, grade or task cell."""

    def preprocess(self, nb, resources):
        notebook, assignment = resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            try:
                source = gb.find_notebook(notebook, assignment)
            except MissingEntry:
                return super().preprocess(nb, resources)  # nbgrader says what is wrong
            points = {c.name: float(c.max_score) for c in [*source.grade_cells, *source.task_cells]}
            solutions = {c.name for c in source.solution_cells}
            tasks = {c.name for c in source.task_cells}
            cells = {c.name: _released_cell(c, points.get(c.name), c.name in solutions, c.name in tasks)
                     for c in source.source_cells}
        order = self._release_order(assignment, notebook) or list(cells)
        order += [name for name in cells if name not in order]
        restorable = [name for name in order if name in cells and _restorable(cells[name])]
        restored = restore(nb, [(name, cells[name]) for name in restorable], order)
        if restored:
            self.log.warning("Cells missing from the submission, put back from the released notebook: %s",
                             ", ".join(restored))
            resources.setdefault("ml4p", {})["restored_cells"] = restored
        return super().preprocess(nb, resources)

    def _release_order(self, assignment: str, notebook: str) -> list[str]:
        """The grade ids of the released notebook, in its order ([] when the file is not there)."""
        course = CourseDirectory(config=self.config)
        path = Path(course.format_path(course.release_directory, ".", assignment)) / f"{notebook}.ipynb"
        try:
            released = nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            return []
        return [name for name in map(grade_id, released.cells) if name]


def restore(nb, missing: list[tuple[str, object]], order: list[str]) -> list[str]:
    """Insert each ``(name, cell)`` whose grade id ``nb`` lacks after the nearest cell that precedes it in
    ``order`` and is in ``nb`` (at the top when none is), with a note above it; returns the names put back."""
    restored = []
    for name, cell in missing:
        present = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
        if name in present:
            continue
        before = order[:order.index(name)]
        previous = next((present[n] for n in reversed(before) if n in present), None)
        at = 0 if previous is None else previous + 1
        nb.cells[at:at] = [new_markdown_cell(NOTICE.format(name=name)), cell]
        restored.append(name)
    return restored


def _restorable(cell) -> bool:
    meta = cell.metadata.nbgrader
    return bool(meta.get("grade") or meta.get("task") or meta.get("locked"))


def _released_cell(source_cell, points: float | None, solution: bool, task: bool):
    """The cell as released, from its gradebook record (its checksum matches, so nbgrader accepts it)."""
    meta = {"grade": points is not None and not task, "grade_id": source_cell.name, "locked": source_cell.locked,
            "solution": solution, "checksum": source_cell.checksum, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    if task:
        meta["task"] = True
    metadata = {"nbgrader": meta, **({} if solution else {"editable": False, "deletable": False})}
    make = new_code_cell if source_cell.cell_type == "code" else new_markdown_cell
    return make(source_cell.source or "", metadata=metadata)


def sanitize_preprocessors() -> list:
    """nbgrader's autograde sanitising steps with ``RestoreCells`` in place of ``OverwriteCells``."""
    from nbgrader.converters.autograde import Autograde

    return [RestoreCells if p is OverwriteCells else p for p in Autograde.class_traits()["sanitize_preprocessors"].default()]
