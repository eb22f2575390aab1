"""`ml4p check` and `ml4p demo`: grade the known submissions and judge the grades.

The solution must get full marks on every autograded part, the blank release
0 on each, and every known mistake must lose points on exactly the parts it
declares (``LOSES``) and keep full marks elsewhere; a degenerate one
(``DEGENERATE``: zeros, constants, echoes, ...) may keep at most 10 % of the
points of each part it names, and every autograded part must have one.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ml4p.course import create_course, materials_root
from ml4p.grading.autograde import GradedSubmission, GradeRow, autograde, grades
from ml4p.grading.checks import parts_with_checks
from ml4p.grading.submissions import DEGENERATE_AT_MOST, known_degenerate, known_submissions, submit
from ml4p.release import release


@dataclass
class Verdict:
    student: str
    assignment: str
    expected: str  # "full marks", "0", or "loses points on: ..."
    row: GradeRow | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(student: str, assignment: str, loses: tuple[str, ...] | None, row: GradeRow | None,
          autograded: set[str], degenerate: tuple[str, ...] = ()) -> Verdict:
    """Compare the grades of a known submission with what it should get.

    ``degenerate``: parts (of ``loses``) on which it may keep at most ``DEGENERATE_AT_MOST``
    of the points.
    """
    if loses is None:
        expected = "0"
    elif not loses:
        expected = "full marks"
    else:
        near_zero = [p for p in loses if p in degenerate]
        others = [p for p in loses if p not in degenerate]
        expected = "; ".join(([f"≤ {DEGENERATE_AT_MOST:.0%} on: " + ", ".join(near_zero)] if near_zero else [])
                             + (["loses points on: " + ", ".join(others)] if others else []))
    verdict = Verdict(student, assignment, expected, row)
    if row is None:
        verdict.problems.append("was not graded")
        return verdict
    for part in sorted(autograded):
        score, max_score = row.parts.get(part, (None, 0.0))
        if score is None:
            verdict.problems.append(f"{part}: no score")
        elif loses is None and score > 0:
            verdict.problems.append(f"{part}: {score:g}/{max_score:g}, should be 0")
        elif loses is not None and part in loses and score >= max_score:
            verdict.problems.append(f"{part}: full marks, but this mistake is there")
        elif part in degenerate and score > DEGENERATE_AT_MOST * max_score + 1e-9:
            verdict.problems.append(f"{part}: {score:g}/{max_score:g} for a degenerate answer, "
                                    f"at most {DEGENERATE_AT_MOST * max_score:g} allowed")
        elif loses is not None and part not in loses and score < max_score:
            verdict.problems.append(f"{part}: {score:g}/{max_score:g}, should be full marks")
    return verdict


def grade_known_submissions(course: Path, assignment: str, *, jobs: int = 1, progress: bool = True,
                            force_release: bool = False) -> tuple[list[Verdict], list[GradedSubmission]]:
    """Release ``assignment``, submit its known submissions, autograde, and judge.

    ``force_release``: release even before the due dates of the assignments it builds on.
    """
    release(assignment, course=course, force=force_release)
    subs = known_submissions(course, assignment)
    for student, (nb, _) in subs.items():
        submit(course, student, assignment, nb)
    graded = autograde(assignment, course=course, force=True, jobs=jobs, progress=progress)
    rows = {r.student: r for r in grades(course=course, assignment=assignment)}
    autograded = parts_with_checks(course / "autograder", assignment)
    degenerate = known_degenerate(course, assignment)
    verdicts = [judge(s, assignment, loses, rows.get(s), autograded, degenerate.get(s, ()))
                for s, (_, loses) in subs.items()]
    uncovered = sorted(autograded - {p for parts in degenerate.values() for p in parts})
    if uncovered:
        verdicts.append(Verdict("(degenerate answers)", assignment, "one per part", None, [
            f"{part}: no known mistake is a degenerate answer (DEGENERATE): nothing shows that zeros, "
            "constants or echoed inputs score nothing there" for part in uncovered]))
    return verdicts, graded


def check(assignment: str, *, materials: Path | None = None, keep: Path | None = None,
          jobs: int = os.cpu_count() or 1, progress: bool = True) -> list[Verdict]:
    """Grade the solution, the blank release and every known mistake in a scratch course."""
    with tempfile.TemporaryDirectory(prefix="ml4p-check-") as tmp:
        course = create_course(Path(keep or tmp), materials=materials or materials_root(),
                               assignments=[assignment])
        # A scratch course that no student sees has no semester: nothing to wait for before releasing.
        verdicts, _ = grade_known_submissions(course, assignment, jobs=jobs, progress=progress,
                                              force_release=True)
    return verdicts
