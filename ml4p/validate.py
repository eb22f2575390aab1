"""`ml4p validate`: what a student runs before handing in (visible tests only).

The notebook runs top to bottom in a fresh kernel on the student's own
machine, as it will when graded (with nbgrader's ``NBGRADER_EXECUTION=validate``, so that
demonstrations no grade depends on are skipped, as they are when graded). Reported: cells that raise (a failing
visible test, a function still raising NotImplementedError, a bug) and
read-only cells that were edited (grading restores them). The hidden checks
run only when the notebook is graded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat


@dataclass
class Problem:
    cell: int  # 1-based, as Jupyter shows it
    what: str  # the cell's grade id, or its first line
    message: str


@dataclass
class Validation:
    notebook: Path
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        if self.ok:
            lines = [f"{self.notebook.name}: every cell runs and every visible test passes."]
        else:
            lines = [f"{self.notebook.name}: {len(self.problems)} problem(s)"]
            lines += [f"- cell {p.cell} ({p.what}): {p.message}" for p in self.problems]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


#: What nbgrader's validate sets for the kernel: notebooks skip their long demonstrations
#: (``if "NBGRADER_EXECUTION" not in os.environ``), as they do when graded.
VALIDATION_ENV = {"NBGRADER_EXECUTION": "validate", "NBGRADER_VALIDATING": "1"}


def _label(cell) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or (cell.source.strip().splitlines() or ["empty cell"])[0][:60]


def validate(notebook: Path | str, *, timeout: int = 600) -> Validation:
    """Run ``notebook`` in a fresh kernel and list what would cost points."""
    from nbclient import NotebookClient

    path = Path(notebook).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same answer
        return Validation(path, [Problem(0, "notebook", f"not a readable notebook: {exc}")])
    result = Validation(path)
    try:
        from nbgrader.utils import compute_checksum, is_locked
    except ModuleNotFoundError:  # a student's install (no grader): the cells run all the same
        result.notes.append("read-only cells were not compared with their originals: that needs nbgrader "
                            "(pip install nbgrader), which a student's install of ml4p leaves out")
    else:
        for i, cell in enumerate(nb.cells):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if is_locked(cell) and "checksum" in meta and meta["checksum"] != compute_checksum(cell):
                result.problems.append(Problem(i + 1, _label(cell), "a read-only cell was edited; grading "
                                               "restores the original, so your change will be lost"))
    NotebookClient(nb, timeout=timeout, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute(env={**os.environ, **VALIDATION_ENV})
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            # a hidden-check cell's PartNotReady repeats a failure of a cell above, reported there
            if out.output_type == "error" and out.ename != "PartNotReady":
                result.problems.append(Problem(i + 1, _label(cell), f"{out.ename}: {out.evalue}"[:300]))
    return result
