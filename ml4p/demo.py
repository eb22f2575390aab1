"""`ml4p demo`: a whole course end to end on embedded defaults.

Creates a course, releases every assignment, submits the known submissions
(``reference``, ``blank``, one ``mistake-*`` per known mistake), autogrades
them in sandboxed kernels into an SQLite gradebook, and judges the grades.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ml4p.check import Verdict, grade_known_submissions
from ml4p.course import assignment_names, create_course, materials_root
from ml4p.grading.autograde import GradedSubmission


@dataclass
class DemoResult:
    course: Path
    verdicts: list[Verdict]
    graded: list[GradedSubmission]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts) and all(g.ok for g in self.graded)


def demo(*, course: Path | str = "demo-course", assignments: list[str] | None = None,
         jobs: int = os.cpu_count() or 1, progress: bool = True) -> DemoResult:
    materials = materials_root()
    names = assignments or assignment_names(materials)
    root = create_course(Path(course), materials=materials, assignments=names)
    verdicts, graded = [], []
    for name in names:
        v, g = grade_known_submissions(root, name, jobs=jobs, progress=progress)
        verdicts += v
        graded += g
    return DemoResult(root, verdicts, graded)
