"""Course grades of the 1-credit course: assignments, project and presentation, weighted.

The policy is a traitlets ``Configurable`` set in the course's nbgrader_config.py
(``c.CoursePolicy.weights = {...}``). ``course_grades`` reads nbgrader's gradebook
and the TA's rubric files and returns one ``StudentGrade`` per student:

    assignment %  = 100 * score / max_score, late rule applied      (not submitted: 0, and listed as missing)
    assignments   = mean of the assignment %, the `drop_lowest` lowest left out
    project, presentation = 100 * sum(score) / sum(max_score) over the rubric's criteria
    grade         = sum(weight * component %) / 100                 (a missing component counts 0)
    passed        = grade >= pass_mark, and no missing component if `require_all_components`

Missing work is never silently 0 and never dropped: the row names it.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Bool, Dict, Float, Int, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from ml4p.course import CONFIG_FILE, CourseError, find_course, gradebook, load_config

COMPONENTS = ("assignments", "project", "presentation")
RUBRIC_COLUMNS = ("student", "criterion", "score", "max_score", "comment")
DAY = 86400.0  # seconds


class PolicyError(CourseError):
    """The course policy in nbgrader_config.py is inconsistent; the message names the setting."""


class RubricError(CourseError):
    """A rubric CSV file is malformed; ``problems`` holds one "file line N: what" sentence each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class CoursePolicy(Configurable):
    """How the course grade is made (set as ``c.CoursePolicy.<name>`` in nbgrader_config.py)."""

    weights = Dict(value_trait=Float(), key_trait=Unicode(),
                   default_value={"assignments": 40.0, "project": 40.0, "presentation": 20.0},
                   help="Percent of the course grade per component (assignments, project, presentation); "
                        "sums to 100, a component left out weighs 0.").tag(config=True)
    assignments = List(Unicode(), help="The assignments that count (empty: every assignment in the gradebook "
                                       "except the project and presentation assignments).").tag(config=True)
    drop_lowest = Int(0, min=0, help="How many of a student's lowest assignment percentages are left out "
                                     "of the mean (at least one assignment always counts).").tag(config=True)
    late_penalty_per_day = Float(0.0, min=0.0, help="Percentage points taken off an assignment per started day "
                                                    "late, where nbgrader's own late penalty gave none.").tag(config=True)
    max_days_late = Float(None, allow_none=True, min=0.0,
                          help="More days late than this and the assignment counts 0 (None: no limit; "
                               "applies where nbgrader's own late penalty gave none).").tag(config=True)
    pass_mark = Float(50.0, min=0.0, max=100.0, help="Lowest course grade (0-100) that passes.").tag(config=True)
    require_all_components = Bool(True, help="Whether a student missing a weighted component (no project, "
                                             "presentation, or no assignment at all) fails.").tag(config=True)
    project_rubric = Unicode("rubrics/project.csv", help="The TA's project rubric, CSV "
                             "student,criterion,score,max_score,comment, relative to the course.").tag(config=True)
    presentation_rubric = Unicode("rubrics/presentation.csv", help="The TA's presentation rubric, same format "
                                  "as project_rubric, relative to the course.").tag(config=True)
    project_assignment = Unicode("", help="An nbgrader assignment whose (manually graded) score is the project "
                                          "score instead of project_rubric (empty: use the rubric).").tag(config=True)
    presentation_assignment = Unicode("", help="An nbgrader assignment whose score is the presentation score "
                                               "instead of presentation_rubric (empty: the rubric).").tag(config=True)

    @validate("weights")
    def _check_weights(self, proposal):
        weights = proposal["value"]
        unknown = sorted(set(weights) - set(COMPONENTS))
        if unknown:
            raise TraitError(f"unknown component(s) {unknown}; the components are {list(COMPONENTS)}")
        if any(w < 0 for w in weights.values()):
            raise TraitError(f"weights must not be negative: {weights}")
        total = sum(weights.values())
        if not math.isclose(total, 100.0, abs_tol=1e-9):
            raise TraitError(f"weights must sum to 100 (percent), these sum to {total:g}: {weights}")
        return weights

    def weighted(self) -> list[str]:
        """The components that count, in the order of ``COMPONENTS``."""
        return [c for c in COMPONENTS if self.weights.get(c, 0.0) > 0]

    def late_percent(self, percent: float, seconds_late: float) -> float:
        """``percent`` after ml4p's late rule: points off per started day, 0 beyond ``max_days_late``."""
        if seconds_late <= 0:
            return percent
        days = seconds_late / DAY
        if self.max_days_late is not None and days > self.max_days_late:
            return 0.0
        return max(0.0, percent - self.late_penalty_per_day * math.ceil(days))


def load_policy(course: Path | str | None = None) -> CoursePolicy:
    """The course's ``CoursePolicy`` from its nbgrader_config.py (defaults where unset)."""
    root = find_course(course)
    try:
        return CoursePolicy(config=load_config(root))
    except TraitError as exc:
        raise PolicyError(f"{root / CONFIG_FILE}: CoursePolicy: {exc}") from exc


# --- rubric files -------------------------------------------------------------------------


@dataclass
class Rubric:
    """A filled-in rubric: the same criteria, with the same max_score, for every student in it."""

    path: str  # as named in messages (relative to the course)
    criteria: dict[str, float] = field(default_factory=dict)  # criterion -> max_score, in file order
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> criterion -> score
    comments: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, criterion) -> comment

    def percent(self, student: str) -> float | None:
        """100 * sum(score) / sum(max_score), or None: the student has no row (missing)."""
        if student not in self.scores:
            return None
        return 100.0 * sum(self.scores[student].values()) / sum(self.criteria.values())


def read_rubric(path: Path, *, shown: str | None = None) -> Rubric:
    """Read and strictly check a rubric CSV; every problem is reported at once as a ``RubricError``.

    ``shown``: the file's name in messages ("rubrics/project.csv"). Rows whose cells are
    all empty (spreadsheet leftovers) are skipped; a student with no row at all is
    simply absent (their component is missing), a student with some rows must have all.
    """
    shown = shown or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is fine
    except UnicodeDecodeError:
        raise RubricError([f"{shown}: not UTF-8 text; save it as CSV (UTF-8)"]) from None
    reader = csv.reader(text.splitlines(keepends=True))
    rubric = Rubric(shown)
    problems: list[str] = []
    header = next(reader, None)
    if header is None:
        raise RubricError([f"{shown} line 1: the file is empty; expected the header {','.join(RUBRIC_COLUMNS)}"])
    names = [h.strip() for h in header]
    if sorted(names) != sorted(RUBRIC_COLUMNS):
        raise RubricError([f"{shown} line 1: header {','.join(names)!r} should name the columns "
                           f"{','.join(RUBRIC_COLUMNS)} (each once, any order)"])
    col = {name: names.index(name) for name in RUBRIC_COLUMNS}
    first_seen: dict[str, int] = {}  # criterion -> line of its first row (its max_score)
    where: dict[tuple[str, str], int] = {}  # (student, criterion) -> line
    lines_of: dict[str, list[int]] = {}
    reported: set[tuple[str, str]] = set()
    end = reader.line_num
    for row in reader:
        line, end = end + 1, reader.line_num  # a quoted comment may span lines: report where the row starts
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(RUBRIC_COLUMNS):
            problems.append(f"{shown} line {line}: {len(row)} fields, expected {len(RUBRIC_COLUMNS)} "
                            f"({','.join(names)}); quote a comment that holds a comma")
            if len(row) > max(col["student"], col["criterion"]):  # already named: not also "incomplete"
                reported.add((row[col["student"]].strip(), row[col["criterion"]].strip()))
            continue
        student, criterion = row[col["student"]].strip(), row[col["criterion"]].strip()
        score, max_score = _number(row[col["score"]]), _number(row[col["max_score"]])
        here = f"{shown} line {line}: "
        bad = [f"{here}{what} is empty" for what, value in (("student", student), ("criterion", criterion))
               if not value]
        if score is None:
            bad.append(f"{here}score {row[col['score']].strip()!r} is not a number")
        if max_score is None:
            bad.append(f"{here}max_score {row[col['max_score']].strip()!r} is not a number")
        elif max_score <= 0:
            bad.append(f"{here}max_score {max_score:g} for criterion {criterion!r} must be positive")
        if not bad and score < 0:
            bad.append(f"{here}score {score:g} is negative for criterion {criterion!r}")
        if not bad and score > max_score:
            bad.append(f"{here}score {score:g} is above max_score {max_score:g} for criterion {criterion!r}")
        if not bad and criterion in rubric.criteria and rubric.criteria[criterion] != max_score:
            bad.append(f"{here}max_score {max_score:g} for criterion {criterion!r} differs from "
                       f"max_score {rubric.criteria[criterion]:g} on line {first_seen[criterion]}")
        if not bad and (student, criterion) in where:
            bad.append(f"{here}student {student!r} has criterion {criterion!r} twice "
                       f"(first on line {where[student, criterion]})")
        if bad:
            problems += bad
            reported.add((student, criterion))  # already named: not also "incomplete"
            continue
        rubric.criteria.setdefault(criterion, max_score)
        first_seen.setdefault(criterion, line)
        where[student, criterion] = line
        lines_of.setdefault(student, []).append(line)
        rubric.scores.setdefault(student, {})[criterion] = score
        rubric.comments[student, criterion] = row[col["comment"]].strip()
    for student, given in rubric.scores.items():
        absent = [c for c in rubric.criteria if c not in given and (student, c) not in reported]
        if absent:
            problems.append(f"{shown} line {lines_of[student][0]}: student {student!r} is incomplete: no row for "
                            f"criterion {', '.join(map(repr, absent))}")
    if problems:
        raise RubricError(problems)
    return rubric


def _number(cell: str) -> float | None:
    try:
        x = float(cell.strip())
    except ValueError:
        return None
    return x if math.isfinite(x) else None


# --- the grade ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """One student's graded work in one assignment, as the course grade sees it."""

    percent: float  # 0-100, late rule applied
    days_late: float = 0.0
    pending: bool = False  # parts still wait for manual grading: the percent may rise


@dataclass
class StudentGrade:
    student: str
    components: dict[str, float | None]  # weighted component -> percent 0-100; None: missing
    assignments: dict[str, float | None]  # counted assignment -> percent; None: not submitted
    grade: float  # weighted course grade 0-100 (missing work counted 0)
    passed: bool
    missing_components: list[str] = field(default_factory=list)
    missing_assignments: list[str] = field(default_factory=list)  # each counted 0
    dropped: list[str] = field(default_factory=list)  # assignments left out by drop_lowest
    pending: list[str] = field(default_factory=list)  # work waiting for manual grading
    days_late: dict[str, float] = field(default_factory=dict)  # assignment -> days late (late ones only)

    @property
    def missing(self) -> list[str]:
        """Everything missing, for people: ``["project", "assignment hw2"]``."""
        return self.missing_components + [f"assignment {a}" for a in self.missing_assignments]


def combine(policy: CoursePolicy, *, students: list[str], assignments: list[str],
            work: dict[tuple[str, str], Work], other: dict[str, dict[str, float]],
            pending_other: dict[str, set[str]] | None = None) -> list[StudentGrade]:
    """The course grade of each student from their graded work (no I/O: the arithmetic alone).

    ``work``: (student, assignment) -> Work for every graded submission of a counted assignment;
    ``other``: "project"/"presentation" -> student -> percent (absent: missing);
    ``pending_other``: component -> students whose work in it waits for manual grading.
    """
    pending_other = pending_other or {}
    out = []
    for student in sorted(students):
        percents = {a: (work[student, a].percent if (student, a) in work else None) for a in assignments}
        missing_a = [a for a, p in percents.items() if p is None]
        kept = sorted(assignments, key=lambda a: (percents[a] or 0.0, a))
        dropped = kept[:min(policy.drop_lowest, max(len(kept) - 1, 0))]
        kept = [a for a in assignments if a not in dropped]
        components: dict[str, float | None] = {}
        for c in policy.weighted():
            if c == "assignments":
                submitted = len(missing_a) < len(assignments)
                components[c] = sum(percents[a] or 0.0 for a in kept) / len(kept) if submitted else None
            else:
                components[c] = other.get(c, {}).get(student)
        grade = sum(policy.weights[c] * (p or 0.0) for c, p in components.items()) / 100.0
        missing_c = [c for c, p in components.items() if p is None]
        passed = grade >= policy.pass_mark - 1e-9 and not (policy.require_all_components and missing_c)
        pending = [a for a in assignments if (student, a) in work and work[student, a].pending]
        pending += [c for c in components if student in pending_other.get(c, ())]
        late = {a: work[student, a].days_late for a in assignments
                if (student, a) in work and work[student, a].days_late > 0}
        out.append(StudentGrade(student, components, percents, grade, passed, missing_c, missing_a,
                                dropped, pending, late))
    return out


# --- from the course ------------------------------------------------------------------------


@dataclass
class Gradebook:
    students: list[str]
    assignments: list[str]  # by due date, then name
    late: dict[tuple[str, str], tuple[float, float]]  # (student, assignment) -> (seconds late, nbgrader's penalty)


def read_gradebook(root: Path) -> Gradebook:
    """The gradebook's students, assignments (by due date) and lateness of each submission."""
    with gradebook(root) as gb:
        students = [s.id for s in gb.students]
        ordered = sorted(gb.assignments, key=lambda a: (a.duedate is None, a.duedate or 0, a.name))
        late = {(sub.student.id, a.name): (sub.total_seconds_late, sub.late_submission_penalty or 0.0)
                for a in ordered for sub in a.submissions}
        return Gradebook(students, [a.name for a in ordered], late)


def course_grades(*, course: Path | str | None = None) -> list[StudentGrade]:
    """Every student's course grade: everyone in the gradebook and in the rubric files.

    Assignment scores are nbgrader's (autograded plus manually graded parts). Late work:
    nbgrader's own late penalty where it gave one, else the policy's late rule on the
    gradebook's submission timestamp and due date (with extension).
    """
    from ml4p.grading.autograde import grades

    root = find_course(course)
    policy = load_policy(root)
    book = read_gradebook(root)
    rows = grades(course=root)
    elsewhere = {policy.project_assignment, policy.presentation_assignment} - {""}
    counted = list(policy.assignments) or [a for a in book.assignments if a not in elsewhere]
    work: dict[tuple[str, str], Work] = {}
    for r in rows:
        if r.assignment not in counted:
            continue
        seconds, penalty = book.late.get((r.student, r.assignment), (0.0, 0.0))
        percent = _percent(r.score - penalty, r.max_score)
        if penalty <= 0:
            percent = policy.late_percent(percent, seconds)
        work[r.student, r.assignment] = Work(percent, seconds / DAY, _pending(r))
    other: dict[str, dict[str, float]] = {}
    pending_other: dict[str, set[str]] = {}
    students = set(book.students) | {s for s, _ in work}
    for component in ("project", "presentation"):
        if component not in policy.weighted():
            continue
        name = getattr(policy, f"{component}_assignment")
        if name:
            mine = [r for r in rows if r.assignment == name]
            other[component] = {r.student: _percent(r.score, r.max_score) for r in mine}
            pending_other[component] = {r.student for r in mine if _pending(r)}
        else:
            path = getattr(policy, f"{component}_rubric")
            file = root / path
            rubric = read_rubric(file, shown=path) if file.is_file() else Rubric(path)
            other[component] = {s: rubric.percent(s) for s in rubric.scores}
        students |= set(other[component])
    return combine(policy, students=sorted(students), assignments=counted, work=work, other=other,
                   pending_other=pending_other)


def _percent(score: float, max_score: float) -> float:
    return max(0.0, 100.0 * score / max_score) if max_score > 0 else 0.0


def _pending(row) -> bool:
    return any(score is None for score, _ in row.parts.values())
