"""The instructor's report: one self-contained HTML file (plots inline as PNG).

- the course grade's distribution, with the pass mark drawn;
- each assignment's distribution of scores, one plot per assignment;
- for every hidden check of every assignment, the share of students who passed it,
  the most-failed first: what the next lecture should revisit. The cases of a
  parametrised check ("energy matches ... [batch (3,)-float32]") are one row, its
  variants, so that checks stay apart and every name is shown whole.

The page is rendered from ``templates/report.html.j2`` with autoescaping on: check
messages hold exception text and student ids come from rubric files, so every
string on the page is escaped by the template, never by hand.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader

from ml4p.course import find_course, load_config

FONT = 13  # points, at 100 dpi: readable at the page's 1100 px width
WRAP = 120  # characters per line of a check's label in the chart (about the plot's width at FONT - 1)
LINE, BAR, GAP = 0.21, 0.24, 0.14  # inches in the checks chart: a label line, a bar, the space below a bar
MARGIN = 0.65  # inches below the checks chart's bars: the x axis and its label
CASE = re.compile(r"^(?P<name>.+) \[(?P<case>[^\[\]]*)\]$")  # "title [callspec id]", as grading.plugin names it


@dataclass
class Variant:
    """One case of a parametrised check ("batch (3,)-float32")."""

    case: str
    passed: int = 0
    total: int = 0


@dataclass
class CheckStat:
    """One hidden check over the graded students; a student passes it by passing every variant."""

    assignment: str
    part: str
    name: str  # without the case of a parametrised check
    passed: int = 0
    total: int = 0
    variants: dict[str, Variant] = field(default_factory=dict)  # case -> counts; empty: not parametrised
    failures: Counter = field(default_factory=Counter)  # message -> how many students got it

    @property
    def share(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def label(self) -> str:
        more = f"  ({len(self.variants)}\u00a0variants)" if self.variants else ""
        return f"{self.part}: {self.name}{more}"


def split_case(name: str) -> tuple[str, str]:
    """``"energy matches [batch ()-float32]"`` -> ``("energy matches", "batch ()-float32")``; no case: ``""``."""
    m = CASE.match(name)
    return (m["name"], m["case"]) if m else (name, "")


def tally(submissions: list[tuple[str, list[dict]]]) -> list[CheckStat]:
    """Every hidden check's pass count, most-failed first, from (assignment, one student's reports) pairs.

    reports: ``feedback.check_reports`` of one student. A name seen with two or more cases
    is a parametrised check (its cases become variants); a single "[...]" at the end of a
    name is left as written ("one number in [0, 1]").
    """
    cases: dict[tuple[str, str, str], set[str]] = {}
    for assignment, reports in submissions:
        for rep in reports:
            for c in rep["checks"]:
                name, case = split_case(c["name"])
                cases.setdefault((assignment, rep["part"], name), set()).add(case)
    stats: dict[tuple[str, str, str], CheckStat] = {}
    for assignment, reports in submissions:
        outcomes: dict[tuple[str, str, str], list[tuple[str, dict]]] = {}
        for rep in reports:
            for c in rep["checks"]:
                name, case = split_case(c["name"])
                if len(cases[assignment, rep["part"], name]) < 2:
                    name, case = c["name"], ""
                outcomes.setdefault((assignment, rep["part"], name), []).append((case, c))
        for key, results in outcomes.items():
            _count(stats.setdefault(key, CheckStat(*key)), results)
    return sorted(stats.values(), key=lambda s: (s.share, s.assignment, s.part, s.name))


def _count(s: CheckStat, results: list[tuple[str, dict]]) -> None:
    """Add one student's results of one check, (case, check summary) per variant, to ``s``."""
    s.total += 1
    s.passed += all(c["passed"] for _, c in results)
    s.failures.update({c["message"] or "(no message)" for _, c in results if not c["passed"]})
    for case, c in results:
        if case:
            v = s.variants.setdefault(case, Variant(case))
            v.total += 1
            v.passed += bool(c["passed"])


def check_stats(course: Path, assignments: list[str]) -> list[CheckStat]:
    """Every hidden check's pass count over the autograded submissions, most-failed first."""
    from ml4p.feedback import check_reports

    return tally([(a, check_reports(course, a, folder.parent.name)) for a in assignments
                  for folder in sorted((Path(course) / "autograded").glob(f"*/{a}"))])


def instructor_report(*, course: Path | str | None = None, out: Path) -> Path:
    """Write the report to ``out`` (HTML) and return its path."""
    from ml4p.coursegrades import course_grades, load_policy, read_gradebook
    from ml4p.grading.autograde import grades

    root = find_course(course)
    policy = load_policy(root)
    students = course_grades(course=root)
    assignments = read_gradebook(root).assignments
    rows = grades(course=root)
    stats = check_stats(root, assignments)
    page = _template().render(
        course_id=load_config(root).CourseDirectory.get("course_id", root.name),
        now=f"{dt.datetime.now():%Y-%m-%d %H:%M}",
        students=students, policy=policy,
        weights=", ".join(f"{c} {policy.weights[c]:g} %" for c in policy.weighted()),
        n_pass=sum(s.passed for s in students), n_missing=sum(bool(s.missing) for s in students),
        course_plot=_png(_course_figure(students, policy.pass_mark)),
        assignments=[_assignment_view(a, rows, len(students)) for a in assignments],
        checks=[_checks_view(a, [s for s in stats if s.assignment == a]) for a in assignments
                if any(s.assignment == a for s in stats)],
        shown=[s for s in students if not s.passed or s.missing])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def _template():
    env = Environment(loader=PackageLoader("ml4p", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2")


def _assignment_view(assignment: str, rows, n_students: int) -> dict:
    """An assignment's caption and score histogram (None: nothing graded yet)."""
    percents = [100 * r.score / r.max_score for r in rows if r.assignment == assignment and r.max_score > 0]
    mean = f", mean {np.mean(percents):.0f} %" if percents else ""
    return {"name": assignment, "caption": f"{len(percents)} of {n_students} graded{mean}",
            "plot": _png(_assignment_figure(percents)) if percents else None}


def _checks_view(assignment: str, stats: list[CheckStat]) -> dict:
    """An assignment's hidden checks, most failed first: the chart and the table's rows."""
    rows = []
    for s in stats:
        common = s.failures.most_common(1)
        rows.append({"stat": s, "percent": f"{100 * s.share:.0f} %",
                     "failure": common[0][0] if common else "", "failure_count": common[0][1] if common else 0,
                     "variants": [f"[{v.case}] {v.passed}/{v.total}" for v in s.variants.values()]})
    return {"name": assignment, "plot": _png(_checks_figure(stats)), "rows": rows}


# --- figures --------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel(ylabel, fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(axis="y" if ylabel == "students" else "x", alpha=0.3)
    ax.set_axisbelow(True)


def _course_figure(students, pass_mark: float):
    fig = _figure(11, 4.6)
    ax = fig.add_subplot()
    passing = [s.grade for s in students if s.passed]
    failing = [s.grade for s in students if not s.passed]
    ax.hist([failing, passing], bins=np.arange(0, 105, 5), stacked=True, color=["#d62728", "#1f77b4"],
            edgecolor="white", label=[f"does not pass ({len(failing)})", f"passes ({len(passing)})"])
    ax.axvline(pass_mark, color="black", linestyle="--", linewidth=2, label=f"pass mark {pass_mark:g}")
    ax.set_xlim(0, 100)
    ax.yaxis.get_major_locator().set_params(integer=True)
    _style(ax, "course grade (0-100)", "students")
    ax.set_title(f"Course grade of {len(students)} students", fontsize=FONT + 2)
    fig.legend(loc="outside lower center", ncols=3, fontsize=FONT - 1, frameon=False)  # never over the bars
    return fig


def _assignment_figure(percents: list[float]):
    """One assignment's histogram; its title is the page's caption (titles side by side ran into each other)."""
    fig = _figure(5.3, 3.2)
    ax = fig.add_subplot()
    ax.hist(percents, bins=np.arange(0, 110, 10), color="#1f77b4", edgecolor="white")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, 100)
    _style(ax, "score (% of max)", "students")
    return fig


def _checks_figure(stats: list[CheckStat]):
    """One bar per check, the most failed on top, its whole label on the lines above its bar.

    Laid out in inches (the y axis runs in inches from the top), so that a label keeps its
    room however many checks there are.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [textwrap.wrap(s.label, WRAP) for s in stats]
    rows = [LINE * len(lines) + BAR + GAP for lines in labels]
    tops = np.cumsum([0.0, *rows[:-1]])
    height = sum(rows)
    fig = Figure(figsize=(11, height + MARGIN + 0.1), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, MARGIN / (height + MARGIN + 0.1), 0.96, height / (height + MARGIN + 0.1)))
    shares = [100 * s.share for s in stats]
    colors = ["#d62728" if p < 50 else "#ff7f0e" if p < 80 else "#2ca02c" for p in shares]
    for top, lines, s, p, color in zip(tops, labels, stats, shares, colors):
        bar = top + LINE * len(lines) + BAR / 2  # the bar's centre, right below its label
        ax.text(0, top, "\n".join(lines), va="top", fontsize=FONT - 1, linespacing=1.15)
        ax.barh(bar, max(p, 0.3), color=color, height=0.8 * BAR)  # a sliver at 0 %: the row is not empty
        ax.text(min(p, 100) + 1, bar, f"{p:.0f} % ({s.passed}/{s.total})", va="center", fontsize=FONT - 2)
    ax.set_ylim(height, 0)
    ax.set_yticks([])
    ax.set_xlim(0, 115)
    ax.set_xticks(range(0, 101, 20))
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    _style(ax, "students who passed (%)", "")
    return fig


def _png(fig) -> str:
    """The figure as a ``data:`` URL, so that the page needs no other file."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
