"""The instructor's report: one self-contained HTML file (plots inline as PNG).

- the course grade's distribution, with the pass mark drawn;
- each assignment's distribution of scores;
- for every hidden check of every assignment, the share of students who passed it,
  the most-failed first: what the next lecture should revisit.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml4p.course import find_course, load_config

FONT = 13  # points, at 100 dpi: readable at the page's 1100 px width
LABEL = 55  # characters of a check's label in the bar chart (the table has all of it)


@dataclass
class CheckStat:
    assignment: str
    part: str
    name: str
    passed: int = 0
    total: int = 0
    failures: Counter = field(default_factory=Counter)  # message -> how many students got it

    @property
    def share(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def label(self, *, assignment: bool) -> str:
        return (f"{self.assignment} · " if assignment else "") + f"{self.part}: {self.name}"


def check_stats(course: Path, assignments: list[str]) -> list[CheckStat]:
    """Every hidden check's pass count over the autograded submissions, most-failed first."""
    from ml4p.feedback import check_reports

    stats: dict[tuple[str, str, str], CheckStat] = {}
    for a in assignments:
        for folder in sorted((Path(course) / "autograded").glob(f"*/{a}")):
            for rep in check_reports(course, a, folder.parent.name):
                for c in rep["checks"]:
                    s = stats.setdefault((a, rep["part"], c["name"]), CheckStat(a, rep["part"], c["name"]))
                    s.total += 1
                    s.passed += bool(c["passed"])
                    if not c["passed"]:
                        s.failures[c["message"] or "(no message)"] += 1
    return sorted(stats.values(), key=lambda s: (s.share, s.assignment, s.part, s.name))


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
    course_id = load_config(root).CourseDirectory.get("course_id", root.name)

    weights = ", ".join(f"{c} {policy.weights[c]:g} %" for c in policy.weighted())
    n_pass = sum(s.passed for s in students)
    n_missing = sum(bool(s.missing) for s in students)
    body = [f"<h1>Instructor report: {_e(course_id)}</h1>",
            f"<p class=meta>{dt.datetime.now():%Y-%m-%d %H:%M} · {len(students)} students · weights: {_e(weights)}"
            f" · pass mark {policy.pass_mark:g} · drop lowest {policy.drop_lowest}</p>",
            "<h2>Course grade</h2>",
            f"<p>{n_pass} of {len(students)} students pass; {n_missing} have missing work "
            "(counted 0, listed below).</p>",
            _img(_course_figure(students, policy.pass_mark), "histogram of course grades"),
            "<h2>Assignments</h2>",
            _img(_assignments_figure(rows, assignments, len(students)), "histograms of assignment scores")
            if assignments else "<p>No assignments in the gradebook yet.</p>",
            "<h2>Hidden checks, the most failed first</h2>",
            "<p>The checks most students fail are what the next lecture should revisit. Red: fewer than half "
            "of the graded students passed; orange: fewer than 80 %; green: 80 % or more.</p>"]
    if stats:
        body += [_img(_checks_figure(stats), "share of students passing each hidden check"), _checks_table(stats)]
    else:
        body.append("<p>No hidden-check results yet (nothing autograded).</p>")
    body += ["<h2>Students who do not pass or miss work</h2>", _students_table(students)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(PAGE.format(title=_e(f"{course_id}: instructor report"), body="\n".join(body)), encoding="utf-8")
    return out


# --- figures --------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=FONT + 2)
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
    _style(ax, f"Course grade of {len(students)} students", "course grade (0-100)", "students")
    fig.legend(loc="outside lower center", ncols=3, fontsize=FONT - 1, frameon=False)  # never over the bars
    return fig


def _assignments_figure(rows, assignments: list[str], n_students: int):
    cols = min(3, len(assignments))
    nrows = math.ceil(len(assignments) / cols)
    fig = _figure(11, 3.6 * nrows)
    for i, a in enumerate(assignments):
        ax = fig.add_subplot(nrows, cols, i + 1)
        percents = [100 * r.score / r.max_score for r in rows if r.assignment == a and r.max_score > 0]
        if percents:
            ax.hist(percents, bins=np.arange(0, 110, 10), color="#1f77b4", edgecolor="white")
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            ax.text(50, 0.5, "nothing graded yet", ha="center", va="center", fontsize=FONT, color="#777")
        ax.set_xlim(0, 100)
        mean = f", mean {np.mean(percents):.0f} %" if percents else ""
        _style(ax, f"{a}: {len(percents)} of {n_students} graded{mean}", "score (% of max)", "students")
    return fig


def _checks_figure(stats: list[CheckStat]):
    fig = _figure(11, 1.2 + 0.42 * len(stats))
    ax = fig.add_subplot()
    y = np.arange(len(stats))[::-1]  # the most failed on top
    shares = [100 * s.share for s in stats]
    colors = ["#d62728" if p < 50 else "#ff7f0e" if p < 80 else "#2ca02c" for p in shares]
    ax.barh(y, shares, color=colors, height=0.7)
    for yi, s, p in zip(y, stats, shares):
        ax.text(min(p, 100) + 1, yi, f"{p:.0f} % ({s.passed}/{s.total})", va="center", fontsize=FONT - 2)
    several = len({s.assignment for s in stats}) > 1
    ax.set_yticks(y, [_short(s.label(assignment=several)) for s in stats], fontsize=FONT - 2)
    ax.set_xlim(0, 115)
    ax.set_xticks(range(0, 101, 20))
    _style(ax, "", "students who passed (%)", "")
    fig.suptitle("Students passing each hidden check, the most failed on top", fontsize=FONT + 2)
    return fig


def _short(text: str) -> str:
    """Cut in the middle: the end holds a parametrised check's case ("[float32-batch (3,)]")."""
    if len(text) <= LABEL:
        return text
    tail = LABEL // 3
    return text[:LABEL - tail - 1] + "…" + text[-tail:]


def _img(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


# --- tables ---------------------------------------------------------------------------------


def _checks_table(stats: list[CheckStat]) -> str:
    rows = []
    for i, s in enumerate(stats, start=1):
        common = s.failures.most_common(1)
        why = f"{_e(common[0][0])} <span class=n>({common[0][1]}×)</span>" if common else ""
        rows.append(f"<tr><td class=r>{i}</td><td>{_e(s.assignment)}</td><td>{_e(s.part)}</td><td>{_e(s.name)}</td>"
                    f"<td class=r>{s.passed}/{s.total}</td><td class=r>{100 * s.share:.0f} %</td><td>{why}</td></tr>")
    return ("<table><tr><th>#</th><th>assignment</th><th>part</th><th>check</th><th>passed</th><th>share</th>"
            "<th>most common failure</th></tr>" + "".join(rows) + "</table>")


def _students_table(students) -> str:
    shown = [s for s in students if not s.passed or s.missing]
    if not shown:
        return "<p>Every student passes with all work in.</p>"
    rows = "".join(f"<tr><td>{_e(s.student)}</td><td class=r>{s.grade:.1f}</td>"
                   f"<td>{'yes' if s.passed else 'no'}</td><td>{_e('; '.join(s.missing))}</td></tr>" for s in shown)
    return "<table><tr><th>student</th><th>grade</th><th>passes</th><th>missing</th></tr>" + rows + "</table>"


def _e(text) -> str:
    return html.escape(str(text))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 16px; line-height: 1.45;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.8em; }} h2 {{ font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #ccc; }}
.meta {{ color: #555; }}
img {{ max-width: 100%; display: block; margin: 1em 0; }}
table {{ border-collapse: collapse; width: 100%; font-size: 15px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }}
th {{ background: #f2f2f2; }} td.r {{ text-align: right; white-space: nowrap; }} .n {{ color: #777; }}
</style></head>
<body>
{body}
</body></html>
"""
