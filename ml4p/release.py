"""Release an assignment to students (nbgrader's generate_assignment).

Assignments that build on others. Some assignments hand out, as given code, what an
earlier one asks students to write (the tuning notebook gives away the Coulomb gas
``energy`` and the MNIST model). Such a source notebook names those assignments in its
metadata, which travels with it into ``<course>/source/<a>/`` and the release::

    nb.metadata["ml4p"] = {"builds_on": ["coulomb_gas", "mnist"]}

The rule: it is released only once every assignment it builds on is past its due date,
nbgrader's due date in the course's gradebook (set with
``nbgrader db assignment add coulomb_gas --duedate="2025-03-07 17:00:00 UTC"`` or the
formgrader), extensions granted there included, since a student with an extension is still
writing the code. One with no due date (or not in the gradebook at all) refuses the release
too: nothing says its solutions are no longer secret, so the instructor sets its due date.
``force=True`` (``ml4p release --force``) releases regardless, for scratch courses and for
an instructor who decides the code may go out.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat

from ml4p.course import CourseError, find_course, gradebook, nbgrader_api

DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"  # as nbgrader's --duedate reads it


class ReleaseRefused(CourseError):
    """An assignment it builds on is not past its due date; the message says which and how to override."""


def release(assignment: str, *, course: Path | str | None = None, force: bool = False) -> Path:
    """Make the student version of ``assignment``; returns the released folder.

    Refuses (:class:`ReleaseRefused`) while an assignment it builds on is not past its due
    date, unless ``force``.
    """
    root = find_course(course)
    source = root / "source" / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        raise CourseError(f"no source notebook source/{assignment}/{assignment}.ipynb in {root}")
    if not force:
        _refuse_before_due_dates(root, assignment, builds_on(source))
    result = nbgrader_api(root).generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise CourseError(f"nbgrader could not release {assignment}:\n{result.get('error') or result.get('log')}")
    return root / "release" / assignment


def builds_on(notebook: Path) -> list[str]:
    """The assignments a source notebook declares it builds on (``metadata.ml4p.builds_on``)."""
    names = nbformat.read(notebook, as_version=4).metadata.get("ml4p", {}).get("builds_on", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CourseError(f"{notebook}: metadata ml4p.builds_on must be a list of assignment names, not {names!r}")
    return names


def deadline(root: Path, assignment: str) -> dt.datetime | None:
    """The latest due date of ``assignment`` in the gradebook (naive UTC), extensions included; None: none set."""
    from nbgrader.api import MissingEntry

    with gradebook(root) as gb:
        try:
            entry = gb.find_assignment(assignment)
        except MissingEntry:
            return None
        if entry.duedate is None:
            return None
        return max([entry.duedate, *(s.duedate for s in entry.submissions if s.extension)])


def _refuse_before_due_dates(root: Path, assignment: str, dependencies: list[str]) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # the gradebook's dates are naive UTC
    reasons = []
    for name in dependencies:
        due = deadline(root, name)
        if due is None:
            reasons.append(f"{name} has no due date in the gradebook (set it with "
                           f'`nbgrader db assignment add {name} --duedate="YYYY-MM-DD HH:MM:SS UTC"`)')
        elif due > now:
            reasons.append(f"{name} is due {due.strftime(DATE_FORMAT)}, not yet passed")
    if reasons:
        raise ReleaseRefused(
            f"not releasing {assignment}: it builds on {', '.join(dependencies)} and hands out code their "
            f"students are asked to write, but {'; '.join(reasons)}. Release it once their due dates have "
            f"passed, or override with `ml4p release {assignment} --force`.")
