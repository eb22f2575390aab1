"""The instructor's report: one self-contained HTML file with its plots and every hidden check."""
from __future__ import annotations

import base64
import html
import re
import shutil

import nbformat
import pytest
from test_coursegrades import graded_course
from toy import A

from ml4p.grading.checks import CHECKS_MIME
from ml4p.report import _checks_figure, check_stats, instructor_report, tally

PNG = b"\x89PNG\r\n\x1a\n"
SCALAR, ARRAY = "double(3.0) is 6", "double doubles every element of an array"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    course = graded_course(tmp_path_factory)
    return course, instructor_report(course=course, out=course / "report" / "report.html").read_text()


def test_report_is_self_contained_with_its_plots(report):
    """Does the page hold its three plots as inline PNGs and load nothing from elsewhere?"""
    _, page = report
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3  # course grade, the toy's scores (hw2 has none), the toy's hidden checks
    assert all(base64.b64decode(data).startswith(PNG) for data in images)
    assert not re.search(r'(src|href)="(https?:|//|file:)', page)


def test_report_names_every_check_most_failed_first(report):
    """Is every hidden check in the table, the array check (2 of 5 pass) above the scalar one (3 of 5)?"""
    _, page = report
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert SCALAR in text and ARRAY in text
    assert text.index(ARRAY) < text.index(SCALAR)
    assert re.search(r"2/5\s+40 %", text) and re.search(r"3/5\s+60 %", text)


def test_check_stats_count_passes_over_students(report):
    """Are the pass counts those of the five toy submissions (reference, late pass both; scalar-only one)?"""
    course, _ = report
    stats = check_stats(course, [A, "hw2"])
    assert [(s.name, s.passed, s.total) for s in stats] == [(ARRAY, 2, 5), (SCALAR, 3, 5)]
    assert sum(stats[0].failures.values()) == 3


def test_report_lists_who_fails_or_misses_work(report):
    """Are the students who do not pass, or miss work, listed with what is missing?"""
    _, page = report
    table = page[page.index("Students who do not pass"):]
    for student in ("blank", "ghost", "rubric-only", "scalar-only", "mistake-adds", "late"):  # late passes, misses hw2
        assert f"<td>{student}</td>" in table
    assert "assignment hw2" in table


SCRIPT = "<script>alert(1)</script>"


def test_what_students_control_is_escaped(report, tmp_path):
    """A rubric's student id and a check message (exception text) holding a script: shown as text, never as a tag?"""
    course = shutil.copytree(report[0], tmp_path / "hostile")
    with open(course / "rubrics" / "project.csv", "a", encoding="utf-8") as f:
        f.write(f"{SCRIPT},physics,1,10,\n{SCRIPT},code,1,6,\n{SCRIPT},clarity,1,4,\n")
    for path in (course / "autograded").glob(f"*/{A}/{A}.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                for check in out.get("data", {}).get(CHECKS_MIME, {}).get("checks", []):
                    check["message"] = "" if check["passed"] else f"ValueError: {SCRIPT}"
        nbformat.write(nb, path)
    page = instructor_report(course=course, out=tmp_path / "report.html").read_text()
    assert "<script" not in page.lower()
    shown = html.escape(SCRIPT)
    assert f"<td>{shown}</td>" in page  # the student, in the table of who does not pass
    assert f"ValueError: {shown}" in page  # the most common failure


def report_of(*checks: tuple[str, bool]) -> list[dict]:
    """One student's hidden-check reports: one part, "energy", with these (name, passed) checks."""
    return [{"part": "energy", "checks": [{"name": n, "passed": p, "message": "" if p else f"{n} failed"}
                                         for n, p in checks]}]


def test_the_cases_of_a_parametrised_check_are_one_row():
    """Two students, a check in two dtypes: one row, passed by whoever passed both, each variant counted?"""
    f32, f64 = "energy matches [float32]", "energy matches [float64]"
    one = "rate is one number in [0, 1]"  # a name that ends in brackets but has no other case
    stats = tally([("hw", report_of((f32, True), (f64, True), (one, True))),
                   ("hw", report_of((f32, False), (f64, True), (one, False)))])
    assert [(s.name, s.passed, s.total) for s in stats] == [("energy matches", 1, 2), (one, 1, 2)]
    variants = stats[0].variants
    assert [(v.case, v.passed, v.total) for v in variants.values()] == [("float32", 1, 2), ("float64", 2, 2)]
    assert stats[0].failures == {f"{f32} failed": 1} and not stats[1].variants


def test_the_chart_shows_every_label_whole():
    """Long check names: is each one in the chart in full (wrapped, never cut), above its own bar?"""
    names = [f"check number {i} " + "with a long name that says exactly what it verifies " * 3 for i in range(4)]
    stats = tally([("hw", report_of(*[(n, i % 2 == 0) for i, n in enumerate(names)]))])
    fig = _checks_figure(stats)
    fig.canvas.draw()
    texts = [" ".join(t.get_text().split()) for t in fig.axes[0].texts]
    for name in names:
        assert f"energy: {' '.join(name.split())}" in texts
    assert not any("…" in t for t in texts)
    boxes = [t.get_window_extent() for t in fig.axes[0].texts if t.get_text().startswith("energy")]
    assert all(a.y1 <= b.y0 or b.y1 <= a.y0 for i, a in enumerate(boxes) for b in boxes[i + 1:])  # no overlap
