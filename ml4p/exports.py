"""What leaves the course: the course grades as CSV, and Gradescope ``results.json`` files.

Gradescope's format ("Output format" in the Gradescope autograder docs,
gradescope-autograders.readthedocs.io/en/latest/specs/)::

    {"score": 44.0,                     # optional if every test has a score
     "execution_time": 136, "output": "...", "output_format": "text",
     "test_output_format": "text", "test_name_format": "text",
     "visibility": "after_due_date", "stdout_visibility": "visible", "extra_data": {},
     "tests": [{"score": 2.0, "max_score": 2.0, "status": "passed", "name": "...",
                "name_format": "text", "number": "1.1", "output": "...", "output_format": "text",
                "tags": ["..."], "visibility": "visible", "extra_data": {}}],
     "leaderboard": [{"name": "...", "value": 1.0, "order": "desc"}]}

There is no top-level ``max_score`` and no "pending" status in that format: a part
waiting for manual grading is a test without ``status``, tagged ``pending``. The format
is written down as a JSON Schema, ``schemas/gradescope_results.schema.json``, and every
file is validated against it (``jsonschema``) before it is written.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import math
import reprlib
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator, validators

from ml4p.course import find_course
from ml4p.feedback import LeakError, check_reports, hidden_lines, leaks, submission_text

SCHEMA = resources.files("ml4p") / "schemas" / "gradescope_results.schema.json"  # Gradescope's "Output format"


@functools.cache
def results_schema() -> dict:
    """The JSON Schema of Gradescope's results.json, as shipped in ``ml4p/schemas/``."""
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


VISIBILITIES = tuple(results_schema()["$defs"]["visibility"]["enum"])  # who sees a test, and when


# --- course grades ----------------------------------------------------------------------------


def course_grades_csv(rows) -> str:
    """Course grades as CSV: student, one column per component ("missing" where absent), grade, pass, missing.

    rows: list of ``ml4p.coursegrades.StudentGrade``.
    """
    components = list(dict.fromkeys(c for r in rows for c in r.components))
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["student", *components, "grade", "pass", "missing"])
    for r in rows:
        cells = [_pct(r.components.get(c)) for c in components]
        out.writerow([r.student, *cells, f"{r.grade:.2f}", "yes" if r.passed else "no", "; ".join(r.missing)])
    return buf.getvalue()


def _pct(x: float | None) -> str:
    return "missing" if x is None else f"{x:.2f}"


# --- Gradescope -------------------------------------------------------------------------------


def gradescope_results(row, reports: list[dict], *, visibility: str = "after_published") -> dict:
    """One submission as Gradescope's results.json.

    row: the submission's ``GradeRow`` (nbgrader's scores per part); reports: its hidden-check
    summaries (``feedback.check_reports``). One test per hidden check, named "part: check";
    a part whose checks could not run is one failed test; every other graded part (written
    answers graded by a TA) is one test with the gradebook's score, or pending.
    """
    tests, notes = [], []
    checked = set()
    for i, rep in enumerate(reports, start=1):
        part = rep["part"]
        checked.add(part)
        if rep["checks"]:
            for j, c in enumerate(rep["checks"], start=1):
                tests.append({"name": f"{part}: {c['name']}", "number": f"{i}.{j}", "score": c["score"],
                              "max_score": c["max_score"], "status": "passed" if c["passed"] else "failed",
                              "output": c["message"] or ("passed" if c["passed"] else "failed"),
                              "visibility": visibility})
            if rep["error"]:
                notes.append(f"{part}: {rep['error']}")
        else:
            tests.append({"name": f"{part}: hidden checks", "number": f"{i}.1", "score": 0.0,
                          "max_score": rep["max_score"], "status": "failed",
                          "output": rep["error"] or "no hidden checks ran", "visibility": visibility})
    pending = []
    for k, (part, (score, max_score)) in enumerate(sorted(row.parts.items()), start=len(reports) + 1):
        if part in checked:
            continue
        test = {"name": part, "number": str(k), "max_score": max_score, "visibility": visibility}
        if score is None:
            pending.append(part)
            test.update(score=0.0, output="pending: this part waits for grading by a TA", tags=["pending"])
        else:
            test.update(score=score, status="passed" if score >= max_score else "failed", output="graded by a TA")
        tests.append(test)
    lines = [f"{row.assignment}: {row.score:g} / {row.max_score:g} points"]
    lines += [f"Waiting for a TA: {', '.join(pending)}; the score may rise."] if pending else []
    lines += notes
    return {"score": row.score, "output": "\n".join(lines), "visibility": visibility,
            "extra_data": {"student": row.student, "assignment": row.assignment, "max_score": row.max_score,
                           "pending": pending},
            "tests": tests}


def validate_results(doc) -> list[str]:
    """What is wrong with ``doc`` as a Gradescope results.json (empty: nothing), one sentence per problem.

    The rules are ``schemas/gradescope_results.schema.json``; a number must also be finite
    (JSON has no NaN or infinity).
    """
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [_problem(e) for e in errors]


@functools.cache
def _validator():
    """A validator for the schema whose "number" is a finite number (never a bool, as in JSON Schema)."""
    finite = Draft202012Validator.TYPE_CHECKER.redefine(
        "number", lambda checker, x: isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x))
    return validators.extend(Draft202012Validator, type_checker=finite)(results_schema())


def _problem(error) -> str:
    """``tests[0].visibility: 'students' is not one of [...]``, with the schema's reason where it gives one."""
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    why = error.schema.get("description") if isinstance(error.schema, dict) else None
    message = error.message.replace(repr(error.instance), reprlib.repr(error.instance), 1)  # not a whole file
    return f"{where or 'results'}: {message}" + (f" ({why})" if why else "")


def export_gradescope(assignment: str, *, course: Path | str | None = None, out_dir: Path,
                      visibility: str = "after_published") -> list[Path]:
    """``<out_dir>/<student>/results.json`` for every graded submission of ``assignment``.

    Every file is validated against Gradescope's format (the schema) and checked for
    hidden-check and oracle source before any is written.
    """
    from ml4p.grading.autograde import grades

    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}")
    root = find_course(course)
    rows = grades(course=root, assignment=assignment)
    if not rows:
        raise FileNotFoundError(f"no graded submissions of {assignment!r} in the gradebook of {root}")
    forbidden = hidden_lines(root, assignment)
    docs = {}
    for row in rows:  # every file checked before any is written: a failed export leaves nothing half done
        doc = gradescope_results(row, check_reports(root, assignment, row.student), visibility=visibility)
        problems = validate_results(doc)
        if problems:
            raise ValueError(f"results.json of {row.student} is not in Gradescope's format: {'; '.join(problems)}")
        shown = "\n".join([doc["output"], *(f"{t['name']}\n{t.get('output', '')}" for t in doc["tests"])])
        found = leaks(shown, forbidden, own=submission_text(root, assignment, row.student))
        if found:
            raise LeakError(f"results.json of {row.student} would show hidden source: {found[0]!r}")
        docs[row.student] = doc
    written = []
    for student, doc in docs.items():
        path = Path(out_dir) / student / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        written.append(path)
    return written
