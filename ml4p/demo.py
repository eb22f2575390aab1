"""`ml4p demo`: a whole course end to end on embedded defaults.

Creates a course, releases every assignment, submits the known submissions
(``reference``, ``blank``, one ``mistake-*`` per known mistake), autogrades
them in sandboxed kernels into an SQLite gradebook, and judges the grades.
Then, as a TA would: example rubrics for the project and the presentation,
course grades, nbgrader feedback pages, Gradescope exports and the
instructor's report.

The demo is a semester compressed into minutes: assignments come in the order
of what they build on (``metadata.ml4p.builds_on``, see ml4p/release.py), and
each one's due date is set in the gradebook the moment its hand-ins are graded.
So an assignment that builds on others is released by the ordinary rule, after
their due dates, never forced, and no hand-in is late. Asked for such an
assignment alone, the demo runs the ones it builds on first.
"""
from __future__ import annotations

import datetime as dt
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ml4p.check import Verdict, grade_known_submissions
from ml4p.course import CourseError, assignment_names, create_course, gradebook, materials_root
from ml4p.grading.autograde import GradedSubmission
from ml4p.release import builds_on

#: Example rubric criteria for the demo: (criterion, max_score).
DEMO_RUBRICS = {
    "project": [("physics", 10), ("method", 10), ("code and reproducibility", 10)],
    "presentation": [("clarity", 5), ("answers to questions", 5)],
}


@dataclass
class DemoResult:
    course: Path
    verdicts: list[Verdict]
    graded: list[GradedSubmission]
    outputs: dict[str, Path] = field(default_factory=dict)  # what the TA's side produced, by name

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts) and all(g.ok for g in self.graded)


def write_demo_rubrics(course: Path, students: list[str]) -> None:
    """Example rubric files (made-up scores, marked as such); `blank` handed in nothing."""
    folder = course / "rubrics"
    folder.mkdir(exist_ok=True)
    for component, criteria in DEMO_RUBRICS.items():
        lines = ["student,criterion,score,max_score,comment"]
        for student in students:
            if student == "blank":
                continue
            for criterion, top in criteria:
                score = top - zlib.crc32(f"{student}{criterion}".encode()) % (top // 2 + 1)
                lines.append(f"{student},{criterion},{score},{top},demo score")
        (folder / f"{component}.csv").write_text("\n".join(lines) + "\n")


def semester_order(names: list[str], materials: Path) -> list[str]:
    """``names`` and the assignments they build on, each after every one it builds on."""
    order: list[str] = []
    pending: list[str] = []  # being placed: one of them again means a circle

    def place(name: str) -> None:
        if name in order:
            return
        if name in pending:
            raise CourseError(f"assignments build on each other in a circle: {' -> '.join([*pending, name])}")
        pending.append(name)
        notebook = materials / "assignments" / name / f"{name}.ipynb"
        for earlier in builds_on(notebook) if notebook.is_file() else []:  # unknown: create_course says so
            place(earlier)
        order.append(pending.pop())

    for name in names:
        place(name)
    return order


def pass_due_date(course: Path, assignment: str) -> None:
    """Set ``assignment``'s due date in the gradebook to now: its hand-ins are in, on time."""
    with gradebook(course) as gb:
        gb.update_or_create_assignment(assignment, duedate=dt.datetime.now(dt.timezone.utc))


def demo(*, course: Path | str = "demo-course", assignments: list[str] | None = None,
         jobs: int = os.cpu_count() or 1, materials: Path | None = None, progress: bool = True) -> DemoResult:
    from ml4p.exports import export_gradescope
    from ml4p.feedback import feedback
    from ml4p.report import instructor_report

    materials = materials or materials_root()
    names = semester_order(assignments or assignment_names(materials), materials)
    root = create_course(Path(course), materials=materials, assignments=names)
    result = DemoResult(root, [], [])
    for name in names:
        v, g = grade_known_submissions(root, name, jobs=jobs, progress=progress)
        pass_due_date(root, name)
        result.verdicts += v
        result.graded += g
    write_demo_rubrics(root, sorted({v.student for v in result.verdicts if v.row is not None}))
    for name in names:
        feedback(name, course=root)
        export_gradescope(name, course=root, out_dir=root / "exports" / "gradescope" / name)
    result.outputs = {
        "feedback pages": root / "feedback",
        "Gradescope results.json": root / "exports" / "gradescope",
        "instructor report": instructor_report(course=root, out=root / "report.html"),
    }
    return result
