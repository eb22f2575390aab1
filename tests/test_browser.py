"""In a real browser: a student and a TA use ml4p's course through JupyterLab and nbgrader's pages.

A course with the ``oscillator`` assignment (the quickest to grade, with a written answer graded
by hand) is released to nbgrader's exchange. Two JupyterLab servers run on loopback, as root in
this one machine: the student's, in a folder of their own whose ``nbgrader_config.py`` names the
course's exchange, and the TA's, in the course folder. Chromium, driven by Playwright, then does
what people do:

- the student opens nbgrader's *Assignments* list, fetches the assignment, opens the notebook,
  presses **Validate** (nbgrader's verdict on the untouched notebook: the visible tests fail and
  the written answer is missing), types the answers, validates again (success) and submits;
- the TA opens the *Formgrader*, finds the submission that ``ml4p autograde`` graded (a student
  who wrote explicit Euler instead of velocity Verlet), reads ml4p's hidden-check report in the
  graded notebook, and grades the written answer by hand; the gradebook then holds that score.

The student's ``nbgrader_config.py`` keeps nbgrader's defaults: its Validate looks only at graded
cells, and an ml4p notebook's graded code cells are its hidden-check cells, which under validation
fail when a cell of their part raised (``ml4p.grading.cell``), so the verdict names the part.

Screenshots of each step go into the test's folder and, when ``ML4P_SCREENSHOTS=DIR`` is set,
into ``DIR``. Skipped only where Playwright or Chromium is missing.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser.lab import Lab, Record, chromium, jupyter_lab, stop_process_group

pytestmark = pytest.mark.slow

ASSIGNMENT = "oscillator"
COURSE_ID = "ml4p"
GRADED_STUDENT = "ada"  # her submission: the solution, with explicit Euler in place of velocity Verlet
MISTAKE = "euler_step"
WRITTEN = "written_question"  # the oscillator's written answer: 1 point, graded by hand
TIMEOUT_MS = 30_000  # a page's element to appear
VALIDATE_TIMEOUT_MS = 180_000  # nbgrader's validation runs the whole notebook in a kernel (TensorFlow)
AUTOGRADE_TIMEOUT_S = 300

STUDENT_CONFIG = '''\
# The student's nbgrader configuration: where the course's assignments are released.
c = get_config()  # noqa: F821
c.Exchange.root = {exchange!r}
c.CourseDirectory.course_id = {course_id!r}
'''


@dataclass
class Session:
    course: Path
    student: Lab
    ta: Lab
    browser: object
    record: Record
    autograde: subprocess.Popen
    autograde_log: Path
    solutions: dict[int, str]  # cell index in the released notebook -> what the student types there

    def page(self):
        context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        # Nothing leaves the machine: a request for anything but the servers on loopback (a CDN) fails at once.
        context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]|about:|data:|blob:)"), lambda route: route.abort())
        context.set_default_timeout(TIMEOUT_MS)
        return context.new_page()


def _imports():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright)")
    if chromium() is None:
        pytest.skip("no Chromium to drive (apt-get install chromium)")
    return sync_playwright


def _make_course(root: Path) -> tuple[Path, dict[int, str]]:
    """The course, released to the exchange, with Ada's submission; and the answers the student will type."""
    import nbformat

    from ml4p import cli
    from ml4p.course import create_course, materials_root, nbgrader_api
    from ml4p.grading.submissions import load_mistakes, reference_notebook, submit, with_mistake

    course = create_course(root / "course", materials=materials_root(), assignments=[ASSIGNMENT])
    (course / "exchange").mkdir(mode=0o777)  # as nbgrader makes it: every student writes to it
    (course / "exchange").chmod(0o777)
    assert cli.main(["release", ASSIGNMENT, "--course", str(course), "--force"]) == 0, "ml4p release failed"
    released = nbgrader_api(course).release_assignment(ASSIGNMENT)  # what `nbgrader release_assignment` does
    assert released["success"], f"nbgrader release_assignment failed:\n{released.get('error') or released.get('log')}"

    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    reference = reference_notebook(source, release)
    mistake = next(m for m in load_mistakes(course / "autograder", ASSIGNMENT) if m.name == MISTAKE)
    submit(course, GRADED_STUDENT, ASSIGNMENT, with_mistake(reference, mistake))
    answers = {i: cell.source for i, cell in enumerate(reference.cells)
               if cell.metadata.get("nbgrader", {}).get("solution")}
    return course, answers


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    sync_playwright = _imports()
    import ml4p

    top = tmp_path_factory.mktemp("browser")
    record = Record(top / "screenshots")
    course, answers = _make_course(top)
    # The servers import this ml4p.
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(ml4p.__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH")]))}
    # Ada's submission is graded while the student works in the browser.
    log = top / "autograde.log"
    with open(log, "wb") as out:
        autograde = subprocess.Popen([sys.executable, "-m", "ml4p.cli", "autograde", ASSIGNMENT, "--course", str(course), "-q"],
                                     cwd=course, env={**os.environ, **env, "JUPYTER_DATA_DIR": str(top / "autograde-jupyter")},
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    student_root = top / "student"
    student_root.mkdir()
    (student_root / "nbgrader_config.py").write_text(STUDENT_CONFIG.format(exchange=str(course / "exchange"), course_id=COURSE_ID))
    try:
        with jupyter_lab(student_root, top / "student-jupyter", env=env) as student, \
                jupyter_lab(course, top / "ta-jupyter", env=env) as ta, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
            try:
                yield Session(course, student, ta, browser, record, autograde, log, answers)
            finally:
                browser.close()
    finally:
        stop_process_group(autograde)


def _open_nbgrader(page, item: str) -> None:
    """Nbgrader menu -> ``item`` (Assignment List, Formgrader, ...), as a person clicks it."""
    page.get_by_role("menuitem", name="Nbgrader").click()
    page.get_by_role("menuitem", name=item).click()


def _validate(page):
    """Press the notebook's Validate button; nbgrader's verdict, once its dialog is there."""
    from playwright.sync_api import expect

    page.locator(".jp-NotebookPanel").get_by_role("button", name="Validate").click()
    message = page.locator(".jp-Dialog #validation-message")
    message.wait_for(timeout=VALIDATE_TIMEOUT_MS)
    expect(page.locator(".jp-Dialog .jp-Dialog-header")).to_have_text("Validation Results")
    return message


def test_student_fetches_validates_and_submits(session):
    """Does a student see the released assignment, fetch and open it, get nbgrader's Validate verdict
    (failing visible tests before, success after writing the answers) and submit it?"""
    from playwright.sync_api import expect

    s, rec = session, session.record
    page = s.page()
    fetched_dir = s.student.root / ASSIGNMENT

    with rec.step("student: nbgrader's Assignments list shows the released assignment", page, s.student):
        page.goto(s.student.url("lab"))
        _open_nbgrader(page, "Assignment List")
        released = page.locator("#released_assignments_list")
        expect(released.locator(".list_item", has_text=ASSIGNMENT)).to_contain_text(COURSE_ID)
        expect(released.get_by_role("button", name="Fetch")).to_be_visible()
        rec.shot(page, "1-student-assignment-list")

    with rec.step("student: Fetch puts the notebook in the student's folder", page, s.student):
        released.get_by_role("button", name="Fetch").click()
        fetched = page.locator("#fetched_assignments_list")
        fetched.get_by_role("button", name=ASSIGNMENT).click()  # unfolds its notebooks
        notebook_link = fetched.locator(f"#nbgrader-{COURSE_ID}-{ASSIGNMENT}").get_by_text(ASSIGNMENT, exact=True)
        expect(notebook_link).to_be_visible()
        expect(page.locator("#released_assignments_list")).not_to_contain_text(ASSIGNMENT)
        assert (fetched_dir / f"{ASSIGNMENT}.ipynb").is_file(), sorted(p.name for p in s.student.root.iterdir())
        rec.shot(page, "2-student-fetched")

    with rec.step("student: the fetched notebook opens in JupyterLab", page, s.student):
        notebook_link.click()
        panel = page.locator(".jp-NotebookPanel")
        expect(panel.locator(".jp-MarkdownOutput").first).to_contain_text("A chain of anharmonic oscillators")
        expect(panel.get_by_role("button", name="Validate")).to_be_visible()

    with rec.step("student: Validate on the untouched notebook names what fails", page, s.student):
        verdict = _validate(page)
        expect(verdict).to_have_class(re.compile("validation-failed"))
        expect(verdict).to_contain_text("NotImplementedError")  # the visible tests call the unwritten functions
        expect(verdict).to_contain_text("Hidden checks for `potential`")  # the part's graded cell names it
        expect(verdict).to_contain_text("PartNotReady")
        expect(verdict).to_contain_text("You did not provide a response")  # the written answer
        rec.shot(page, "3-student-validate-untouched")
        page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
        expect(page.locator(".jp-Dialog")).to_have_count(0)

    with rec.step("student: types the answers into the solution cells", page, s.student):
        cells = panel.locator(".jp-Notebook .jp-Cell")
        for index, answer in s.solutions.items():
            cell = cells.nth(index)
            cell.scroll_into_view_if_needed()
            markdown = "jp-MarkdownCell" in (cell.get_attribute("class") or "")
            if markdown:
                expect(cell).to_contain_text("YOUR ANSWER HERE")
                cell.locator(".jp-MarkdownOutput").dblclick()  # shows the cell's source
            else:
                expect(cell.locator(".cm-content")).to_contain_text("raise NotImplementedError()")
            cell.locator(".cm-content").click()
            expect(cell.locator(".cm-editor")).to_have_class(re.compile("cm-focused"))  # typing goes into this cell
            page.keyboard.press("ControlOrMeta+a")
            page.keyboard.insert_text(answer)
            expect(cell.locator(".cm-content")).to_contain_text(answer.strip().splitlines()[-1].strip())
            if markdown:
                page.keyboard.press("Control+Enter")  # render the answer, as a student leaves it
                expect(cell.locator(".jp-MarkdownOutput")).to_contain_text("Velocity Verlet")
        first = cells.nth(min(s.solutions))
        first.scroll_into_view_if_needed()
        expect(first.locator(".cm-content")).not_to_contain_text("NotImplementedError")
        rec.shot(page, "4-student-answers-typed")

    with rec.step("student: Validate on the answered notebook passes", page, s.student):
        verdict = _validate(page)
        expect(verdict).to_have_text("Success! Your notebook passes all the tests.")
        rec.shot(page, "5-student-validate-answered")
        page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
        saved = (fetched_dir / f"{ASSIGNMENT}.ipynb").read_text()
        assert "raise NotImplementedError" not in saved, "Validate saved the notebook first, with the typed answers"

    with rec.step("student: Submit hands the notebook in to the exchange", page, s.student):
        page.locator(".lm-TabBar-tab", has_text="Assignments").click()
        page.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
        submitted = page.locator("#submitted_assignments_list")
        expect(submitted).to_contain_text(ASSIGNMENT)
        inbound = list((s.course / "exchange" / COURSE_ID / "inbound").glob(f"*+{ASSIGNMENT}+*/{ASSIGNMENT}.ipynb"))
        assert len(inbound) == 1, inbound
        assert "raise NotImplementedError" not in inbound[0].read_text(), "the answered notebook was handed in"
        expect(submitted).to_contain_text((inbound[0].parent / "timestamp.txt").read_text().strip())
        rec.shot(page, "6-student-submitted")
    page.context.close()


def test_ta_grades_the_written_answer_in_the_formgrader(session):
    """Does the formgrader show ml4p's hidden-check report in an autograded notebook, and does a manual
    grade typed there for the written answer reach the gradebook?"""
    from nbgrader.api import Gradebook
    from playwright.sync_api import expect

    s, rec = session, session.record
    page = s.page()

    with rec.step("TA: ml4p autograde grades the submission", page):
        try:
            rc = s.autograde.wait(timeout=AUTOGRADE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            rc = "still running"
        assert rc == 0, f"ml4p autograde exited {rc}:\n{s.autograde_log.read_text(errors='replace')[-3000:]}"
    db = f"sqlite:///{s.course / 'gradebook.db'}"
    with Gradebook(db) as gb:
        submission = gb.find_submission(ASSIGNMENT, GRADED_STUDENT)
        auto_score = submission.score
        written = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, GRADED_STUDENT)
        assert written.manual_score is None and written.needs_manual_grade, "the written answer waits for a TA"
        verlet = gb.find_grade("verlet", ASSIGNMENT, ASSIGNMENT, GRADED_STUDENT)
        assert verlet.auto_score < verlet.max_score, "explicit Euler loses points on verlet"

    with rec.step("TA: the Formgrader opens from JupyterLab's Nbgrader menu", page, s.ta):
        page.goto(s.ta.url("lab"))
        _open_nbgrader(page, "Formgrader")
        fg = page.frame_locator("#formgrader-iframe iframe")
        row = fg.locator("tr", has=fg.get_by_role("link", name=ASSIGNMENT))
        expect(row).to_contain_text("released")
        expect(row).to_contain_text("1")  # one submission
        rec.shot(page, "7-ta-formgrader")

    with rec.step("TA: Manual Grading lists the autograded submission, waiting for a manual grade", page, s.ta):
        crumbs = fg.locator(".breadcrumb li")
        fg.get_by_role("link", name="Manual Grading").click()
        expect(crumbs).to_have_count(1)  # Manual Grading: the assignments
        fg.locator("table").get_by_role("link", name=ASSIGNMENT).click()
        expect(crumbs).to_have_count(2)  # the assignment's notebooks
        fg.locator("table").get_by_role("link", name=ASSIGNMENT).click()  # the notebook of that name
        expect(crumbs).to_have_count(3)  # its submissions
        row = fg.locator("tr", has=fg.get_by_role("link", name="Submission #1"))
        expect(row.locator(".score")).to_have_text(f"{auto_score:g} / 8")
        expect(row.locator(".written-score")).to_have_text("0 / 1")
        expect(row.locator(".needs-manual-grade .glyphicon-ok")).to_be_visible()
        rec.shot(page, "8-ta-submissions")

    with rec.step("TA: the graded notebook shows ml4p's hidden-check report", page, s.ta):
        fg.get_by_role("link", name="Submission #1").click()
        report = fg.locator(".output_stdout pre", has_text="Hidden checks for `verlet`")
        expect(report).to_contain_text(f"Hidden checks for `verlet`: {verlet.auto_score:g} / 3 points")
        expect(report).to_contain_text("✗")  # a failed check, with its name
        expect(report).to_contain_text("energy")
        expect(fg.locator(".output_stdout pre", has_text="Hidden checks for `potential`")).to_contain_text("2 / 2 points")
        expect(report).not_to_contain_text("def test_")  # the report names checks, never their source
        report.scroll_into_view_if_needed()
        rec.shot(page, "9-ta-hidden-check-report")
        # The page's grades and comments come from nbgrader's API after the page: typed before, a score is overwritten.
        frame = next(f for f in page.frames if "/formgrader/submissions/" in f.url)
        frame.wait_for_function("() => window.formgrader && formgrader.grades && formgrader.grades.loaded"
                                " && formgrader.comments && formgrader.comments.loaded")

    with rec.step("TA: a manual grade for the written answer is saved", page, s.ta):
        score = fg.locator(f"input.score#{WRITTEN}")
        expect(score).to_have_class(re.compile("needs_manual_grade"))
        score.scroll_into_view_if_needed()
        score.fill("1")
        # On to the next input: the score is saved as it loses the focus. (Offline, the formgrader's own keys,
        # Escape to save among them, are missing: its page loads MathJax from a CDN, and its setup stops there.)
        score.press("Tab")
        expect(score).not_to_have_class(re.compile("needs_manual_grade"), timeout=TIMEOUT_MS)  # the server's answer
        comment = fg.locator(f"textarea#{WRITTEN}-comment")
        comment.fill("Right: Euler's energy grows, Verlet's shadow Hamiltonian keeps it bounded.")
        comment.press("Tab")
        expect(fg.locator(".comment-saved").first).to_be_attached()
        expect(score).to_have_value("1")
        rec.shot(page, "10-ta-manual-grade")

    with rec.step("TA: the gradebook holds the manual grade", page, s.ta):
        deadline = time.monotonic() + 10
        while True:
            with Gradebook(db) as gb:
                written = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, GRADED_STUDENT)
                stored = (written.manual_score, written.needs_manual_grade, gb.find_submission(ASSIGNMENT, GRADED_STUDENT).score)
                comment_text = gb.find_comment(WRITTEN, ASSIGNMENT, ASSIGNMENT, GRADED_STUDENT).manual_comment
            if stored[0] == 1 and comment_text or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert stored == (1, False, auto_score + 1), f"(manual score, needs manual grade, total) = {stored}"
        assert comment_text and "shadow Hamiltonian" in comment_text, comment_text
        fg.get_by_role("link", name=ASSIGNMENT).last.click()  # back to the submissions: the new total
        row = fg.locator("tr", has=fg.get_by_role("link", name="Submission #1"))
        expect(row.locator(".score")).to_have_text(f"{auto_score + 1:g} / 8")
        expect(row.locator(".written-score")).to_have_text("1 / 1")
        expect(row.locator(".needs-manual-grade .glyphicon-ok")).to_have_count(0)
        rec.shot(page, "11-ta-graded")
    page.context.close()
