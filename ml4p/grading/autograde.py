"""Autograde submissions through nbgrader's own pipeline, and read grades back."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ml4p.course import find_course, nbgrader_api


@dataclass
class GradedSubmission:
    student: str
    assignment: str
    ok: bool  # nbgrader finished and wrote the grades
    seconds: float
    error: str = ""  # why it failed, if it did


@dataclass
class GradeRow:
    student: str
    assignment: str
    score: float
    max_score: float
    parts: dict[str, tuple[float | None, float]] = field(default_factory=dict)  # grade id -> (score, max); None: needs manual grading


def submitted_students(course: Path, assignment: str) -> list[str]:
    folder = Path(course) / "submitted"
    return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())


def autograde(assignment: str, *, course: Path | str | None = None, student: str | None = None,
              force: bool = True, progress: bool = True) -> list[GradedSubmission]:
    """Grade the submissions of ``assignment`` (one student, or all) in sandboxed kernels."""
    root = find_course(course)
    students = [student] if student else submitted_students(root, assignment)
    if student and not (root / "submitted" / student / assignment).is_dir():
        raise FileNotFoundError(f"no submission of {assignment!r} by {student!r} in {root / 'submitted'}")
    api = nbgrader_api(root)
    done: list[GradedSubmission] = []
    with _progress(progress, len(students), f"autograde {assignment}") as advance:
        for sid in students:
            start = time.monotonic()
            result = api.autograde(assignment, sid, force=force, create=True)
            error = "" if result.get("success") else _last_error(result)
            done.append(GradedSubmission(sid, assignment, bool(result.get("success")),
                                         time.monotonic() - start, error))
            advance(sid, done[-1].ok)
    return done


def _last_error(result: dict) -> str:
    text = (result.get("error") or result.get("log") or "nbgrader failed").strip().splitlines()
    return text[-1] if text else "nbgrader failed"


class _progress:
    """A rich progress bar (done / failed / remaining, ETA), or nothing."""

    def __init__(self, show: bool, total: int, what: str):
        self.show, self.total, self.what = show, total, what
        self.failed = 0

    def __enter__(self):
        if not self.show:
            return lambda student, ok: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("failed {task.fields[failed]}"), TimeRemainingColumn(),
                            TextColumn("{task.fields[current]}"))
        self.bar.__enter__()
        self.task = self.bar.add_task(self.what, total=self.total, failed=0, current="")

        def advance(student: str, ok: bool):
            self.failed += not ok
            self.bar.update(self.task, advance=1, failed=self.failed, current=student)

        return advance

    def __exit__(self, *exc):
        if self.show:
            self.bar.__exit__(*exc)


def grades(*, course: Path | str | None = None, assignment: str | None = None) -> list[GradeRow]:
    """Every graded submission in the gradebook, with per-part scores."""
    from nbgrader.api import Gradebook

    root = find_course(course)
    api = nbgrader_api(root)
    rows = []
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for a in gb.assignments:
            if assignment and a.name != assignment:
                continue
            for sub in a.submissions:
                parts = {}
                for nb in sub.notebooks:
                    for g in nb.grades:
                        score = None if g.needs_manual_grade else g.score
                        parts[g.name] = (score, g.max_score)
                rows.append(GradeRow(sub.student.id, a.name, sub.score, sub.max_score, parts))
    return sorted(rows, key=lambda r: (r.assignment, r.student))


def grades_csv(rows: list[GradeRow]) -> str:
    lines = ["student,assignment,score,max_score"]
    lines += [f"{r.student},{r.assignment},{r.score:g},{r.max_score:g}" for r in rows]
    return "\n".join(lines) + "\n"
