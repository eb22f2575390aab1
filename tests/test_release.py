"""Releasing an assignment that builds on others: only after their due dates, unless forced.

A course of two tiny notebooks (no kernels run): ``sequel`` builds on ``basics``.
"""
import datetime as dt
import shutil
from pathlib import Path

import nbformat
import pytest
from toy import source_notebook

from ml4p import cli
from ml4p.course import CourseError, assignment_names, create_course, gradebook, materials_root
from ml4p.demo import pass_due_date, semester_order
from ml4p.release import ReleaseRefused, builds_on, release

BASICS, SEQUEL = "basics", "sequel"
NOW = dt.datetime.now(dt.timezone.utc)


def write_notebook(materials, name, earlier=None):
    nb = source_notebook()
    if earlier is not None:
        nb.metadata["ml4p"] = {"builds_on": earlier}
    (materials / "assignments" / name).mkdir(parents=True)
    nbformat.write(nb, materials / "assignments" / name / f"{name}.ipynb")


@pytest.fixture(scope="module")
def materials(tmp_path_factory):
    root = tmp_path_factory.mktemp("materials")
    write_notebook(root, BASICS)
    write_notebook(root, SEQUEL, [BASICS])
    return root


@pytest.fixture(scope="module")
def empty_course(tmp_path_factory, materials):
    """A course whose gradebook exists but is empty (a new gradebook takes nbgrader seconds to set up)."""
    root = create_course(tmp_path_factory.mktemp("template") / "course", materials=materials)
    with gradebook(root):
        pass
    return root


@pytest.fixture
def course(tmp_path, empty_course):
    return Path(shutil.copytree(empty_course, tmp_path / "course"))


def set_due_date(course, assignment, when):
    with gradebook(course) as gb:
        gb.update_or_create_assignment(assignment, duedate=when)


def test_refused_before_the_due_date(course):
    """Before `basics` is due, is `sequel` refused with both names, the due date and the way out?"""
    due = NOW + dt.timedelta(days=7)
    set_due_date(course, BASICS, due)
    with pytest.raises(ReleaseRefused) as refused:
        release(SEQUEL, course=course)
    message = str(refused.value)
    for words in (SEQUEL, BASICS, due.strftime("%Y-%m-%d %H:%M:%S"), "--force"):
        assert words in message
    assert not (course / "release" / SEQUEL).exists()


def test_released_after_the_due_date(course):
    """Once `basics` is past due, is `sequel` released, its notebook metadata intact and valid?"""
    set_due_date(course, BASICS, NOW - dt.timedelta(days=1))
    folder = release(SEQUEL, course=course)
    nb = nbformat.read(folder / f"{SEQUEL}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["ml4p"]["builds_on"] == [BASICS]


def test_force_releases_before_the_due_date(course):
    """Does force=True release `sequel` although `basics` is not yet due?"""
    set_due_date(course, BASICS, NOW + dt.timedelta(days=7))
    assert (release(SEQUEL, course=course, force=True) / f"{SEQUEL}.ipynb").is_file()


def test_refused_when_the_dependency_has_no_due_date(course):
    """Is `sequel` refused while `basics` has no due date, absent from the gradebook or present without one?"""
    for _ in ("not in the gradebook", "released, no due date"):
        with pytest.raises(ReleaseRefused, match=f"{BASICS} has no due date.*--force"):
            release(SEQUEL, course=course)
        release(BASICS, course=course)
    with gradebook(course) as gb:
        assert gb.find_assignment(BASICS).duedate is None


def test_an_extension_keeps_the_dependency_open(course):
    """Past the due date, does one student's extension on `basics` still hold `sequel` back?"""
    set_due_date(course, BASICS, NOW - dt.timedelta(days=1))
    with gradebook(course) as gb:
        gb.add_student("alice")
        gb.add_submission(BASICS, "alice", extension=dt.timedelta(days=3))
    with pytest.raises(ReleaseRefused, match=BASICS):
        release(SEQUEL, course=course)


def test_an_assignment_without_dependencies_releases_regardless(course):
    """Does `basics`, building on nothing, release in a course without any due date?"""
    assert (release(BASICS, course=course) / f"{BASICS}.ipynb").is_file()


def test_builds_on_must_be_a_list_of_names(tmp_path):
    """Is a mistyped `builds_on` (a string, not a list) an error naming the field?"""
    nb = source_notebook()
    nb.metadata["ml4p"] = {"builds_on": BASICS}
    nbformat.write(nb, tmp_path / "nb.ipynb")
    with pytest.raises(CourseError, match="builds_on must be a list"):
        builds_on(tmp_path / "nb.ipynb")


def test_cli_refusal_exits_1_and_force_releases(course, capsys):
    """Does `ml4p release` exit 1 with the reason, and release with --force?"""
    set_due_date(course, BASICS, NOW + dt.timedelta(days=7))
    assert cli.main(["release", SEQUEL, "--course", str(course)]) == 1
    err = capsys.readouterr().err
    assert BASICS in err and "--force" in err and "Traceback" not in err
    assert cli.main(["release", SEQUEL, "--course", str(course), "--force"]) == 0
    assert (course / "release" / SEQUEL / f"{SEQUEL}.ipynb").is_file()


def test_tuning_builds_on_coulomb_gas_and_mnist():
    """Does the real tuning notebook declare the assignments whose solutions it hands out?"""
    root = materials_root()
    declared = builds_on(root / "assignments" / "tuning" / "tuning.ipynb")
    assert sorted(declared) == ["coulomb_gas", "mnist"]
    assert set(declared) <= set(assignment_names(root))


def test_demo_order_puts_what_an_assignment_builds_on_first(materials):
    """Does the demo's semester bring in `basics` before `sequel`, even when only `sequel` is asked for?"""
    assert semester_order([SEQUEL], materials) == [BASICS, SEQUEL]
    assert semester_order([SEQUEL, BASICS], materials) == [BASICS, SEQUEL]


def test_demo_order_refuses_a_circle(tmp_path):
    """Do two assignments that build on each other stop the demo with both names?"""
    write_notebook(tmp_path, BASICS, [SEQUEL])
    write_notebook(tmp_path, SEQUEL, [BASICS])
    with pytest.raises(CourseError, match=f"circle: {BASICS} -> {SEQUEL} -> {BASICS}"):
        semester_order([BASICS], tmp_path)


def test_the_demo_passes_a_due_date_so_the_next_release_is_unforced(course):
    """After the demo passes `basics`'s due date, is `sequel` released by the ordinary rule?"""
    release(BASICS, course=course)
    pass_due_date(course, BASICS)
    assert (release(SEQUEL, course=course) / f"{SEQUEL}.ipynb").is_file()
