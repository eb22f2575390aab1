"""Grading a class in parallel, with one writer to the gradebook.

nbgrader's autograde is serial and writes the gradebook from the process that
grades; several processes writing one SQLite file lock each other out. So the
work is split in two:

1. *execute* (parallel: a process pool, or a Dask cluster): each submission is
   sanitised as nbgrader does, run in its own sandboxed kernel, checked, and
   the executed cells are stored atomically in the course's cache
   (``cache.py``: ``<course>/.ml4p/executed/<assignment>/<student>/<notebook>.json``),
   keyed by a hash of what was executed and of the checks. Nothing is written to the gradebook.
2. *record* (serial, this process): nbgrader's own autograde runs per student;
   its execute step (``SandboxedExecute``) finds the cached cells for exactly
   that notebook and uses them, and nbgrader writes the gradebook.

A run killed at any moment loses no finished execution (the cache entries are
complete or absent) and no finished grade (nbgrader commits per student);
running again executes only what is missing.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ml4p.course import load_config
from ml4p.grading import cache, files
from ml4p.grading.execute import SandboxedExecute, grade_notebook
from ml4p.grading.restore import sanitize_preprocessors


@dataclass
class Executed:
    """What executing one submission came to (a worker's answer to the recording process)."""

    student: str
    ok: bool
    seconds: float
    error: str = ""
    refused: bool = False  # unsafe files (links, devices, too much): nbgrader must not see it either


def sanitize(course: Path, assignment: str, student: str):
    """The submission as nbgrader's autograde will hand it to the execute step."""
    config = load_config(Path(course))
    folder = Path(course) / "submitted" / student / assignment
    nb = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    resources = {"nbgrader": {"student": student, "assignment": assignment, "notebook": assignment,
                              "db_url": config.CourseDirectory.db_url},
                 "metadata": {"path": str(folder)}}
    _refuse_duplicate_grade_ids(nb)
    for pp in sanitize_preprocessors():
        try:
            nb, resources = pp(config=config).preprocess(nb, resources)
        except Exception as exc:  # the step that failed and its own words: never a guessed cause
            raise ValueError(f"nbgrader's {pp.__name__} could not sanitise the notebook "
                             f"({type(exc).__name__}: {exc})") from exc
    return nb, folder


def _refuse_duplicate_grade_ids(nb) -> None:
    """nbgrader keeps the first cell of a grade id and empties the others' metadata, then fails on them
    (a KeyError that reads as if cells were deleted): say what happened instead."""
    ids = Counter(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in nb.cells)
    twice = sorted(f"`{grade_id}` ({n} cells)" for grade_id, n in ids.items() if grade_id and n > 1)
    if twice:
        raise ValueError(f"several cells carry the same grade id: {', '.join(twice)}. A copied graded or locked "
                         "cell keeps its nbgrader metadata, which nbgrader cannot grade; delete the copies (or "
                         "resubmit from the released notebook)")


def execute_one(course: str, assignment: str, student: str, *, threads: int = 1, force: bool = False) -> Executed:
    """Sanitise, run and check one submission; store the executed cells. Safe to run in parallel."""
    start = time.monotonic()
    course = Path(course)
    try:
        files.inspect(course / "submitted" / student / assignment, below=course / "submitted")  # before any read
    except files.UnsafeSubmission as exc:
        return Executed(student, False, time.monotonic() - start, error=f"refused: {exc}", refused=True)
    try:
        config = load_config(course)
        settings = SandboxedExecute(config=config)
        fingerprint = cache.checks_fingerprint(Path(settings.checks_dir), assignment,
                                               Path(settings.solutions_dir) if settings.solutions_dir else None)
        nb, folder = sanitize(course, assignment, student)
        key = cache.execution_key(nb, fingerprint)
        path = cache.cache_file(course, assignment, student)
        if not force and cache.load(path, key) is not None:
            return Executed(student, True, time.monotonic() - start)  # executed by an earlier run
        limits = settings.limits(threads=threads)
        grade_notebook(nb, assignment=assignment, source_dir=folder, checks_dir=Path(settings.checks_dir),
                       solutions_dir=Path(settings.solutions_dir) if settings.solutions_dir else None,
                       limits=limits, ro_binds=[Path(d) for d in settings.data_dirs],
                       data_env=dict(settings.data_env), timeout=settings.cell_timeout(),
                       notebook_timeout=settings.notebook_timeout, checks_timeout=settings.checks_timeout,
                       output_limit=settings.output_limit)
        cache.store(path, key, nb, time.monotonic() - start)
        return Executed(student, True, time.monotonic() - start)
    except Exception as exc:  # noqa: BLE001 - a broken submission must not stop the batch
        return Executed(student, False, time.monotonic() - start, error=f"{type(exc).__name__}: {exc}")
