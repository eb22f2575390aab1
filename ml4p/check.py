"""`ml4p check` and `ml4p demo`: grade the known submissions and judge the grades.

The solution must get full marks on every autograded part, the blank release
0 on each, and every known mistake must lose points on exactly the parts it
declares (``LOSES``) and keep full marks elsewhere; a degenerate one
(``DEGENERATE``: zeros, constants, echoes, ...) may keep at most 10 % of the
points of each part it names, and every autograded part must have one.

``combined``: the known mistakes packed into as few submissions as the parts allow (no two
in one submission share a part or a function), each judged on the union of its mistakes'
parts. Each part is graded with the references of the parts before it in place of the
student's (``uses``), so a mistake cannot cost another part's points: a submission of
several mistakes must lose points on exactly their parts, as each alone must. What this
cannot show is a mistake that also costs points on a part another mistake of its
submission already loses; the full check (each mistake alone) shows that too. The
combined check grades about half as many notebooks: the test suite runs it, `ml4p check`
and `ml4p demo` run the full one.
"""
from __future__ import annotations

import ast
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ml4p.course import create_course, materials_root
from ml4p.grading.autograde import GradedSubmission, GradeRow, autograde, grades
from ml4p.grading.checks import parts_with_checks
from ml4p.grading.submissions import (
    DEGENERATE_AT_MOST,
    Mistake,
    known_degenerate,
    known_submissions,
    load_mistakes,
    submit,
    with_mistake,
)
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


def _functions(mistake: Mistake) -> set[str]:
    return {node.name for node in ast.parse(mistake.source).body if isinstance(node, ast.FunctionDef)}


def pack_mistakes(mistakes: list[Mistake]) -> list[list[Mistake]]:
    """The mistakes in groups sharing no part and no function: first fit, most parts first."""
    groups: list[tuple[set[str], set[str], list[Mistake]]] = []
    for mistake in sorted(mistakes, key=lambda m: (-len(m.loses), m.name)):
        parts, functions = set(mistake.loses), _functions(mistake)
        for group_parts, group_functions, members in groups:
            if not (parts & group_parts or functions & group_functions):
                group_parts |= parts
                group_functions |= functions
                members.append(mistake)
                break
        else:
            groups.append((parts, functions, [mistake]))
    return [members for _, _, members in groups]


def combined_submissions(course: Path, assignment: str) -> tuple[dict, dict[str, tuple[str, ...]], dict[str, str]]:
    """Like ``known_submissions``, with the mistakes packed (``pack_mistakes``) into submissions
    ``mistakes-<k>``; also the degenerate parts of each, and the mistakes each holds."""
    subs = known_submissions(course, assignment, mistakes=False)
    degenerate: dict[str, tuple[str, ...]] = {}
    members: dict[str, str] = {}
    for k, group in enumerate(pack_mistakes(load_mistakes(course / "autograder", assignment)), start=1):
        nb = subs["reference"][0]
        for mistake in group:
            nb = with_mistake(nb, mistake)
        student = f"mistakes-{k}"
        subs[student] = (nb, tuple(p for m in group for p in m.loses))
        degenerate[student] = tuple(p for m in group for p in m.degenerate)
        members[student] = " + ".join(m.name for m in group)
    return subs, degenerate, members


def grade_known_submissions(course: Path, assignment: str, *, jobs: int = 1, progress: bool = True,
                            force_release: bool = False,
                            combined: bool = False) -> tuple[list[Verdict], list[GradedSubmission]]:
    """Release ``assignment``, submit its known submissions, autograde, and judge.

    ``force_release``: release even before the due dates of the assignments it builds on.
    ``combined``: the mistakes packed into few submissions (the module's docstring).
    """
    release(assignment, course=course, force=force_release)
    if combined:
        subs, degenerate, members = combined_submissions(course, assignment)
    else:
        subs, degenerate, members = known_submissions(course, assignment), known_degenerate(course, assignment), {}
    for student, (nb, _) in subs.items():
        submit(course, student, assignment, nb)
    graded = autograde(assignment, course=course, force=True, jobs=jobs, progress=progress)
    rows = {r.student: r for r in grades(course=course, assignment=assignment)}
    autograded = parts_with_checks(course / "autograder", assignment)
    verdicts = [judge(s, assignment, loses, rows.get(s), autograded, degenerate.get(s, ()))
                for s, (_, loses) in subs.items()]
    for verdict in verdicts:
        if verdict.student in members:
            verdict.expected = f"{members[verdict.student]}: {verdict.expected}"
    uncovered = sorted(autograded - {p for parts in degenerate.values() for p in parts})
    if uncovered:
        verdicts.append(Verdict("(degenerate answers)", assignment, "one per part", None, [
            f"{part}: no known mistake is a degenerate answer (DEGENERATE): nothing shows that zeros, "
            "constants or echoed inputs score nothing there" for part in uncovered]))
    return verdicts, graded


def check(assignment: str, *, materials: Path | None = None, keep: Path | None = None,
          jobs: int = os.cpu_count() or 1, progress: bool = True, combined: bool = False) -> list[Verdict]:
    """Grade the solution, the blank release and every known mistake in a scratch course
    (``combined``: the mistakes packed into few submissions, the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="ml4p-check-") as tmp:
        course = create_course(Path(keep or tmp), materials=materials or materials_root(),
                               assignments=[assignment])
        # A scratch course that no student sees has no semester: nothing to wait for before releasing.
        verdicts, _ = grade_known_submissions(course, assignment, jobs=jobs, progress=progress,
                                              force_release=True, combined=combined)
    return verdicts
