"""The instructor's report: one self-contained HTML file with its plots and every hidden check."""
from __future__ import annotations

import base64
import html
import re

import pytest
from test_coursegrades import graded_course
from toy import A

from ml4p.report import check_stats, instructor_report

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
    assert len(images) == 3  # course grade, assignments, hidden checks
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
