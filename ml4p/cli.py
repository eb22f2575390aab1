"""The `ml4p` command: parses, calls the functions of the package, prints."""
from __future__ import annotations

import argparse
import inspect
import sys
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console() if sys.stdout.isatty() else Console(width=200)  # tables unsquashed in logs
errors = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)


#: What ``pip install 'ml4p[grader]'`` adds to a student's install: the instructor's and the TA's commands need it.
GRADER_MODULES = frozenset({"nbgrader", "pytest", "_pytest", "bleach", "jinja2", "google_crc32c"})


def _grader_missing(exc: ModuleNotFoundError) -> bool:
    return (exc.name or "").split(".")[0] in GRADER_MODULES


def _grader_attr(module: str, name: str):
    """``module.name``; None where the grader's part of ml4p is not installed (a student's install)."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if _grader_missing(exc):
            return None  # the command says what to install when it is run
        raise


def _default(module: str, func: str, name: str):
    """A function's default for ``name``, read from its signature (None without the grader's part)."""
    target = _grader_attr(module, func)
    return None if target is None else inspect.signature(target).parameters[name].default


def _warn_isolation() -> None:
    from ml4p.grading import sandbox

    if not sandbox.isolation_available():
        errors.print(f"[bold red]WARNING:[/] {sandbox.ISOLATION_WARNING}")
    elif reason := sandbox.cgroups.unavailable_reason():
        errors.print(f"[yellow]note:[/] no cgroup per sandbox ({reason}): one submission's processes can slow "
                     "its neighbours; memory and processes are bounded per process and per uid only")


def _table(title: str, left: list[str], numbers: list[str], right: list[str]) -> Table:
    """A table whose number columns are right-aligned between text columns."""
    table = Table(title=title)
    for col in left:
        table.add_column(col)
    for col in numbers:
        table.add_column(col, justify="right")
    for col in right:
        table.add_column(col)
    return table


def _verdict_tables(verdicts, title: str) -> list[Table]:
    """One table per assignment: each part's score, the total, and whether it is what it should be."""
    tables = []
    for assignment in dict.fromkeys(v.assignment for v in verdicts):
        rows = [v for v in verdicts if v.assignment == assignment]
        parts = list(dict.fromkeys(p for v in rows if v.row for p in v.row.parts))
        table = _table(f"{title}: {assignment}", ["student"], [*parts, "total"], ["should get", "as expected"])
        for v in rows:
            cells = []
            for p in parts:
                score, max_score = v.row.parts.get(p, (None, 0)) if v.row else (None, 0)
                cells.append("manual" if score is None else f"{score:g}/{max_score:g}")
            total = f"{v.row.score:g}/{v.row.max_score:g}" if v.row else "-"
            mark = "[green]yes[/]" if v.ok else "[red]NO: " + "; ".join(v.problems) + "[/]"
            table.add_row(v.student, *cells, total, v.expected, mark)
        tables.append(table)
    return tables


def cmd_demo(args) -> int:
    from ml4p.demo import demo

    _warn_isolation()
    result = demo(course=args.course, assignments=args.assignment or None, jobs=args.jobs, progress=not args.quiet)
    for table in _verdict_tables(result.verdicts, f"demo course {result.course}"):
        console.print(table)
    for g in result.graded:
        if not g.ok:
            errors.print(f"[red]{g.assignment}/{g.student} failed to grade:[/] {g.error}")
    console.print("Parts marked 'manual' wait for a TA (nbgrader formgrader).")
    cmd_course_grades(argparse.Namespace(course=result.course, format="table"))
    for what, path in result.outputs.items():
        console.print(f"{what}: {path}")
    return 0 if result.ok else 1


def cmd_init(args) -> int:
    from ml4p.course import CONFIG_FILE, create_course

    root = Path(args.course).resolve()
    if (root / CONFIG_FILE).exists():
        errors.print(f"[red]ml4p init:[/] {root} is a course already ({CONFIG_FILE} is there)")
        return 2
    create_course(root, materials=args.materials, assignments=args.assignment, course_id=args.course_id)
    names = sorted(p.name for p in (root / "source").iterdir())
    console.print(f"course {args.course_id!r} in {root}: {', '.join(names)} (hidden checks in autograder/, "
                  f"oracles in solutions/, both readable by you alone); settings in {CONFIG_FILE}", markup=False)
    return 0


def cmd_release(args) -> int:
    from rich.markup import escape

    from ml4p.release import ReleaseRefused, release

    try:
        folder = release(args.assignment, course=args.course, force=args.force)
    except ReleaseRefused as exc:  # a decision, not a broken course: exit 1, not 2
        errors.print(f"[red]ml4p release:[/] {escape(str(exc))}")
        return 1
    console.print(f"released {args.assignment} to {folder}")
    return 0


def cmd_autograde(args) -> int:
    from ml4p.grading.autograde import autograde, grades

    _warn_isolation()
    done = autograde(args.assignment, course=args.course, student=args.student,
                     force=args.force or bool(args.student), jobs=args.jobs, cluster=args.cluster,
                     progress=not args.quiet)
    rows = {r.student: r for r in grades(course=args.course, assignment=args.assignment)}
    table = Table(title=f"autograde {args.assignment}")
    for col in ("student", "score", "seconds", "status"):
        table.add_column(col)
    for g in done:
        r = rows.get(g.student)
        score = f"{r.score:g}/{r.max_score:g}" if r else "-"
        table.add_row(g.student, score, f"{g.seconds:.0f}", "ok" if g.ok else f"[red]failed: {g.error}[/]")
    console.print(table)
    return 0 if all(g.ok for g in done) else 1


def cmd_collect(args) -> int:
    from rich.markup import escape  # file names in the archive are the students': printed, never read as markup

    from ml4p.collect import collect

    result = collect(args.assignment, args.archive, course=args.course, platform=args.platform, roster=args.roster,
                     timezone=args.timezone, force=args.force)
    table = Table(title=f"collect {args.assignment}: {len(result.collected)} hand-in(s) into submitted/")
    for col in ("student", "from", "handed in (UTC)", "late by", "notes"):
        table.add_column(col)
    for h in result.collected:
        when = h.timestamp.strftime("%Y-%m-%d %H:%M") if h.timestamp else "-"
        late = str(h.late_by).split(".")[0] if h.late_by else ""
        table.add_row(escape(h.student), escape(", ".join(h.files)), when, f"[red]{late}[/]" if late else "",
                      escape("; ".join(h.notes)))
    console.print(table)
    if result.problems:
        problems = Table(title=f"not collected: {len(result.problems)} file(s)")
        problems.add_column("file in the archive")
        problems.add_column("why")
        for entry, why in result.problems:
            problems.add_row(escape(entry), escape(why))
        console.print(problems)
    if result.missing:
        console.print(f"no hand-in from {len(result.missing)} student(s) of the roster: {', '.join(result.missing)}",
                      markup=False)
    return 0 if result.ok else 1


def cmd_validate(args) -> int:
    from ml4p.validate import validate

    result = validate(args.notebook)
    console.print(result.report(), markup=False)
    return 0 if result.ok else 1


def cmd_grades(args) -> int:
    from ml4p.grading.autograde import grades, grades_csv

    rows = grades(course=args.course, assignment=args.assignment)
    if args.format == "csv":
        sys.stdout.write(grades_csv(rows))
        return 0
    table = Table(title="grades")
    for col in ("student", "assignment", "score", "max_score"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}")
    console.print(table)
    return 0


def cmd_check(args) -> int:
    from ml4p.check import check

    _warn_isolation()
    verdicts = check(args.assignment, keep=Path(args.keep) if args.keep else None, jobs=args.jobs,
                     progress=not args.quiet, combined=args.combined)
    for table in _verdict_tables(verdicts, "ml4p check"):
        console.print(table)
    bad = [v for v in verdicts if not v.ok]
    if bad:
        errors.print(f"[red]{len(bad)} known submission(s) not graded as expected[/]")
    return 1 if bad else 0


def cmd_course_grades(args) -> int:
    from rich.markup import escape

    from ml4p.coursegrades import course_grades
    from ml4p.exports import course_grades_csv

    rows = course_grades(course=args.course)
    if args.format == "csv":
        sys.stdout.write(course_grades_csv(rows))
        return 0
    components = list(dict.fromkeys(c for r in rows for c in r.components))
    table = _table("course grades", ["student"], [*components, "grade"], ["pass", "missing (counted 0) / notes"])
    for r in rows:
        cells = ["[red]missing[/]" if r.components[c] is None else f"{r.components[c]:.1f}" for c in components]
        notes = [*r.missing, *(f"dropped {a}" for a in r.dropped), *(f"{a}: waits for a TA" for a in r.pending),
                 *(f"{a}: {d:.1f} days late" for a, d in r.days_late.items())]
        table.add_row(escape(r.student), *cells, f"{r.grade:.1f}", "[green]yes[/]" if r.passed else "[red]no[/]",
                      escape("; ".join(notes)))
    console.print(table)
    return 0


def cmd_feedback(args) -> int:
    from ml4p.feedback import feedback

    pages = feedback(args.assignment, course=args.course, student=args.student)
    for page in pages:
        console.print(str(page), markup=False, highlight=False)
    console.print(f"{len(pages)} feedback page(s); none holds hidden-check or oracle source, or a script of the student's")
    return 0


def cmd_export(args) -> int:
    from ml4p.exports import export_gradescope

    paths = export_gradescope(args.assignment, course=args.course, out_dir=Path(args.out),
                              visibility=args.visibility)
    console.print(f"wrote {len(paths)} results.json file(s) under {args.out} (Gradescope format, validated)")
    return 0


def cmd_report(args) -> int:
    from ml4p.report import instructor_report

    console.print(f"instructor report: {instructor_report(course=args.course, out=Path(args.out))}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ml4p", description="Machine learning for physicists: "
                                "assignments and a sandboxed autograder on nbgrader.")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, func, help):
        s = sub.add_parser(name, help=help, description=help)
        s.set_defaults(func=func)
        s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        return s

    s = add("demo", cmd_demo, "create a demo course, grade the known submissions, print the grade table")
    s.add_argument("--course", default=_default("ml4p.demo", "demo", "course"), help="where to create the course (default: %(default)s)")
    s.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    s.add_argument("--jobs", type=int, default=_default("ml4p.demo", "demo", "jobs"),
                   help="submissions graded at once (default: %(default)s, the cores)")

    s = add("init", cmd_init, "create a course: nbgrader's layout, the assignments with their hidden checks, "
            "ml4p's nbgrader_config.py")
    s.add_argument("course", help="the folder to create")
    s.add_argument("--assignment", action="append", help="only this assignment (repeatable; default: all)")
    s.add_argument("--course-id", default="ml4p", help="nbgrader's course id, as the exchange knows it (default: %(default)s)")
    s.add_argument("--materials", help="where assignments/, autograder/ and solutions/ are (default: this ml4p's)")

    s = add("release", cmd_release, "make the student version of an assignment (nbgrader generate_assignment)")
    s.add_argument("assignment")
    s.add_argument("--force", action="store_true",
                   help="release even before the due dates of the assignments it builds on")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")

    s = add("autograde", cmd_autograde, "grade submissions in sandboxed kernels with the hidden checks")
    s.add_argument("assignment")
    s.add_argument("--student", help="only this student (always regraded)")
    s.add_argument("--jobs", type=int, default=_default("ml4p.grading.autograde", "autograde", "jobs"),
                   help="submissions graded at once, each kernel with a share of the cores (default: %(default)s)")
    s.add_argument("--force", action="store_true", help="regrade submissions graded by an earlier run")
    s.add_argument("--cluster", help="address of a Dask scheduler (e.g. tcp://host:8786) whose workers share the course folder")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")

    s = add("collect", cmd_collect, "fill submitted/ from a learning platform's zip of hand-ins (nbgrader zip_collect), "
            "students named through a roster; reports unmatched, duplicate, late and missing hand-ins")
    s.add_argument("assignment")
    s.add_argument("archive", help="the zip the platform exported")
    s.add_argument("--platform", choices=("moodle", "canvas"), default="moodle", help="whose file names (default: %(default)s)")
    s.add_argument("--roster", help="CSV id,first_name,last_name,email[,lms_id] (nbgrader's student import; "
                   "default: the gradebook's students)")
    s.add_argument("--timezone", default="UTC", help="the platform's time zone, for the times in the archive (default: %(default)s)")
    s.add_argument("--force", action="store_true", help="replace submissions collected before")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")

    s = add("validate", cmd_validate, "run a notebook's visible tests before handing it in")
    s.add_argument("notebook")

    s = add("grades", cmd_grades, "print the gradebook's scores")
    s.add_argument("--format", choices=("table", "csv"), default="table")
    s.add_argument("--assignment", help="only this assignment")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")

    s = add("check", cmd_check, "check an assignment's hidden checks against its solution, blank and known mistakes")
    s.add_argument("assignment")
    s.add_argument("--keep", help="keep the scratch course in this folder")
    s.add_argument("--jobs", type=int, default=_default("ml4p.check", "check", "jobs"),
                   help="submissions graded at once (default: %(default)s)")
    s.add_argument("--combined", action="store_true",
                   help="pack mistakes of different parts into one submission each: half the gradings, a quick check")

    s = add("course-grades", cmd_course_grades, "course grades: assignments, project and presentation, "
            "weighted as in nbgrader_config.py (c.CoursePolicy)")
    s.add_argument("--format", choices=("table", "csv"), default="table")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")

    s = add("feedback", cmd_feedback, "nbgrader's feedback pages, student HTML sanitised, each checked for hidden source and scripts")
    s.add_argument("assignment")
    s.add_argument("--student", help="only this student")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")

    s = add("export", cmd_export, "export grades for another system: Gradescope results.json per student")
    s.add_argument("target", choices=("gradescope",), help="the format")
    s.add_argument("assignment")
    s.add_argument("--out", required=True, help="folder for <student>/results.json")
    s.add_argument("--visibility", choices=_grader_attr("ml4p.exports", "VISIBILITIES"),
                   default=_default("ml4p.exports", "export_gradescope", "visibility"),
                   help="when students see the results on Gradescope (default: %(default)s)")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")

    s = add("report", cmd_report, "the instructor's HTML report: grade distributions and the most-failed checks")
    s.add_argument("--out", required=True, help="the HTML file to write")
    s.add_argument("--course", default=".", help="course directory (default: the current one)")
    return p


def main(argv: list[str] | None = None) -> int:
    from ml4p.course import CourseError

    # nbgrader's gradebook code trips SQLAlchemy "not in session" notices on new submissions:
    # harmless, nbgrader's own, and nothing a TA can act on.
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted")

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (CourseError, FileNotFoundError) as exc:
        errors.print(f"[red]ml4p {args.command}:[/] {exc}")
        return 2
    except ModuleNotFoundError as exc:
        if not _grader_missing(exc):
            raise
        errors.print(f"[red]ml4p {args.command}:[/] needs the grader's part of ml4p ({exc.name} is not installed): "
                     "pip install 'ml4p\\[grader]'. A student's install has what the notebooks and ml4p validate need.")
        return 2


if __name__ == "__main__":
    sys.exit(main())
