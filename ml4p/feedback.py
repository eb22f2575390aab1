"""Student feedback: nbgrader's own HTML pages, each proven free of hidden source before it is kept.

nbgrader's feedback shows the autograded notebook; ml4p's hidden-check cells hold
only a placeholder and, as output, the check report. Restored hidden tests have
leaked into nbgrader feedback before (nbgrader #917, #1363), so every page is
compared with the *distinctive lines* of the hidden checks and the oracle: lines
of code (not comments, not text inside strings) of ``MIN_LINE`` characters or
more that appear neither in the released notebook nor in that student's own
submission. A page holding one is deleted and ``LeakError`` raised.
"""
from __future__ import annotations

import html
import io
import re
import tokenize
from pathlib import Path

import nbformat

from ml4p.course import CourseError, find_course, nbgrader_api
from ml4p.grading.checks import CHECKS_MIME

MIN_LINE = 20  # characters: shorter lines ("return x", "x = x.T") prove nothing about a leak
_STRING_ONLY = re.compile(r"""^[rRbBuUfF]{0,2}["']""")  # a line that is text: a docstring or message


class LeakError(CourseError):
    """A student-facing file holds hidden-check or oracle source (it has been deleted)."""


def feedback(assignment: str, *, course: Path | str | None = None, student: str | None = None) -> list[Path]:
    """nbgrader's feedback HTML for the autograded submissions of ``assignment`` (one student, or all).

    Returns the pages, each verified to hold no hidden-check or oracle source.
    """
    root = find_course(course)
    graded = root / "autograded"
    if student and not (graded / student / assignment).is_dir():
        raise FileNotFoundError(f"no autograded submission of {assignment!r} by {student!r}: "
                                f"run `ml4p autograde {assignment} --student {student}` first")
    students = [student] if student else sorted(p.parent.name for p in graded.glob(f"*/{assignment}") if p.is_dir())
    if not students:
        raise FileNotFoundError(f"no autograded submissions of {assignment!r} in {graded}")
    result = nbgrader_api(root).generate_feedback(assignment, student, force=True)
    if not result.get("success"):
        raise CourseError(f"nbgrader could not generate feedback for {assignment}:\n"
                          f"{result.get('error') or result.get('log')}")
    forbidden = hidden_lines(root, assignment)
    pages, leaked = [], []
    for s in students:
        own = submission_text(root, assignment, s)
        for page in sorted((root / "feedback" / s / assignment).glob("*.html")):
            found = leaks(page_text(page.read_text(encoding="utf-8")), forbidden, own=own)
            if found:
                page.unlink()
                leaked.append(f"{page.relative_to(root)}: {found[0]!r}" + (f" and {len(found) - 1} more line(s)"
                                                                           if len(found) > 1 else ""))
            else:
                pages.append(page)
    if leaked:
        raise LeakError("hidden-check or oracle source reached feedback; deleted:\n  " + "\n  ".join(leaked))
    return pages


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
