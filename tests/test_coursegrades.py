"""Course grades: the policy, the rubric files, the arithmetic, and the whole chain on a graded toy course.

Expected numbers are worked out by hand in the docstrings and comments; the toy
assignment (no TensorFlow) keeps the graded course to a few seconds.
"""
from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from toy import A, write_materials

from ml4p.course import create_course
from ml4p.coursegrades import (
    CoursePolicy,
    PolicyError,
    RubricError,
    Work,
    combine,
    course_grades,
    load_policy,
    read_rubric,
)

FIXTURES = Path(__file__).parent / "fixtures"
DUE = dt.datetime(2030, 1, 10, 12, 0)  # naive UTC, as nbgrader stores it
SCALAR_ONLY = '''"""Doubles scalars only: arrays come back unchanged."""
LOSES = ("double",)


def double(x):
    x = np.asarray(x)
    return 2 * x if x.ndim == 0 else x
'''
POLICY = """
c.CoursePolicy.late_penalty_per_day = 10  # percentage points per started day
c.CoursePolicy.max_days_late = 7
"""

_built: dict[str, Path] = {}


def graded_course(tmp_path_factory) -> Path:
    """A toy course, autograded once per test session (the other test files share it).

    toy (2 points):  reference 100 %, blank 0 %, mistake-adds 0 %, scalar-only 50 %,
                     late: reference handed in 1.5 days late -> 100 - 10 * 2 = 80 %.
    hw2:             in the gradebook, submitted by nobody.
    ghost:           in the gradebook, submitted nothing.   rubric-only: only in the rubric files.
    """
    if "course" in _built:
        return _built["course"]
    from ml4p.course import gradebook
    from ml4p.grading.autograde import autograde
    from ml4p.grading.submissions import Mistake, known_submissions, submit, with_mistake
    from ml4p.release import release

    tmp = tmp_path_factory.mktemp("graded")
    course = create_course(tmp / "course", materials=write_materials(tmp / "materials"), assignments=[A])
    release(A, course=course)
    subs = known_submissions(course, A)
    on_time, late = DUE - dt.timedelta(hours=1), DUE + dt.timedelta(days=1.5)
    for sid in ("reference", "blank", "mistake-adds"):
        submit(course, sid, A, subs[sid][0], when=on_time.replace(tzinfo=dt.timezone.utc))
    submit(course, "late", A, subs["reference"][0], when=late.replace(tzinfo=dt.timezone.utc))
    scalar_only = Mistake("scalar_only", ("double",), SCALAR_ONLY, "double")
    submit(course, "scalar-only", A, with_mistake(subs["reference"][0], scalar_only),
           when=on_time.replace(tzinfo=dt.timezone.utc))
    done = autograde(A, course=course, jobs=2, progress=False)
    assert all(d.ok for d in done), [d.error for d in done]
    with gradebook(course) as gb:
        gb.update_or_create_assignment(A, duedate=DUE)
        gb.update_or_create_assignment("hw2", duedate=DUE + dt.timedelta(days=7))
        gb.update_or_create_student("ghost")
    (course / "rubrics").mkdir()
    shutil.copy(FIXTURES / "rubric_project.csv", course / "rubrics" / "project.csv")
    shutil.copy(FIXTURES / "rubric_presentation.csv", course / "rubrics" / "presentation.csv")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(POLICY)
    _built["course"] = course
    return course


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return graded_course(tmp_path_factory)


# --- the whole chain -------------------------------------------------------------------------


def test_course_grades_from_the_gradebook_and_rubrics(course):
    """Does every student get the hand-computed grade, with missing work named and pass/fail right?

    Weights 40/40/20; assignments = mean(toy, hw2), hw2 missing for all (counted 0);
    project = sum/20 over physics, code, clarity; presentation = sum/10.
    """
    got = {g.student: g for g in course_grades(course=course)}
    assert sorted(got) == ["blank", "ghost", "late", "mistake-adds", "reference", "rubric-only", "scalar-only"]
    expected = {  # student: (assignments, project, presentation, grade, passed)
        "reference": (50.0, 90.0, 80.0, 0.4 * 50 + 0.4 * 90 + 0.2 * 80, True),  # 72
        "late": (40.0, 75.0, 50.0, 0.4 * 40 + 0.4 * 75 + 0.2 * 50, True),  # toy 80 after 2 started days: 56
        "blank": (0.0, 20.0, None, 0.4 * 0 + 0.4 * 20, False),  # 8
        "mistake-adds": (0.0, 50.0, 100.0, 0.4 * 50 + 0.2 * 100, False),  # 40
        "scalar-only": (25.0, None, None, 0.4 * 25, False),  # 10
        "rubric-only": (None, 100.0, 100.0, 60.0, False),  # above the mark, but no assignment at all
        "ghost": (None, None, None, 0.0, False),
    }
    for student, (assignments, project, presentation, grade, passed) in expected.items():
        g = got[student]
        assert g.components == pytest.approx({"assignments": assignments, "project": project,
                                              "presentation": presentation}), student
        assert g.grade == pytest.approx(grade), student
        assert g.passed is passed, student
    assert got["late"].assignments == pytest.approx({A: 80.0, "hw2": None})
    assert got["late"].days_late == pytest.approx({A: 1.5})
    assert got["reference"].missing == ["assignment hw2"]
    assert got["blank"].missing == ["presentation", "assignment hw2"]
    assert got["rubric-only"].missing == ["assignments", f"assignment {A}", "assignment hw2"]


def test_policy_from_the_config_file_changes_the_grades(course, tmp_path):
    """Does `c.CoursePolicy` in nbgrader_config.py (drop_lowest, no late penalty) reach the grades?

    drop_lowest = 1 leaves out hw2 (0): late's assignments become its toy score, 100 without penalty:
    0.4 * 100 + 0.4 * 75 + 0.2 * 50 = 80.
    """
    copy = shutil.copytree(course, tmp_path / "copy")
    with open(copy / "nbgrader_config.py", "a") as f:
        f.write("c.CoursePolicy.drop_lowest = 1\nc.CoursePolicy.late_penalty_per_day = 0\n")
    late = {g.student: g for g in course_grades(course=copy)}["late"]
    assert late.components["assignments"] == pytest.approx(100.0)
    assert late.grade == pytest.approx(80.0)
    assert late.dropped == ["hw2"] and late.missing == ["assignment hw2"]


def test_project_from_an_nbgrader_assignment(course, tmp_path):
    """With `project_assignment` set, is that assignment's score the project (and no longer an assignment)?"""
    copy = shutil.copytree(course, tmp_path / "copy")
    with open(copy / "nbgrader_config.py", "a") as f:
        f.write(f"c.CoursePolicy.project_assignment = {A!r}\n")
    got = {g.student: g for g in course_grades(course=copy)}
    assert got["reference"].components["project"] == pytest.approx(100.0)
    assert got["scalar-only"].components["project"] == pytest.approx(50.0)
    assert got["rubric-only"].components["project"] is None  # the rubric file is not read then
    assert list(got["reference"].assignments) == ["hw2"]


@pytest.mark.parametrize("line, words", [
    ("c.CoursePolicy.weights = {'assignments': 50, 'project': 40}", "sum to 100"),
    ("c.CoursePolicy.weights = {'assignments': 40, 'project': 40, 'talk': 20}", "unknown component"),
])
def test_a_bad_policy_names_the_config_file(course, tmp_path, line, words):
    """Do weights that do not sum to 100, or an unknown component, fail with the file and the reason?"""
    copy = tmp_path / "c"
    copy.mkdir()
    shutil.copy(course / "nbgrader_config.py", copy / "nbgrader_config.py")
    with open(copy / "nbgrader_config.py", "a") as f:
        f.write(line + "\n")
    with pytest.raises(PolicyError, match=words) as err:
        load_policy(copy)
    assert "nbgrader_config.py" in str(err.value) and "CoursePolicy" in str(err.value)


# --- the arithmetic ----------------------------------------------------------------------------


def grade_of(policy, percents: dict[str, float | None], other=None):
    """One student's grade; ``percents``: assignment -> percent (None: not submitted)."""
    work = {("s", a): Work(p) for a, p in percents.items() if p is not None}
    return combine(policy, students=["s"], assignments=list(percents), work=work, other=other or {})[0]


def test_weights_are_applied():
    """With weights 60/30/10 and 70 %, 80 %, 90 %: is the grade 0.6*70 + 0.3*80 + 0.1*90 = 75?"""
    policy = CoursePolicy(weights={"assignments": 60, "project": 30, "presentation": 10})
    g = grade_of(policy, {"a1": 60.0, "a2": 80.0}, {"project": {"s": 80.0}, "presentation": {"s": 90.0}})
    assert g.components == {"assignments": 70.0, "project": 80.0, "presentation": 90.0}
    assert g.grade == pytest.approx(75.0) and g.passed


def test_drop_lowest_leaves_out_the_lowest_but_keeps_it_listed():
    """drop_lowest = 1 on 90, 40 and a missing one: is the mean (90 + 40) / 2 = 65, the missing one still named?"""
    policy = CoursePolicy(weights={"assignments": 100}, drop_lowest=1)
    g = grade_of(policy, {"a1": 90.0, "a2": 40.0, "a3": None})
    assert g.components["assignments"] == pytest.approx(65.0)
    assert g.dropped == ["a3"] and g.missing_assignments == ["a3"]
    two = grade_of(CoursePolicy(weights={"assignments": 100}, drop_lowest=2), {"a1": 90.0, "a2": 40.0, "a3": None})
    assert two.components["assignments"] == pytest.approx(90.0) and two.dropped == ["a3", "a2"]


def test_drop_lowest_keeps_at_least_one_assignment():
    """drop_lowest = 5 with two assignments: does the best one still count?"""
    g = grade_of(CoursePolicy(weights={"assignments": 100}, drop_lowest=5), {"a1": 30.0, "a2": 70.0})
    assert g.components["assignments"] == pytest.approx(70.0) and g.dropped == ["a1"]


def test_missing_work_is_shown_and_counts_zero():
    """A missing presentation: shown as None and named, counted 0, and failing when all components are required?"""
    other = {"project": {"s": 100.0}}
    required = grade_of(CoursePolicy(), {"a1": 100.0}, other)
    assert required.components["presentation"] is None and required.missing == ["presentation"]
    assert required.grade == pytest.approx(80.0) and not required.passed
    lenient = grade_of(CoursePolicy(require_all_components=False), {"a1": 100.0}, other)
    assert lenient.grade == pytest.approx(80.0) and lenient.passed


@pytest.mark.parametrize("percent, passed", [(50.0, True), (49.99, False), (50.01, True)])
def test_pass_mark_boundary(percent, passed):
    """Exactly at the pass mark (50 in every component -> 50) passes, just below fails?"""
    other = {"project": {"s": percent}, "presentation": {"s": percent}}
    g = grade_of(CoursePolicy(), {"a1": percent}, other)
    assert g.grade == pytest.approx(percent)
    assert g.passed is passed


@pytest.mark.parametrize("days, expected", [(0, 90.0), (0.2, 80.0), (1.0, 80.0), (1.5, 70.0), (3.0, 60.0),
                                            (3.01, 0.0), (30, 0.0)])
def test_late_rule(days, expected):
    """10 points per started day, 0 beyond 3 days: 90 % handed in `days` late gives `expected`?"""
    policy = CoursePolicy(late_penalty_per_day=10, max_days_late=3)
    assert policy.late_percent(90.0, days * 86400) == pytest.approx(expected)


def test_late_penalty_never_goes_below_zero():
    """A 15 % submission 2 days late at 10 points a day: 0, not -5?"""
    assert CoursePolicy(late_penalty_per_day=10).late_percent(15.0, 2 * 86400) == 0.0


# --- rubric files ---------------------------------------------------------------------------

HEADER = "student,criterion,score,max_score,comment\n"
GOOD = HEADER + "ann,clarity,8,10,\nann,depth,4,5,nice\nbob,clarity,10,10,\nbob,depth,0,5,\n"


def rubric_file(tmp_path, text: str) -> Path:
    path = tmp_path / "project.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_rubric_gives_percentages(tmp_path):
    """ann 12/15 = 80 %, bob 10/15; a byte-order mark and empty spreadsheet rows are fine?"""
    rubric = read_rubric(rubric_file(tmp_path, "\ufeff" + GOOD + ",,,,\n\n"), shown="rubrics/project.csv")
    assert rubric.criteria == {"clarity": 10.0, "depth": 5.0}
    assert rubric.percent("ann") == pytest.approx(80.0)
    assert rubric.percent("bob") == pytest.approx(100 * 10 / 15)
    assert rubric.percent("carl") is None
    assert rubric.comments["ann", "depth"] == "nice"


def test_a_rubric_written_by_the_csv_module_reads_back_whole(tmp_path):
    """Student ids and comments with commas, quotes and newlines (as a spreadsheet quotes them): read unchanged?"""
    rows = [("o'brien, \"bob\"", "clarity", 8, 10, 'figures lack units, "axes" too'),
            ("o'brien, \"bob\"", "depth", 4, 5, "two\nlines"),
            ("ann", "clarity", 10, 10, ""), ("ann", "depth", 5, 5, ",")]
    path = tmp_path / "project.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "criterion", "score", "max_score", "comment"])
        writer.writerows(rows)
    rubric = read_rubric(path)
    assert sorted(rubric.scores) == ["ann", "o'brien, \"bob\""]
    assert rubric.percent("o'brien, \"bob\"") == pytest.approx(80.0)
    assert {key: c for key, c in rubric.comments.items() if c} == {(s, c): m for s, c, _, _, m in rows if m}


@pytest.mark.parametrize("text, message", [
    (HEADER + "ann,clarity,8,10,\nann,depth,4,5,\nbob,clarity,12,10,\nbob,depth,1,5,\n",
     "rubrics/project.csv line 4: score 12 is above max_score 10 for criterion 'clarity'"),
    (HEADER + "ann,clarity,ten,10,\n", "rubrics/project.csv line 2: score 'ten' is not a number"),
    (HEADER + "ann,clarity,-1,10,\n", "rubrics/project.csv line 2: score -1 is negative"),
    (HEADER + "ann,clarity,8,10,\nann,clarity,9,10,\n",
     "rubrics/project.csv line 3: student 'ann' has criterion 'clarity' twice (first on line 2)"),
    (HEADER + "ann,clarity,8,10,\nbob,clarity,4,5,\n",
     "rubrics/project.csv line 3: max_score 5 for criterion 'clarity' differs from max_score 10 on line 2"),
    (HEADER + "ann,clarity,8,0,\n", "rubrics/project.csv line 2: max_score 0 for criterion 'clarity' must be positive"),
    (HEADER + "ann,clarity,8,10\n", "rubrics/project.csv line 2: 4 fields, expected 5"),
    (HEADER + ",clarity,8,10,\n", "rubrics/project.csv line 2: student is empty"),
    ("name,criterion,score,max_score,comment\nann,clarity,8,10,\n", "rubrics/project.csv line 1: header"),
    ("", "rubrics/project.csv line 1: the file is empty"),
    (HEADER + 'ann,clarity,8,10,"a comment\nover two lines"\nann,depth,x,5,\n',
     "rubrics/project.csv line 4: score 'x' is not a number"),
])
def test_a_malformed_rubric_names_file_line_and_problem(tmp_path, text, message):
    """Does each kind of malformed rubric raise RubricError naming the file, the line and what is wrong?"""
    with pytest.raises(RubricError) as err:
        read_rubric(rubric_file(tmp_path, text), shown="rubrics/project.csv")
    assert message in str(err.value)


def test_an_incomplete_rubric_names_the_student(tmp_path):
    """bob has no row for 'depth': is the error about bob, incomplete, and that criterion?"""
    text = HEADER + "ann,clarity,8,10,\nann,depth,4,5,\nbob,clarity,10,10,\n"
    with pytest.raises(RubricError) as err:
        read_rubric(rubric_file(tmp_path, text), shown="rubrics/project.csv")
    assert str(err.value) == "rubrics/project.csv line 4: student 'bob' is incomplete: no row for criterion 'depth'"


def test_a_short_row_is_not_also_called_incomplete(tmp_path):
    """A row missing its comment field: one error for that line, not a second "incomplete" for the same row?"""
    text = HEADER + "ann,clarity,8,10,\nann,depth,4,5\n"
    with pytest.raises(RubricError) as err:
        read_rubric(rubric_file(tmp_path, text), shown="p.csv")
    assert err.value.problems == ["p.csv line 3: 4 fields, expected 5 (student,criterion,score,max_score,comment); "
                                  "quote a comment that holds a comma"]


def test_every_problem_is_reported_at_once(tmp_path):
    """Two bad rows: are both in one error, so the TA fixes the file in one go?"""
    text = HEADER + "ann,clarity,11,10,\nann,depth,4,5,\nbob,clarity,1,10,\nbob,depth,six,5,\n"
    with pytest.raises(RubricError) as err:
        read_rubric(rubric_file(tmp_path, text), shown="p.csv")
    assert [p.split(":")[0] for p in err.value.problems] == ["p.csv line 2", "p.csv line 5"]


def test_a_broken_rubric_in_the_course_stops_the_grades(course, tmp_path):
    """A score above its maximum in the course's project rubric: do the course grades refuse, naming the line?"""
    copy = shutil.copytree(course, tmp_path / "copy")
    path = copy / "rubrics" / "project.csv"
    lines = path.read_text().splitlines()
    assert lines[7] == "late,physics,8,10,"  # line 8 of the file
    lines[7] = "late,physics,11,10,"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RubricError) as err:
        course_grades(course=copy)
    assert str(err.value) == "rubrics/project.csv line 8: score 11 is above max_score 10 for criterion 'physics'"
