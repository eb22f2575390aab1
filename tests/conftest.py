"""Fixtures shared by the project's tests.

``checked_course(a)`` runs ``ml4p check <a> --combined`` (the solution, the blank release
and every known mistake, mistakes of different parts sharing a submission, graded in
sandboxed kernels, a minute or two per assignment) at most once per test session, in a
course that is kept: the conformance test (``test_assignments.py``) and an assignment's own
end-to-end tests read the same run instead of grading it again. ``ML4P_CHECK_EACH=1`` grades
each mistake alone, as ``ml4p check`` does (twice as long).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ml4p.check import Verdict


@dataclass(frozen=True)
class CheckedCourse:
    """A course in which ``ml4p check`` graded one assignment's known submissions."""

    root: Path
    verdicts: list[Verdict]

    @property
    def problems(self) -> list[str]:
        """What was not graded as it should be, one line per known submission."""
        return [f"{v.student}: {'; '.join(v.problems)}" for v in self.verdicts if not v.ok]


@pytest.fixture(scope="session")
def checked_course(tmp_path_factory) -> Callable[[str], CheckedCourse]:
    """``checked_course(assignment)``: that assignment checked in a kept course, once per session.

    Tests may add submissions to the course and grade them; the verdicts stay those of the
    check. A check that raised raises again for every test that asks for it, without a rerun.
    """
    from ml4p.check import check  # the grading engine, imported only by the tests that grade

    done: dict[str, CheckedCourse | Exception] = {}

    def checked(assignment: str) -> CheckedCourse:
        if assignment not in done:
            root = tmp_path_factory.mktemp(f"check-{assignment}") / "course"
            try:
                combined = os.environ.get("ML4P_CHECK_EACH", "") in ("", "0")
                done[assignment] = CheckedCourse(root, check(assignment, keep=root, progress=False, combined=combined))
            except Exception as exc:  # noqa: BLE001 - kept, and raised to each test that needs it
                done[assignment] = exc
        result = done[assignment]
        if isinstance(result, Exception):
            raise result
        return result

    return checked
