"""Grading a class of the Coulomb gas assignment: ml4p side by side with plain execution and nbgrader.

    python benchmarks/autograde_class.py [--students 40] [--assignment coulomb_gas] [--repeat 3]

Measured in one run on the same submissions (copies of the solution), as ratios:
1. one submission: executed bare with nbclient (no sandbox, no checks) vs graded by
   ml4p (sandboxed kernel + hidden checks + gradebook), `--repeat` times each, in
   alternating order; the medians, and the median of the pairs' ratios;
2. the class: plain `nbgrader autograde` (serial, unsandboxed, no hidden checks) vs
   `ml4p autograde --jobs 1` and `--jobs 2`;
3. memory: the grading process's resident memory after each submission, first vs last
   (it should stay flat: no leak per submission).
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ml4p.course import CONFIG_FILE, create_course, materials_root
from ml4p.grading.autograde import autograde, grades
from ml4p.grading.submissions import known_submissions, submit
from ml4p.release import release


def rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_class(root: Path, assignment: str, students: int, materials: Path | None = None) -> Path:
    course = create_course(root, materials=materials or materials_root(), assignments=[assignment])
    release(assignment, course=course, force=True)  # a scratch course: no due dates to wait for
    reference = known_submissions(course, assignment)["reference"][0]
    for i in range(students):
        submit(course, f"student-{i:03d}", assignment, reference)
    return course


def bare(course: Path, assignment: str) -> float:
    """One submission executed by nbclient in a plain kernel, nothing else."""
    folder = course / "submitted" / "student-000" / assignment
    nb = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    start = time.monotonic()
    NotebookClient(nb, timeout=600, allow_errors=True, resources={"metadata": {"path": str(folder)}}).execute()
    return time.monotonic() - start


def one_submission(course: Path, assignment: str, repeat: int) -> tuple[float, float, float]:
    """Median seconds of bare execution and of ml4p's grading of one submission, and the median ratio.

    Measured in pairs, alternating which goes first, so that both see the same load."""
    pairs = []
    for i in range(max(1, repeat)):
        times = {}
        for what in (("bare", "ml4p") if i % 2 == 0 else ("ml4p", "bare")):
            if what == "bare":
                times[what] = bare(course, assignment)
            else:
                start = time.monotonic()
                autograde(assignment, course=course, student="student-000", force=True, progress=False)
                times[what] = time.monotonic() - start
        pairs.append((times["bare"], times["ml4p"]))
    return (statistics.median(b for b, _ in pairs), statistics.median(m for _, m in pairs),
            statistics.median(m / b for b, m in pairs))


def plain_nbgrader(course: Path, assignment: str) -> float:
    """`nbgrader autograde` with nbgrader's own Execute step (a copy of the course without ml4p's)."""
    plain = course.parent / "plain-course"
    shutil.copytree(course, plain, ignore=shutil.ignore_patterns("autograded", ".ml4p", "gradebook.db"))
    config = (plain / CONFIG_FILE).read_text()
    config = config.replace("c.Autograde.autograde_preprocessors = autograde_preprocessors()", "")
    (plain / CONFIG_FILE).write_text(config)
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
                   cwd=plain, check=True, capture_output=True)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"], cwd=plain,
                   check=True, capture_output=True)
    return time.monotonic() - start


def ml4p_class(course: Path, assignment: str, jobs: int) -> tuple[float, bool]:
    """The whole class with `ml4p autograde --jobs N --force`; and did everyone get full marks?"""
    start = time.monotonic()
    done = autograde(assignment, course=course, jobs=jobs, force=True, progress=False)
    seconds = time.monotonic() - start
    rows = grades(course=course, assignment=assignment)
    autograded_full = all(score == max_score for r in rows for score, max_score in r.parts.values()
                          if score is not None)  # None: the written answer, graded by hand
    return seconds, autograded_full and all(d.ok for d in done)


def memory_profile(course: Path, assignment: str, runs: int) -> list[float]:
    """Resident memory of the grading process before grading, then after each of `runs` gradings, one at a
    time (the process's whole memory: under run.py it holds the earlier benchmarks' arrays too)."""
    students = sorted(p.name for p in (course / "submitted").iterdir())
    samples = [rss_mb()]
    for i in range(runs):
        autograde(assignment, course=course, student=students[i % len(students)], force=True, progress=False)
        samples.append(rss_mb())
    return samples


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--memory-runs", type=int, default=50, help="gradings for the memory profile")
    parser.add_argument("--assignment", default="coulomb_gas")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of one-submission measurements (median)")
    parser.add_argument("--materials", type=Path, help="folder with assignments/ autograder/ (default: this repository)")
    args = parser.parse_args(argv)
    a, n = args.assignment, args.students
    with tempfile.TemporaryDirectory(prefix="ml4p-bench-") as tmp:
        course = make_class(Path(tmp) / "course", a, n, args.materials)
        t_bare, t_one, one_ratio = one_submission(course, a, args.repeat)
        t_nbgrader = plain_nbgrader(course, a)
        t_jobs1, ok1 = ml4p_class(course, a, 1)
        t_jobs2, ok2 = ml4p_class(course, a, 2)
        memory = memory_profile(course, a, args.memory_runs)
    of = f", median of {max(1, args.repeat)}"
    rows = [
        (f"one submission, bare nbclient execution{of}", t_bare, 1.0),
        (f"one submission, ml4p (sandbox + hidden checks + gradebook){of}", t_one, one_ratio),
        (f"{n} submissions, plain nbgrader autograde (serial, no sandbox, no checks)", t_nbgrader, 1.0),
        (f"{n} submissions, ml4p autograde --jobs 1", t_jobs1, t_jobs1 / t_nbgrader),
        (f"{n} submissions, ml4p autograde --jobs 2", t_jobs2, t_jobs2 / t_nbgrader),
    ]
    lines = ["| what | seconds | ratio |", "| --- | ---: | ---: |"]
    lines += [f"| {what} | {sec:.1f} | {ratio:.2f} |" for what, sec, ratio in rows]
    before, memory = memory[0], memory[1:]
    lines.append(f"| grader memory over {len(memory)} gradings: before / first / last / max (MB) | "
                 f"{before:.0f} / {memory[0]:.0f} / {memory[-1]:.0f} / {max(memory):.0f} | "
                 f"{memory[-1] / memory[0]:.2f} |")
    lines.append(f"| every submission at full marks (jobs 1, jobs 2) | {ok1}, {ok2} | |")
    out = "\n".join(lines)
    print(out)
    return out


if __name__ == "__main__":
    main()
