"""What students and other systems see: feedback pages, results.json for Gradescope, the grades CSV.

No student-facing file may hold the hidden checks' or the oracle's source.
"""
from __future__ import annotations

import copy
import csv
import html
import io
import json
import re
import shutil

import nbformat
import pytest
from test_coursegrades import graded_course
from toy import CHECKS, A

from ml4p.coursegrades import StudentGrade, course_grades
from ml4p.exports import course_grades_csv, export_gradescope, gradescope_results, validate_results
from ml4p.feedback import LeakError, feedback
from ml4p.grading.autograde import GradeRow, grades_csv


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return graded_course(tmp_path_factory)


def check_source_lines() -> list[str]:
    """The toy's hidden-check code, line by line (what must never reach a student), found independently."""
    lines = [line.strip() for line in CHECKS.splitlines()]
    lines = [line for line in lines if len(line) > 15 and not line.startswith(("import", "from", '"""', "#"))]
    assert len(lines) >= 5
    return lines


def visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# --- feedback -------------------------------------------------------------------------------


def test_feedback_shows_reports_and_no_hidden_source(course):
    """Does every feedback page show the check report but not one line of the hidden checks?"""
    pages = feedback(A, course=course)
    assert sorted(p.parent.parent.name for p in pages) == ["blank", "late", "mistake-adds", "reference", "scalar-only"]
    for page in pages:
        text = visible_text(page.read_text())
        assert "Hidden checks for `double`" in text
        leaked = [line for line in check_source_lines() if line in text]
        assert not leaked, (page, leaked)
    scalar = visible_text((course / "feedback" / "scalar-only" / A / f"{A}.html").read_text())
    assert "✓ double(3.0) is 6" in scalar and "✗ double doubles every element of an array" in scalar


def test_feedback_for_one_student(course):
    """`student=` gives that student's page only; a student without a graded submission is named in the error?"""
    assert [p.parent.parent.name for p in feedback(A, course=course, student="blank")] == ["blank"]
    with pytest.raises(FileNotFoundError, match="nobody"):
        feedback(A, course=course, student="nobody")


def test_restored_hidden_tests_are_caught_and_the_page_deleted(course, tmp_path):
    """If hidden-check source got into an autograded notebook (nbgrader #917), is its page deleted and an error raised?"""
    leaky = shutil.copytree(course, tmp_path / "leaky")
    path = leaky / "autograded" / "blank" / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double")
    cell.source += "\n" + CHECKS  # what a restored hidden test cell looks like
    nbformat.write(nb, path)
    with pytest.raises(LeakError, match="blank") as err:
        feedback(A, course=leaky)
    assert any(line in str(err.value) for line in check_source_lines())  # the TA sees what leaked
    assert not (leaky / "feedback" / "blank" / A / f"{A}.html").exists()
    assert (leaky / "feedback" / "reference" / A / f"{A}.html").exists()  # the others are clean and kept


def test_a_students_own_copy_of_a_line_is_not_a_leak(course, tmp_path):
    """A student who wrote a line that also occurs in the hidden checks: is their own code allowed in their page?"""
    own = shutil.copytree(course, tmp_path / "own")
    line = 'x = rng.normal(size=(4, 3))'
    for folder in ("submitted", "autograded"):
        path = own / folder / "blank" / A / f"{A}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(f"rng = np.random.default_rng(0)\n{line}"))
        nbformat.write(nb, path)
    pages = feedback(A, course=own, student="blank")
    assert line in visible_text(pages[0].read_text())


# --- grades CSV -----------------------------------------------------------------------------


def test_grades_csv_has_components_grade_pass_and_missing(course):
    """Does the CSV carry each component ('missing' where absent), the grade, pass and what is missing?"""
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(course_grades_csv(course_grades(course=course))))}
    assert list(rows["reference"]) == ["student", "assignments", "project", "presentation", "grade", "pass", "missing"]
    assert rows["reference"] == {"student": "reference", "assignments": "50.00", "project": "90.00",
                                 "presentation": "80.00", "grade": "72.00", "pass": "yes", "missing": "assignment hw2"}
    assert rows["blank"]["presentation"] == "missing" and rows["blank"]["pass"] == "no"
    assert rows["blank"]["missing"] == "presentation; assignment hw2"
    assert rows["ghost"]["grade"] == "0.00" and rows["ghost"]["assignments"] == "missing"


AWKWARD = ['o\'brien, "bob"', "a,b", 'say "hi"', "two\nlines"]  # student ids and comments a naive join breaks


def test_grades_csv_round_trips_commas_and_quotes():
    """Does every cell of the gradebook CSV, commas, quotes and newlines included, read back unchanged?"""
    rows = [GradeRow(sid, "hw, 1", 1.5, 2.0) for sid in AWKWARD]
    got = list(csv.reader(io.StringIO(grades_csv(rows))))
    assert got == [["student", "assignment", "score", "max_score"]] + [[sid, "hw, 1", "1.5", "2"] for sid in AWKWARD]


def test_course_grades_csv_round_trips_commas_and_quotes():
    """Do student ids and missing-work names with commas or quotes survive the course-grades CSV?"""
    rows = [StudentGrade(sid, {"assignments": 50.0, "project": None}, {}, 20.0, False,
                         missing_components=["project"], missing_assignments=['hw "2", late'])
            for sid in AWKWARD]
    got = list(csv.DictReader(io.StringIO(course_grades_csv(rows))))
    assert [r["student"] for r in got] == AWKWARD
    assert {r["missing"] for r in got} == {'project; assignment hw "2", late'}
    assert {r["project"] for r in got} == {"missing"}


# --- Gradescope -------------------------------------------------------------------------------


def test_export_gradescope_writes_valid_results(course, tmp_path):
    """One results.json per graded student, valid, with one test per hidden check scored as in the gradebook?"""
    paths = export_gradescope(A, course=course, out_dir=tmp_path / "gs")
    docs = {p.parent.name: json.loads(p.read_text()) for p in paths}
    assert sorted(docs) == ["blank", "late", "mistake-adds", "reference", "scalar-only"]
    for doc in docs.values():
        assert validate_results(doc) == []
        assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))
    tests = {t["name"]: t for t in docs["scalar-only"]["tests"]}
    assert set(tests) == {"double: double(3.0) is 6", "double: double doubles every element of an array"}
    assert tests["double: double(3.0) is 6"]["status"] == "passed"
    array = tests["double: double doubles every element of an array"]
    assert array["status"] == "failed" and array["score"] == 0 and array["max_score"] == 1 and array["output"]
    assert docs["scalar-only"]["score"] == 1 and docs["reference"]["score"] == 2


def test_results_json_holds_no_hidden_source(course, tmp_path):
    """Is no line of the hidden checks anywhere in any exported results.json?"""
    for path in export_gradescope(A, course=course, out_dir=tmp_path / "gs"):
        strings = json.dumps(json.loads(path.read_text()), ensure_ascii=False)
        text = json.loads(path.read_text())
        shown = "\n".join([text["output"], *(t["name"] + "\n" + t["output"] for t in text["tests"])])
        leaked = [line for line in check_source_lines() if line in shown or line in strings]
        assert not leaked, (path, leaked)


def test_a_manual_part_is_scored_or_pending():
    """A written answer: graded by a TA it carries its score; not yet graded it is pending (no status) and valid?"""
    report = {"part": "energy", "score": 1.0, "max_score": 2.0, "error": "", "checks": [
        {"name": "two particles", "score": 1.0, "max_score": 1.0, "passed": True, "message": ""},
        {"name": "rotation", "score": 0.0, "max_score": 1.0, "passed": False, "message": "energy changed"}]}
    row = GradeRow("ann", "hw", 4.0, 7.0, {"energy": (1.0, 2.0), "essay": (3.0, 4.0), "plot": (None, 1.0)})
    doc = gradescope_results(row, [report], visibility="visible")
    assert validate_results(doc) == []
    tests = {t["name"]: t for t in doc["tests"]}
    assert tests["essay"]["score"] == 3.0 and tests["essay"]["status"] == "failed"
    assert "status" not in tests["plot"] and tests["plot"]["tags"] == ["pending"]
    assert tests["energy: rotation"]["output"] == "energy changed"
    assert doc["extra_data"]["pending"] == ["plot"] and "plot" in doc["output"]


def test_a_part_whose_checks_did_not_run_is_one_failed_test():
    """Checks that could not run (timeout): one failed test worth the part, with the reason?"""
    report = {"part": "train", "score": 0.0, "max_score": 3.0, "error": "the hidden checks did not finish",
              "checks": []}
    doc = gradescope_results(GradeRow("ann", "hw", 0.0, 3.0, {"train": (0.0, 3.0)}), [report])
    assert validate_results(doc) == []
    assert doc["tests"] == [{"name": "train: hidden checks", "number": "1.1", "score": 0.0, "max_score": 3.0,
                             "status": "failed", "output": "the hidden checks did not finish",
                             "visibility": "after_published"}]


DOCS_EXAMPLE = {  # the example of Gradescope's "Output format", comments removed
    "score": 44.0, "execution_time": 136, "output": "Text relevant to the entire submission",
    "output_format": "simple_format", "test_output_format": "text", "test_name_format": "text",
    "visibility": "after_due_date", "stdout_visibility": "visible", "extra_data": {},
    "tests": [{"score": 2.0, "max_score": 2.0, "status": "passed", "name": "Your name here", "name_format": "text",
               "number": "1.1", "output": "Giant multiline string", "output_format": "text",
               "tags": ["tag1", "tag2", "tag3"], "visibility": "visible", "extra_data": {}}],
    "leaderboard": [{"name": "Accuracy", "value": 0.926}, {"name": "Time", "value": 15.1, "order": "asc"}],
}


def test_the_documented_example_is_valid():
    """Does the validator accept Gradescope's own example, and tests-only scores without a top-level score?"""
    assert validate_results(DOCS_EXAMPLE) == []
    assert validate_results({"tests": [{"score": 1, "max_score": 1}, {"score": 0}]}) == []


@pytest.mark.parametrize("change, words", [
    (lambda d: d["tests"][0].update(status="pending"), "status"),
    (lambda d: d.update(visibility="public"), "visibility"),
    (lambda d: d["tests"][0].update(visibility="students"), "tests[0].visibility"),
    (lambda d: d.update(score="44"), "score"),
    (lambda d: d["tests"][0].update(score=float("nan")), "tests[0].score"),
    (lambda d: d["tests"][0].update(max_score=True), "tests[0].max_score"),
    (lambda d: d["tests"][0].update(tags="tag1"), "tags"),
    (lambda d: d.update(max_score=50), "'max_score' was unexpected"),
    (lambda d: d["tests"][0].update(message="x"), "tests[0]: Additional properties are not allowed ('message'"),
    (lambda d: (d.pop("score"), d["tests"][0].pop("score")), "every test needs its own score"),
    (lambda d: d.update(tests={"name": "x"}), "tests"),
    (lambda d: d.update(output=["a", "b"]), "output"),
    (lambda d: d["leaderboard"][1].update(order="up"), "leaderboard[1]"),
])
def test_a_broken_results_json_is_rejected(change, words):
    """Does each departure from Gradescope's format give a problem that names the key?"""
    doc = copy.deepcopy(DOCS_EXAMPLE)
    change(doc)
    problems = validate_results(doc)
    assert problems and any(words in p for p in problems), problems


def test_results_must_be_an_object():
    """Is a JSON list instead of an object rejected, in a message of bounded length?"""
    (problem,) = validate_results([DOCS_EXAMPLE])
    assert problem.startswith("results: [") and problem.endswith("is not of type 'object'")
    assert len(problem) < len(json.dumps(DOCS_EXAMPLE))


def test_the_schema_ships_with_the_package_and_is_a_valid_schema():
    """Is the schema file found inside the installed package, and itself a valid JSON Schema?"""
    from importlib import resources

    from jsonschema import Draft202012Validator

    schema = json.loads((resources.files("ml4p") / "schemas" / "gradescope_results.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]["test"]["properties"]) >= {"score", "max_score", "name", "number", "output", "tags",
                                                         "visibility", "status"}


def test_export_refuses_a_results_file_that_breaks_the_schema(course, tmp_path, monkeypatch):
    """If a results.json came out wrong, is nothing written and the error clear: the student, the key, the rule?"""
    import ml4p.exports

    def pending_status(row, reports, **kw):  # wrong for the last student only: nobody's file may be written
        doc = gradescope_results(row, reports, **kw)
        if row.student == "scalar-only":
            doc["tests"][0]["status"] = "pending"
        return doc

    monkeypatch.setattr(ml4p.exports, "gradescope_results", pending_status)
    with pytest.raises(ValueError, match=r"results.json of scalar-only is not in Gradescope's format: "
                                         r"tests\[0\]\.status: 'pending' is not one of \['passed', 'failed'\]"):
        export_gradescope(A, course=course, out_dir=tmp_path / "gs")
    assert not list(tmp_path.rglob("results.json"))
