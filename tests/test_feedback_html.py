"""Feedback pages and the student's own HTML: whoever opens a page must run nothing the student wrote.

A submission of the toy assignment whose cells display HTML with a <script>, an
<img onerror>, an <iframe>, JavaScript, an SVG with a script and onload, a
widget, Markdown output, an isolated HTML output, and a Markdown cell with raw
<script>, <img onerror> and a javascript: link. Every payload, had it run,
would add an element <x-pwned-KIND> to the page (or write "x-pwned" into the
frame), so "x-pwned" anywhere but in text is a payload that survived.
"""
from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell
from test_coursegrades import graded_course
from test_exports import visible_text
from toy import A

from ml4p.course import CONFIG_FILE, nbgrader_api
from ml4p.feedback import FeedbackExporter, UnsafePageError, feedback, payloads

S = "xss"  # the student


def pwn(kind: str) -> str:
    """JavaScript that leaves <x-pwned-KIND> in the page when it runs."""
    return f"document.documentElement.append(document.createElement('x-pwned-{kind}'))"


HTML_OUT = (f"<b>bold</b><script>{pwn('html')}</script>"
            f"<img src=x onerror=\"{pwn('htmlimg')}\">"
            "<iframe src=\"javascript:parent.document.title='x-pwned-iframe'\"></iframe>")
SVG_OUT = (f"<svg xmlns='http://www.w3.org/2000/svg' onload=\"{pwn('svg')}\">"
           f"<script>{pwn('svgscript')}</script><circle r='5'/></svg>")
CODE = f"""\
from IPython.display import HTML, SVG, Javascript, Markdown, display
display(HTML({HTML_OUT!r}))
display(Javascript({pwn('js')!r}))
display(SVG({SVG_OUT!r}))
display(Markdown({"[md link](javascript:" + pwn('mdoutlink') + ") <script>" + pwn('mdout') + "</script>"!r}))
display({{"application/vnd.jupyter.widget-view+json": {{"model_id": "x-pwned-widget", "version_major": 2,
                                                        "version_minor": 0}}, "text/plain": "a widget"}}, raw=True)
display({{"text/html": "<p>alone</p><script>document.title='x-pwned-isolated'</script>"}}, raw=True,
        metadata={{"text/html": {{"isolated": True}}}})
print("my plain output: 42")
"""
MARKDOWN = f"""\
## My notes

Energy $E < 0$ and $x > 1$; `a<b` in code.

> a quote

| col | right |
|-----|------:|
| 1   | 2     |

<script>{pwn('md')}</script>

<img src=x onerror="{pwn('mdimg')}">

[click me](javascript:{pwn('mdlink')})
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """The graded toy course plus student `xss`: the reference solution with the payload cells, autograded."""
    from ml4p.grading.autograde import autograde
    from ml4p.grading.submissions import known_submissions, submit

    course = shutil.copytree(graded_course(tmp_path_factory), tmp_path_factory.mktemp("hostile") / "course")
    nb = known_submissions(course, A)["reference"][0]
    at = 1 + next(i for i, c in enumerate(nb.cells)
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "double_solution")
    nb.cells[at:at] = [new_markdown_cell(MARKDOWN), new_code_cell(CODE)]
    submit(course, S, A, nb, when=dt.datetime(2030, 1, 10, 11, tzinfo=dt.timezone.utc))
    done = autograde(A, course=course, student=S, jobs=1, progress=False)
    assert [d.ok for d in done] == [True], [d.error for d in done]
    graded = nbformat.read(course / "autograded" / S / A / f"{A}.ipynb", as_version=4)
    kinds = {k for c in graded.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    assert {"text/html", "application/javascript", "image/svg+xml", "text/markdown",
            "application/vnd.jupyter.widget-view+json"} <= kinds  # the payloads were really displayed
    return course


@pytest.fixture(scope="module")
def safe_page(hostile) -> Path:
    """`ml4p feedback` for student xss."""
    pages = feedback(A, course=hostile, student=S)
    assert [p.parent.parent.name for p in pages] == [S]
    return pages[0]


@pytest.fixture(scope="module")
def unsafe_page(hostile, tmp_path_factory) -> Path:
    """What nbgrader makes of the same submission with nbconvert's plain HTMLExporter (its default)."""
    course = shutil.copytree(hostile, tmp_path_factory.mktemp("plain") / "course")
    result = nbgrader_api(course, **{"GenerateFeedback.exporter_class": HTMLExporter}).generate_feedback(
        A, S, force=True)
    assert result["success"], result
    return course / "feedback" / S / A / f"{A}.html"


def live_payloads(page_html: str, *, body: bool = False) -> list[str]:
    """The payloads (marked x-pwned) that are markup, not text: scripts, attributes, frames, found independently."""
    soup = BeautifulSoup(page_html, "html.parser")
    found = []
    for el in soup.find_all(True):
        in_body = body or el.find_parent("body") is not None
        if el.name == "script" and "x-pwned" in el.get_text() and in_body:
            found.append(f"<script> {el.get_text()}")
        if el.name in ("iframe", "object", "embed") and in_body:
            src = el.get("src", "")
            if src.startswith("data:text/html;base64,"):
                found += [f"in {el.name}: {p}" for p in live_payloads(
                    base64.b64decode(src.split(",", 1)[1]).decode(), body=True)]
            else:
                found.append(f"<{el.name} src={src!r}>")
        for name, value in el.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            if "x-pwned" in value or "javascript:" in value.lower():
                found.append(f"<{el.name} {name}={value!r}>")
    return found


# --- the pages ------------------------------------------------------------------------------


def test_plain_nbgrader_feedback_would_carry_the_payloads(unsafe_page):
    """Without ml4p's exporter, do the student's scripts, event handlers, frames and links reach the page
    (the hole, and proof that the checks below can see it), and does ml4p's verifier flag each?"""
    page = unsafe_page.read_text()
    live = "\n".join(live_payloads(page))
    for kind in ("html", "htmlimg", "js", "md", "mdimg", "mdlink", "mdout", "mdoutlink"):
        assert re.search(rf"x-pwned-{kind}(?![a-z])", live), (kind, live)
    assert "<iframe src=" in live
    flagged = "\n".join(payloads(page))
    for what in ("<script>", "event attribute onerror=", "href='javascript:", "<iframe>"):
        assert what in flagged, (what, flagged)


def test_ml4p_feedback_holds_no_payload_in_executable_form(safe_page):
    """After `ml4p feedback`, is every payload gone or mere text: no student script, handler, frame or
    javascript: link, and no SVG, widget or JavaScript output at all?"""
    page = safe_page.read_text()
    assert live_payloads(page) == []
    assert payloads(page) == []
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.select(".output_javascript, .output_svg, .output_widget_view")
    assert len([s for s in soup.find_all("script") if s.find_parent("head")]) == len(soup.find_all("script"))


def test_the_report_and_the_students_own_output_are_still_shown(safe_page):
    """Are the hidden-check report and the student's plain output on the page, and their HTML visible as text?"""
    text = visible_text(safe_page.read_text())
    assert "Hidden checks for `double`: 2 / 2 points" in text
    assert "✓ double(3.0) is 6" in text and "✓ double doubles every element of an array" in text
    assert "my plain output: 42" in text
    assert "<IPython.core.display.Javascript object>" in text  # the text fallback of a dropped output
    assert f"<script>{pwn('md')}</script>" in text  # the student sees, as text, what was neutralised


def test_inert_formatting_and_latex_survive(safe_page):
    """Do headings, bold, tables and quotes still render, and LaTeX keep its < and > (not &lt;)?"""
    page = safe_page.read_text()
    soup = BeautifulSoup(page, "html.parser")
    assert "My notes" in soup.find("h2").get_text()
    assert soup.find("b", string="bold") and soup.find("blockquote")
    assert soup.find("th", string="right")
    text = visible_text(page)
    assert "$E < 0$" in text and "$x > 1$" in text and "a<b" in text


def test_nbgrader_generate_feedback_in_an_ml4p_course_is_safe_too(hostile, tmp_path):
    """Does nbgrader's own `generate_feedback`, run in the course, make the same safe page (config)?"""
    course = shutil.copytree(hostile, tmp_path / "course")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", A, "--student", S, "--force"],
                   cwd=course, check=True, capture_output=True, timeout=300)
    page = (course / "feedback" / S / A / f"{A}.html").read_text()
    assert live_payloads(page) == [] and payloads(page) == []
    assert "Hidden checks for `double`: 2 / 2 points" in visible_text(page)


def test_a_course_configured_before_the_sanitizer_still_gets_safe_pages(hostile, tmp_path):
    """A course whose nbgrader_config.py predates the safe exporter: is `ml4p feedback` safe all the same?"""
    course = shutil.copytree(hostile, tmp_path / "course")
    config = course / CONFIG_FILE
    old = "\n".join(line for line in config.read_text().splitlines() if "exporter_class" not in line)
    config.write_text(old)
    assert "FeedbackExporter" not in config.read_text()
    page = feedback(A, course=course, student=S)[0].read_text()
    assert live_payloads(page) == []
    assert "Hidden checks for `double`: 2 / 2 points" in visible_text(page)


def test_a_weakened_sanitizer_is_caught_and_the_page_deleted(hostile, tmp_path):
    """If the course lets <script> through the sanitizer, is that page deleted with an error naming it,
    while the other students' pages are kept?"""
    course = shutil.copytree(hostile, tmp_path / "course")
    with open(course / CONFIG_FILE, "a") as f:
        f.write('\nimport bleach\nc.FeedbackSanitizer.tags = [*bleach.ALLOWED_TAGS, "script"]\n')
    with pytest.raises(UnsafePageError, match=rf"feedback/{S}/{A}/{A}.html: <script>.*x-pwned") as err:
        feedback(A, course=course)
    assert "hidden-check" not in str(err.value)
    assert not (course / "feedback" / S / A / f"{A}.html").exists()
    assert (course / "feedback" / "reference" / A / f"{A}.html").exists()


# --- the verifier on its own ----------------------------------------------------------------

PAGE = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title>'
        '<script src="https://cdn.example/mathjax.js"></script><script type="text/x-mathjax-config">init()</script>'
        '</head><body><div id="notebook"><p>the student\'s cell: <b>fine</b> &lt;script&gt;x()&lt;/script&gt;</p>'
        '{}</div></body></html>')


def isolated(inner: str) -> str:
    return f'<iframe class="isolated-iframe" src="data:text/html;base64,{base64.b64encode(inner.encode()).decode()}">'


@pytest.mark.parametrize("payload, named", [
    ("<script>alert(1)</script>", "<script>"),
    ("<img src=x onerror=alert(1)>", "onerror="),
    ("<svg><circle onload=alert(1) r=1 /></svg>", "onload="),
    ('<a href="javascript:alert(1)">x</a>', "href="),
    ('<a href="  jav&#x09;ascript:alert(1)">x</a>', "href="),
    ('<a href="data:text/html,<script>alert(1)</script>">x</a>', "href="),
    ('<svg><animate attributeName="href" values="javascript:alert(1)"/></svg>', "values="),
    ('<form><button formaction="javascript:alert(1)">x</button></form>', "formaction="),
    ('<iframe src="https://example.org"></iframe>', "<iframe>"),
    ('<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>', "srcdoc="),
    ('<object data="x.swf"></object>', "<object>"),
    ('<embed src="x.svg">', "<embed>"),
    ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', "<meta>"),
    ("</body></html><head><script>alert(1)</script></head>", "<script>"),
    (isolated("<p>hi</p><script>alert(1)</script>"), "in the isolated output"),
])
def test_the_verifier_refuses_each_kind_of_payload(payload, named):
    """Does the page check flag a hand-made page holding this payload, and say what it found?"""
    found = payloads(PAGE.format(payload))
    assert found and any(named in f for f in found), found


def test_the_verifier_accepts_the_templates_own_scripts_and_inert_markup():
    """Are the template's <head> scripts, inert markup, images and a clean isolated output accepted?"""
    body = ('<img src="data:image/png;base64,iVBORw0KGgo="><a href="#top">top</a><a href="https://x.org">x</a>'
            + isolated("<p>hi</p>") + '<h2 id="Notes">Notes</h2><pre class="x">on=1 javascript: text</pre>')
    assert payloads(PAGE.format(body)) == []


# --- in a browser ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browser_dom(page: Path) -> str:
    """The page's DOM after headless Chromium loaded it and ran its scripts."""
    run = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--virtual-time-budget=3000",
                          "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "<body" in run.stdout, run.stderr[-2000:]
    return run.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (apt-get install chromium)")
def test_no_payload_runs_in_a_browser(safe_page, unsafe_page):
    """Opened in Chromium, does nothing of the student's run on ml4p's page, where it did run on plain nbgrader's?"""
    ran = set(re.findall(r"<x-pwned-([a-z]+)", browser_dom(unsafe_page)))
    assert {"html", "htmlimg", "md", "mdimg", "mdout"} <= ran  # the payloads work, and the browser shows it
    dom = browser_dom(safe_page)
    assert re.findall(r"<x-pwned-([a-z]+)", dom) == []
    assert re.search(r"<title>\s*toy\s*</title>", dom)
    assert "Hidden checks for `double`: 2 / 2 points" in visible_text(dom)


def test_long_report_lines_wrap_instead_of_running_off_the_page(safe_page):
    """Does the page carry, in the template's <head> (before anything of the student's), the style that wraps
    long lines of text output such as a check's message?"""
    head = safe_page.read_text().split("<body", 1)[0]
    assert FeedbackExporter.WRAP_TEXT in head
    assert "white-space: pre-wrap" in FeedbackExporter.WRAP_TEXT
