"""Student feedback: nbgrader's own HTML pages, each proven free of hidden source and of students' scripts.

nbgrader's feedback shows the autograded notebook; ml4p's hidden-check cells hold
only a placeholder and, as output, the check report. Restored hidden tests have
leaked into nbgrader feedback before (nbgrader #917, #1363), so every page is
compared with the *distinctive lines* of the hidden checks and the oracle: lines
of code (not comments, not text inside strings) of ``MIN_LINE`` characters or
more that appear neither in the released notebook nor in that student's own
submission. A page holding one is deleted and ``LeakError`` raised.

The page also shows what the student's notebook displayed and wrote in Markdown,
and whoever opens it (a TA, the student) would run any script in it. nbgrader's
feedback is therefore made by ``FeedbackExporter`` (the course's
nbgrader_config.py names it, and ``feedback`` passes it for courses whose
configuration predates it): nbconvert's HTML exporter with nbconvert's
``SanitizeHTML`` preprocessor (bleach) over every output and the same bleach
settings over the HTML rendered from Markdown. JavaScript, SVG, widget and other
active outputs are dropped (a plain-text fallback shows instead); HTML in
outputs and Markdown cells keeps inert formatting only, the rest escaped into
visible text; Markdown links to ``javascript:`` and other harmful protocols
lose their URL. Every page is then
checked once more: one still holding a student's script, event handler
(``on...=``), ``javascript:`` URL or embedded frame/object is deleted and
``UnsafePageError`` raised.
"""
from __future__ import annotations

import base64
import binascii
import html
import io
import re
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import bleach
import nbformat
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import Any, List, Set, Unicode

from ml4p.course import CourseError, find_course, nbgrader_api
from ml4p.grading.checks import CHECKS_MIME

MIN_LINE = 20  # characters: shorter lines ("return x", "x = x.T") prove nothing about a leak
_STRING_ONLY = re.compile(r"""^[rRbBuUfF]{0,2}["']""")  # a line that is text: a docstring or message


class LeakError(CourseError):
    """A student-facing file holds hidden-check or oracle source (it has been deleted)."""


class UnsafePageError(LeakError):
    """A feedback page holds a student's executable HTML or JavaScript (it has been deleted)."""


# --- making the pages -------------------------------------------------------------------------

# Formatting that runs nothing, beyond bleach's defaults: what Markdown renders to, and what rich
# (Keras' model.summary()), IPython and simple HTML tables display. No attribute that can hold a
# script; URLs only http(s), mailto and relative (bleach's protocols); style (CSS cleaned by bleach)
# only on table cells, for Markdown's column alignment.
INERT_TAGS = ["p", "div", "span", "pre", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "sub", "sup", "small",
              "u", "s", "del", "ins", "kbd", "samp", "var", "dl", "dt", "dd", "img", "table", "caption", "thead",
              "tbody", "tfoot", "tr", "th", "td"]
INERT_ATTRIBUTES = {**bleach.ALLOWED_ATTRIBUTES, "*": ["class", "title"], "img": ["src", "alt", "width", "height"],
                    "ol": ["start"], **{f"h{i}": ["id"] for i in range(1, 7)},
                    "th": ["colspan", "rowspan", "style"], "td": ["colspan", "rowspan", "style"]}


class FeedbackSanitizer(SanitizeHTML):
    """nbconvert's ``SanitizeHTML`` (bleach) as ``FeedbackExporter`` uses it, keeping inert formatting.

    Outputs: text/html is cleaned, JavaScript, SVG, widgets and every type not listed are dropped.
    Markdown cells and text/markdown outputs are left to ``FeedbackExporter.markdown2html``, which
    cleans the HTML rendered from them (bleach on Markdown *source* would escape the ``<`` and ``>``
    of LaTeX, block quotes and code). Configure it as ``c.FeedbackSanitizer`` in nbgrader_config.py.
    """

    tags = List(Unicode(), default_value=sorted({*bleach.ALLOWED_TAGS, *INERT_TAGS}),
                help="HTML tags kept; others are escaped into visible text").tag(config=True)
    attributes = Any(default_value=INERT_ATTRIBUTES, help="HTML attributes kept, per tag").tag(config=True)
    sanitized_output_types = Set(Unicode(), default_value={"text/html"},
                                 help="output types cleaned by bleach").tag(config=True)
    safe_output_keys = Set(Unicode(), default_value={"metadata", "text/plain", "text/latex", "application/json",
                                                     "image/png", "image/jpeg", "text/markdown"},
                           help="output types kept as they are (the template escapes them; text/markdown: "
                                "FeedbackExporter cleans its HTML)").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            return cell, resources  # cleaned once rendered: FeedbackExporter.markdown2html
        return super().preprocess_cell(cell, resources, cell_index)


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter for pages that show a student's notebook to others: nothing in it runs.

    Every cell passes ``FeedbackSanitizer`` (or a ``SanitizeHTML`` configured already); the HTML
    rendered from Markdown (cells, text/markdown outputs, graders' comments) is cleaned by the same
    bleach settings, which drop links and images to ``javascript:`` or other harmful protocols.
    """

    def _init_preprocessors(self):
        super()._init_preprocessors()
        self.sanitizer = next((pp for pp in self._preprocessors if isinstance(pp, SanitizeHTML)), None)
        if self.sanitizer is None:
            self.sanitizer = self.register_preprocessor(FeedbackSanitizer(parent=self), enabled=True)

    #: Long lines of text output (a check's message, a traceback) wrap instead of scrolling off the page.
    WRAP_TEXT = ("<style>div.output_text pre, div.output_stream pre, div.output_error pre "
                 "{ white-space: pre-wrap !important; word-break: normal !important; overflow-wrap: anywhere; }</style>")

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources, **kw)
        # the template's own </head> comes first: the student's cells are in <body>, sanitised
        return html.replace("</head>", self.WRAP_TEXT + "</head>", 1), resources

    @pass_context
    def markdown2html(self, context, source):
        """nbconvert's own rendering of Markdown, then the sanitizer's bleach over the HTML it made
        (bleach keeps only http(s), mailto and relative URLs: a ``javascript:`` link loses its href)."""
        return self.sanitizer.sanitize_html_tags(super().markdown2html(context, source))


# The nbgrader settings of a safe feedback run (CONFIG_TEMPLATE in ml4p/course.py has the same).
FEEDBACK_SETTINGS = {"GenerateFeedback.exporter_class": FeedbackExporter}


def feedback(assignment: str, *, course: Path | str | None = None, student: str | None = None) -> list[Path]:
    """nbgrader's feedback HTML for the autograded submissions of ``assignment`` (one student, or all).

    Returns the pages, each verified to hold no hidden-check or oracle source and nothing of the
    student's that a browser would run. Pages that fail are deleted and ``LeakError`` (for hidden
    source) or ``UnsafePageError`` (only scripts) raised, naming them; the other pages are kept.
    """
    root = find_course(course)
    graded = root / "autograded"
    if student and not (graded / student / assignment).is_dir():
        raise FileNotFoundError(f"no autograded submission of {assignment!r} by {student!r}: "
                                f"run `ml4p autograde {assignment} --student {student}` first")
    students = [student] if student else sorted(p.parent.name for p in graded.glob(f"*/{assignment}") if p.is_dir())
    if not students:
        raise FileNotFoundError(f"no autograded submissions of {assignment!r} in {graded}")
    result = nbgrader_api(root, **FEEDBACK_SETTINGS).generate_feedback(assignment, student, force=True)
    if not result.get("success"):
        raise CourseError(f"nbgrader could not generate feedback for {assignment}:\n"
                          f"{result.get('error') or result.get('log')}")
    forbidden = hidden_lines(root, assignment)
    pages, leaked, unsafe = [], [], []
    for s in students:
        own = submission_text(root, assignment, s)
        for page in sorted((root / "feedback" / s / assignment).glob("*.html")):
            text = page.read_text(encoding="utf-8")
            found, active = leaks(page_text(text), forbidden, own=own), payloads(text)
            if found:
                leaked.append(f"{page.relative_to(root)}: {found[0]!r}" + _more(found, "line"))
            if active:
                unsafe.append(f"{page.relative_to(root)}: {active[0]}" + _more(active, "payload"))
            if found or active:
                page.unlink()
            else:
                pages.append(page)
    problems = (["hidden-check or oracle source reached feedback; deleted:\n  " + "\n  ".join(leaked)]
                if leaked else [])
    if unsafe:
        problems.append("a student's script or active HTML would run in the browser of whoever opens the "
                        "feedback page (does nbgrader_config.py change c.FeedbackSanitizer or the feedback template?); "
                        "deleted:\n  " + "\n  ".join(unsafe))
    if problems:
        raise (LeakError if leaked else UnsafePageError)("\n".join(problems))
    return pages


def _more(found: list, what: str) -> str:
    return f" and {len(found) - 1} more {what}(s)" if len(found) > 1 else ""


def check_reports(course: Path, assignment: str, student: str) -> list[dict]:
    """The hidden-check results of a student's autograded notebook, one ``PartReport.summary()`` per part."""
    reports = []
    for path in sorted((Path(course) / "autograded" / student / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                if out.get("output_type") == "execute_result" and CHECKS_MIME in out.get("data", {}):
                    reports.append(out["data"][CHECKS_MIME])
    return reports


# --- the guard ------------------------------------------------------------------------------


def hidden_lines(course: Path, assignment: str) -> list[str]:
    """Distinctive lines of the hidden checks and the oracle of ``assignment`` (whitespace collapsed)."""
    course = Path(course)
    files = sorted((course / "autograder" / assignment).rglob("*.py"))
    oracle = course / "solutions" / f"{assignment}.py"
    files += [oracle] if oracle.is_file() else []
    public = _squash(notebooks_text(sorted((course / "release" / assignment).glob("*.ipynb"))))
    lines = {line for f in files for line in code_lines(f.read_text(encoding="utf-8"))
             if len(line) >= MIN_LINE and not line.startswith(("import ", "from ")) and line not in public}
    return sorted(lines)


def code_lines(source: str) -> list[str]:
    """The lines of Python ``source`` that hold code, whitespace collapsed.

    Left out: blank lines, comments, and lines that are only text (inside a multi-line
    string, or starting with a string): check names and messages are shown by design.
    """
    text_rows: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                text_rows.update(range(tok.start[0] + 1, tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # not Python after all: every line counts
    out = []
    for row, line in enumerate(source.splitlines(), start=1):
        s = _squash(line)
        if s and row not in text_rows and not s.startswith("#") and not _STRING_ONLY.match(s):
            out.append(s)
    return out


def leaks(text: str, forbidden: list[str], *, own: str = "") -> list[str]:
    """The forbidden lines found in ``text`` (whitespace collapsed) that are not the student's own."""
    text, own = _squash(text), _squash(own)
    return [line for line in forbidden if line in text and line not in own]


FRAME_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "portal", "base"}
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "data", "poster", "background", "cite",
                  "longdesc", "lowsrc", "dynsrc", "usemap", "ping", "codebase", "archive", "manifest", "icon",
                  "xlink:href", "values", "from", "to", "by"}  # the last four: SVG animations of href
HARMFUL_SCHEMES = ("javascript:", "vbscript:", "livescript:")


def payloads(page_html: str) -> list[str]:
    """What in a feedback page a browser would run: a script or embedded frame/object outside the
    template's <head>, an event attribute (``on...=``), a ``javascript:`` (or non-image ``data:``) URL.

    The template writes its own scripts (MathJax) into <head>; the cells, and with them everything
    of the student's, come after it. The template's iframe for an ``isolated`` output (a
    ``data:text/html`` document) is checked inside instead.
    """
    finder = _PayloadFinder(part="start")
    finder.feed(page_html)
    finder.close()
    return finder.found


class _PayloadFinder(HTMLParser):
    def __init__(self, *, part: str):
        super().__init__(convert_charrefs=True)
        self.part = part  # "start", then "head" (the template's), then "body" for good
        self.found: list[str] = []
        self._script: int | None = None  # index in found of the script whose text comes next

    def handle_starttag(self, tag, attrs):
        if tag == "head" and self.part == "start":
            self.part = "head"
        elif tag == "body":
            self.part = "body"
        where = f"<{tag}> at line {self.getpos()[0]}"
        attrs = [(name, value or "") for name, value in attrs]
        inner = _isolated_document(tag, attrs)
        if inner is not None:
            nested = _PayloadFinder(part="body")
            nested.feed(inner)
            nested.close()
            self.found += [f"{item}, in the isolated output {where}" for item in nested.found]
            attrs = [(name, value) for name, value in attrs if name != "src"]
        elif self.part != "head" and (tag in FRAME_TAGS or tag == "script"
                                      or (tag == "meta" and dict(attrs).get("http-equiv"))):
            self.found.append(f"{where}: {_excerpt(self.get_starttag_text())}")
            self._script = len(self.found) - 1 if tag == "script" else None
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"event attribute {name}={_excerpt(value)!r} on {where}")
            elif name == "srcdoc" or (name in URL_ATTRIBUTES and _harmful_url(value)):
                self.found.append(f"{name}={_excerpt(value)!r} on {where}")

    def handle_data(self, data):
        if self._script is not None and data.strip():
            self.found[self._script] += " " + _excerpt(data)
        self._script = None

    def handle_endtag(self, tag):
        self._script = None
        if tag == "head" and self.part == "head":
            self.part = "body"


def _isolated_document(tag: str, attrs: list[tuple[str, str]]) -> str | None:
    """The HTML in the template's iframe for an ``isolated`` output, or None if this is not one."""
    values = dict(attrs)
    prefix = "data:text/html;base64,"
    if tag != "iframe" or "isolated-iframe" not in values.get("class", "").split() or \
            not values.get("src", "").startswith(prefix):
        return None
    try:
        return base64.b64decode(values["src"][len(prefix):], validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def _harmful_url(value: str) -> bool:
    """A URL a browser would run as script (browsers skip controls and whitespace in the scheme)."""
    url = "".join(ch for ch in value if ch > " ").lower()
    return url.startswith(HARMFUL_SCHEMES) or (url.startswith("data:") and not url.startswith("data:image/"))


def _excerpt(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def page_text(page_html: str) -> str:
    """An HTML page as the text it shows (tags removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page_html))


def notebooks_text(paths: list[Path]) -> str:
    """The sources of every cell of the notebooks (unreadable ones give nothing)."""
    parts = []
    for path in paths:
        try:
            parts += [cell.source for cell in nbformat.read(path, as_version=4).cells]
        except Exception:  # noqa: BLE001 - a broken submission simply contributes no text
            continue
    return "\n".join(parts)


def submission_text(course: Path, assignment: str, student: str) -> str:
    """What the student wrote: their submitted notebooks' cells (may show in their own feedback)."""
    return notebooks_text(sorted((Path(course) / "submitted" / student / assignment).glob("*.ipynb")))


def _squash(text: str) -> str:
    return " ".join(text.split())
