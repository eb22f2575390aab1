"""How long an assignment's hidden checks take, apart from the notebook's own execution.

    python benchmarks/hidden_checks.py [--assignment coulomb_gas] [--repeat 3] [--slowest 5]

Grades the solution notebook in a sandboxed kernel `--repeat` times and prints
a Markdown table: kernel start + notebook cells, and the hidden checks alone
(target: at most 5 s per assignment). The checks' pytest process starts and
collects the checks while the notebook runs, so the second column is the checks
from the moment the notebook is done: their calls into the kernel and the oracle.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import nbformat

from ml4p.course import assignment_names, create_course, load_config, materials_root
from ml4p.grading.execute import SandboxedExecute, grade_notebook
from ml4p.grading.submissions import known_submissions
from ml4p.release import release

TARGET_SECONDS = 5.0


def measure(assignment: str, repeat: int, materials: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="ml4p-bench-") as tmp:
        course = create_course(Path(tmp) / "course", materials=materials or materials_root(), assignments=[assignment])
        release(assignment, course=course, force=True)  # a scratch course: no due dates to wait for
        reference = known_submissions(course, assignment)["reference"][0]
        data_env = dict(SandboxedExecute(config=load_config(course)).data_env)  # where the course's data is
        folder = Path(tmp) / "submission"
        folder.mkdir()
        runs = []
        for _ in range(repeat):
            nb = nbformat.from_dict(reference)
            outcome = grade_notebook(nb, assignment=assignment, source_dir=folder,
                                     checks_dir=course / "autograder", solutions_dir=course / "solutions",
                                     data_env=data_env)
            full = all(r.score == r.max_points for r in outcome.reports.values())
            per_check = {f"{c.part}: {c.name}": c.seconds for r in outcome.reports.values() for c in r.checks}
            runs.append((outcome.execute_seconds, outcome.checks_seconds, full, per_check))
    return {
        "assignment": assignment,
        "execute": statistics.median(r[0] for r in runs),
        "checks": statistics.median(r[1] for r in runs),
        "full_marks": all(r[2] for r in runs),
        "per_check": {name: statistics.median(r[3].get(name, 0.0) for r in runs) for name in runs[0][3]},
    }


def table(rows: list[dict]) -> str:
    lines = ["| assignment | kernel start + notebook (s) | hidden checks (s) | target (s) | solution full marks |",
             "| --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        verdict = "met" if r["checks"] <= TARGET_SECONDS else f"missed by {r['checks'] - TARGET_SECONDS:.1f} s"
        lines.append(f"| {r['assignment']} | {r['execute']:.1f} | {r['checks']:.1f} ({verdict}) | "
                     f"≤ {TARGET_SECONDS:g} | {'yes' if r['full_marks'] else 'NO'} |")
    return "\n".join(lines)


def slowest(rows: list[dict], n: int) -> str:
    """Where the checks' time goes: each assignment's `n` slowest checks (setup, i.e. a module
    fixture's first use, and call; the rest is the checks process's own start-up and waiting)."""
    lines = ["| assignment | check | seconds |", "| --- | --- | ---: |"]
    for r in rows:
        top = sorted(r["per_check"].items(), key=lambda kv: -kv[1])[:n]
        lines += [f"| {r['assignment']} | {name} | {sec:.2f} |" for name, sec in top]
        rest = r["checks"] - sum(r["per_check"].values())
        lines.append(f"| {r['assignment']} | (between checks: connecting, collecting results) | {rest:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", action="append", help="default: every assignment")
    parser.add_argument("--repeat", type=int, default=3, help="gradings per assignment (median reported)")
    parser.add_argument("--materials", type=Path, help="folder with assignments/ autograder/ (default: this repository)")
    parser.add_argument("--slowest", type=int, default=0, help="also list each assignment's N slowest checks")
    args = parser.parse_args(argv)
    names = args.assignment or assignment_names(args.materials or materials_root())
    rows = [measure(a, args.repeat, args.materials) for a in names]
    out = table(rows) + (f"\n\n{slowest(rows, args.slowest)}" if args.slowest else "")
    print(out)
    return out


if __name__ == "__main__":
    main()
