"""Grading a class of the Coulomb gas assignment: ml4p side by side with plain execution and nbgrader.

    python benchmarks/autograde_class.py [--students 40] [--assignment coulomb_gas] [--repeat 3]

Measured in one run on the same submissions (copies of the solution), as ratios:
1. one submission: executed bare with nbclient (no sandbox, no checks; with
   `NBGRADER_EXECUTION=autograde`, as nbgrader and ml4p run it, so that the same cells run)
   vs graded by ml4p (sandboxed kernel + hidden checks + gradebook), `--repeat` times each,
   in alternating order; the medians, and the median of the pairs' ratios
   (target: at most `SUBMISSION_TARGET`);
2. the class: plain `nbgrader autograde` (serial, unsandboxed, no hidden checks) vs
   `ml4p autograde --jobs 2` (target: at most `JOBS_TARGET` of nbgrader's time) and ml4p one
   submission at a time;
3. memory: the grading process's resident memory after each of `--memory-runs` gradings,
   one submission at a time in this process, cycling through the class (the first pass is
   the one-at-a-time time of 2.); first vs last (target: flat, the last within `FLAT_MB`
   of the first: no leak per submission).
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
from common import verdict
from nbclient import NotebookClient

from ml4p.course import CONFIG_FILE, create_course, materials_root
from ml4p.grading.autograde import autograde, grades
from ml4p.grading.submissions import known_submissions, submit
from ml4p.release import release

SUBMISSION_TARGET = 1.1  # ml4p's grading of one submission / its bare execution, at most
JOBS_TARGET = 0.5  # the class with --jobs 2 / plain serial nbgrader autograde, at most
FLAT_MB = 10.0  # the grader's memory after the last of the gradings / after the first, at most this much more


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
    before = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"  # the kernel inherits it: the cells a grader runs
    try:
        start = time.monotonic()
        NotebookClient(nb, timeout=600, allow_errors=True, resources={"metadata": {"path": str(folder)}}).execute()
        return time.monotonic() - start
    finally:
        if before is None:
            del os.environ["NBGRADER_EXECUTION"]
        else:
            os.environ["NBGRADER_EXECUTION"] = before


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
    return seconds, _full_marks(course, assignment) and all(d.ok for d in done)


def one_at_a_time(course: Path, assignment: str, runs: int) -> tuple[float, list[float], bool]:
    """`runs` gradings in this process, one submission per call of `autograde` (what `ml4p autograde
    --jobs 1` does for each), cycling through the class. Returns the seconds of the first pass over the
    class, the grading process's resident memory before the first grading and after each one (the
    process's whole memory: under run.py it holds the earlier benchmarks' arrays too), and whether the
    first pass gave every submission full marks."""
    students = sorted(p.name for p in (course / "submitted").iterdir())
    samples, seconds, start = [rss_mb()], 0.0, time.monotonic()
    ok = True
    for i in range(max(runs, len(students))):
        done = autograde(assignment, course=course, student=students[i % len(students)], force=True,
                         progress=False)
        ok = ok and all(d.ok for d in done)
        samples.append(rss_mb())
        if i + 1 == len(students):
            seconds = time.monotonic() - start
            ok = ok and _full_marks(course, assignment)
    return seconds, samples, ok


def _full_marks(course: Path, assignment: str) -> bool:
    rows = grades(course=course, assignment=assignment)
    return all(score == max_score for r in rows for score, max_score in r.parts.values()
               if score is not None)  # None: the written answer, graded by hand


def measure(students: int = 40, memory_runs: int = 50, assignment: str = "coulomb_gas", repeat: int = 3,
            materials: Path | None = None) -> dict:
    a, n = assignment, students
    with tempfile.TemporaryDirectory(prefix="ml4p-bench-") as tmp:
        course = make_class(Path(tmp) / "course", a, n, materials)
        t_bare, t_one, one_ratio = one_submission(course, a, repeat)
        t_nbgrader = plain_nbgrader(course, a)
        t_jobs2, ok2 = ml4p_class(course, a, 2)
        t_jobs1, memory, ok1 = one_at_a_time(course, a, memory_runs)
    return {"assignment": a, "students": n, "repeat": max(1, repeat), "bare": t_bare, "one": t_one,
            "one_ratio": one_ratio, "nbgrader": t_nbgrader, "jobs1": t_jobs1, "jobs2": t_jobs2,
            "jobs2_ratio": t_jobs2 / t_nbgrader, "full_marks": (ok1, ok2), "memory": memory}


def verdicts(m: dict) -> dict:
    """Target -> (met, how far off)."""
    memory = m["memory"][1:]
    growth = memory[-1] - memory[0] if memory else 0.0
    return {
        "one": (m["one_ratio"] <= SUBMISSION_TARGET, f"by {m['one_ratio'] / SUBMISSION_TARGET:.2f}×"),
        "jobs2": (m["jobs2_ratio"] <= JOBS_TARGET and all(m["full_marks"]),
                  f"by {m['jobs2_ratio'] / JOBS_TARGET:.2f}×" if m["jobs2_ratio"] > JOBS_TARGET
                  else f"full marks: {m['full_marks']}"),
        "memory": (growth <= FLAT_MB, f"+{growth:.0f} MB over {len(memory)} gradings"),
    }


def table(m: dict) -> str:
    n, of = m["students"], f", median of {m['repeat']}"
    v = {k: verdict(*x) for k, x in verdicts(m).items()}
    before, memory = m["memory"][0], m["memory"][1:]
    lines = ["| what | seconds | ratio | target |", "| --- | ---: | ---: | --- |",
             f"| one submission, bare nbclient execution{of} | {m['bare']:.1f} | 1.00 | |",
             f"| one submission, ml4p (sandbox + hidden checks + gradebook){of} | {m['one']:.1f} | "
             f"{m['one_ratio']:.2f} | ≤ {SUBMISSION_TARGET:g}: {v['one']} |",
             f"| {n} submissions, plain nbgrader autograde (serial, no sandbox, no checks) | {m['nbgrader']:.1f} "
             "| 1.00 | |",
             f"| {n} submissions, ml4p autograde, one at a time (the first {n} gradings of the memory's) "
             f"| {m['jobs1']:.1f} | {m['jobs1'] / m['nbgrader']:.2f} | |",
             f"| {n} submissions, ml4p autograde --jobs 2 | {m['jobs2']:.1f} | {m['jobs2_ratio']:.2f} "
             f"| ≤ {JOBS_TARGET:g}, full marks: {v['jobs2']} |"]
    if memory:
        lines.append(f"| grader memory over {len(memory)} gradings: before / first / last / max (MB) | "
                     f"{before:.0f} / {memory[0]:.0f} / {memory[-1]:.0f} / {max(memory):.0f} | "
                     f"{memory[-1] / memory[0]:.2f} | last ≤ first + {FLAT_MB:g} MB: {v['memory']} |")
    lines.append(f"| every submission at full marks (one at a time, jobs 2) | {m['full_marks'][0]}, {m['full_marks'][1]} "
                 "| | |")
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--memory-runs", type=int, default=50, help="gradings for the memory profile")
    parser.add_argument("--assignment", default="coulomb_gas")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of one-submission measurements (median)")
    parser.add_argument("--materials", type=Path, help="folder with assignments/ autograder/ (default: this repository)")
    args = parser.parse_args(argv)
    out = table(measure(args.students, args.memory_runs, args.assignment, args.repeat, args.materials))
    print(out)
    return out


if __name__ == "__main__":
    main()
