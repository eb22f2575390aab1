"""Autograde submissions through nbgrader's own pipeline, and read grades back."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ml4p.course import find_course, gradebook, nbgrader_api
from ml4p.grading import cache


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
              force: bool = False, jobs: int = 1, cluster: str | None = None,
              progress: bool = True) -> list[GradedSubmission]:
    """Grade the submissions of ``assignment`` (one student, or all) in sandboxed kernels.

    ``jobs`` submissions run at once, each kernel with a fair share of the cores; the
    gradebook has one writer (this process). ``cluster``: the address of a Dask
    scheduler whose workers see the course directory (a shared filesystem) run the
    submissions instead. Without ``force``, submissions graded by an earlier run are
    left as they are, so a killed run resumes where it stopped.
    """
    root = find_course(course)
    if student and not (root / "submitted" / student / assignment).is_dir():
        raise FileNotFoundError(f"no submission of {assignment!r} by {student!r} in {root / 'submitted'}")
    students = [student] if student else submitted_students(root, assignment)
    if not force:
        students = [s for s in students if not cache.graded(root, assignment, s)]
    jobs = max(1, min(jobs, len(students) or 1))
    if cluster:
        executions = _on_cluster(cluster, root, assignment, students, force=force)
    else:
        executions = _on_this_machine(root, assignment, students, jobs=jobs, force=force)
    api = nbgrader_api(root)
    done: list[GradedSubmission] = []
    with _progress(progress, len(students), f"autograde {assignment}") as advance:
        for ex in executions:  # as each finishes; this process is the gradebook's one writer
            start = time.monotonic()
            if ex.refused:  # nbgrader's own copy of its files would follow the links
                ok, error = False, ex.error
            else:
                result = api.autograde(assignment, ex.student, force=True, create=True)
                ok = bool(result.get("success"))
                error = "" if ok else (ex.error or _last_error(result))
            cache.record(root, assignment, ex.student, error)
            done.append(GradedSubmission(ex.student, assignment, ok, ex.seconds + time.monotonic() - start, error))
            advance(ex.student, ok)
    return done


def _on_this_machine(root: Path, assignment: str, students: list[str], *, jobs: int, force: bool):
    """Run the submissions here, ``jobs`` at a time; yields each result as it arrives."""
    from ml4p.grading import batch

    threads = max(1, (os.cpu_count() or 1) // jobs)
    if jobs == 1:
        for sid in students:
            yield batch.execute_one(str(root), assignment, sid, threads=threads, force=force)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(batch.execute_one, str(root), assignment, sid, threads=threads, force=force)
                   for sid in students]
        for future in as_completed(futures):
            yield future.result()


def _on_cluster(address: str, root: Path, assignment: str, students: list[str], *, force: bool):
    """Run the submissions on a Dask cluster; yields each result as it arrives."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise RuntimeError("--cluster needs Dask: pip install 'ml4p[cluster]'") from exc
    from ml4p.grading import batch

    with Client(address) as client:
        threads = max(1, min(client.nthreads().values(), default=1))
        futures = [client.submit(batch.execute_one, str(root), assignment, sid, threads=threads, force=force,
                                 key=f"ml4p-{assignment}-{sid}-{time.time_ns()}", pure=False)
                   for sid in students]
        for future in as_completed(futures):
            yield future.result()


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
    rows = []
    with gradebook(find_course(course)) as gb:
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
    """The rows as CSV (student, assignment, score, max_score), quoted by the ``csv`` module where a cell needs it."""
    import csv
    import io

    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["student", "assignment", "score", "max_score"])
    out.writerows([r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}"] for r in rows)
    return buf.getvalue()
