"""Release an assignment to students (nbgrader's generate_assignment)."""
from __future__ import annotations

from pathlib import Path

from ml4p.course import CourseError, find_course, nbgrader_api


def release(assignment: str, *, course: Path | str | None = None) -> Path:
    """Make the student version of ``assignment``; returns the released folder."""
    root = find_course(course)
    if not (root / "source" / assignment / f"{assignment}.ipynb").is_file():
        raise CourseError(f"no source notebook source/{assignment}/{assignment}.ipynb in {root}")
    result = nbgrader_api(root).generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise CourseError(f"nbgrader could not release {assignment}:\n{result.get('error') or result.get('log')}")
    return root / "release" / assignment
