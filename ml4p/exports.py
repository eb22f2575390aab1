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
waiting for manual grading is a test without ``status``, tagged ``pending``.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ml4p.course import find_course
from ml4p.feedback import LeakError, check_reports, hidden_lines, leaks, submission_text

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
STATUSES = ("passed", "failed")
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data"}


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
    """What is wrong with ``doc`` as a Gradescope results.json (empty: nothing)."""
    if not isinstance(doc, dict):
        return [f"results must be a JSON object, not {type(doc).__name__}"]
    problems = [f"unknown key {k!r}" for k in sorted(set(doc) - TOP_KEYS)]
    problems += _typed(doc, "", {"score": _num, "execution_time": _num, "output": _str, "extra_data": _obj,
                                 "output_format": _one_of(OUTPUT_FORMATS), "test_output_format": _one_of(OUTPUT_FORMATS),
                                 "test_name_format": _one_of(OUTPUT_FORMATS), "visibility": _one_of(VISIBILITIES),
                                 "stdout_visibility": _one_of(VISIBILITIES), "tests": _list, "leaderboard": _list})
    tests = doc.get("tests") if isinstance(doc.get("tests"), list) else []
    if "score" not in doc and (not tests or any(isinstance(t, dict) and "score" not in t for t in tests)):
        problems.append("no top-level score, so every test needs a score")
    for i, t in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(t, dict):
            problems.append(f"{where} must be an object")
            continue
        problems += [f"{where}: unknown key {k!r}" for k in sorted(set(t) - TEST_KEYS)]
        problems += _typed(t, f"{where}.", {"score": _num, "max_score": _num, "status": _one_of(STATUSES),
                                            "name": _str, "name_format": _one_of(OUTPUT_FORMATS),
                                            "number": _str_or_num, "output": _str,
                                            "output_format": _one_of(OUTPUT_FORMATS), "tags": _str_list,
                                            "visibility": _one_of(VISIBILITIES), "extra_data": _obj})
    for i, entry in enumerate(doc.get("leaderboard") if isinstance(doc.get("leaderboard"), list) else []):
        if not (isinstance(entry, dict) and _str(entry.get("name")) is None and "value" in entry
                and set(entry) <= {"name", "value", "order"} and entry.get("order", "desc") in ("asc", "desc")):
            problems.append(f"leaderboard[{i}] must be {{name, value, order: asc|desc}}")
    return problems


def _typed(obj: dict, prefix: str, kinds: dict) -> list[str]:
    return [f"{prefix}{key}: {why}" for key, check in kinds.items() if key in obj
            for why in [check(obj[key])] if why]


def _num(x):
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    return None if ok else f"{x!r} is not a finite number"


def _str(x):
    return None if isinstance(x, str) else f"{x!r} is not a string"


def _str_or_num(x):
    return None if isinstance(x, str) or _num(x) is None else f"{x!r} is not a string or number"


def _obj(x):
    return None if isinstance(x, dict) else f"{x!r} is not an object"


def _list(x):
    return None if isinstance(x, list) else f"{x!r} is not a list"


def _str_list(x):
    return None if isinstance(x, list) and all(isinstance(s, str) for s in x) else f"{x!r} is not a list of strings"


def _one_of(allowed):
    return lambda x: None if x in allowed else f"{x!r} is not one of {', '.join(allowed)}"


def export_gradescope(assignment: str, *, course: Path | str | None = None, out_dir: Path,
                      visibility: str = "after_published") -> list[Path]:
    """``<out_dir>/<student>/results.json`` for every graded submission of ``assignment``.

    Each file is validated against Gradescope's format and checked for hidden-check and
    oracle source before it is written.
    """
    from ml4p.grading.autograde import grades

    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}")
    root = find_course(course)
    rows = grades(course=root, assignment=assignment)
    if not rows:
        raise FileNotFoundError(f"no graded submissions of {assignment!r} in the gradebook of {root}")
    forbidden = hidden_lines(root, assignment)
    written = []
    for row in rows:
        doc = gradescope_results(row, check_reports(root, assignment, row.student), visibility=visibility)
        problems = validate_results(doc)
        if problems:
            raise ValueError(f"results.json of {row.student} is not in Gradescope's format: {'; '.join(problems)}")
        shown = "\n".join([doc["output"], *(f"{t['name']}\n{t.get('output', '')}" for t in doc["tests"])])
        found = leaks(shown, forbidden, own=submission_text(root, assignment, row.student))
        if found:
            raise LeakError(f"results.json of {row.student} would show hidden source: {found[0]!r}")
        path = Path(out_dir) / row.student / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        written.append(path)
    return written
