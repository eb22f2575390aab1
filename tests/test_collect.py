"""`ml4p collect`: a learning platform's zip of hand-ins into submitted/, through a roster.

The archives are written here as Moodle and Canvas write theirs (file names, folder per
student, times in the platform's zone); no kernel runs.
"""
import csv
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from toy import A, write_materials

from ml4p import cli
from ml4p.collect import collect, name_key, read_roster
from ml4p.course import CourseError, create_course, gradebook
from ml4p.grading.submissions import reference_notebook
from ml4p.release import release

ROSTER = """id,first_name,last_name,email,lms_id
ada,Ada,Lovelace,ada@example.org,
emmy,Emmy,Noether,,
lise,Lise,Meitner,,
jose,José,Échegaray,,
kim1,Kim,Lee,,501
kim2,Kim,Lee,,502
"""
DUE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A course with the toy assignment released and due at DUE (made once: releasing takes seconds)."""
    tmp = tmp_path_factory.mktemp("released")
    root = create_course(tmp / "course", materials=write_materials(tmp / "materials"), assignments=[A])
    release(A, course=root)
    with gradebook(root) as gb:
        gb.update_or_create_assignment(A, duedate=DUE.replace(tzinfo=None))
    (root / "roster.csv").write_text(ROSTER)
    return root


@pytest.fixture
def course(released, tmp_path):
    return Path(shutil.copytree(released, tmp_path / "course"))


def notebook_bytes(tag: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(tag)])
    return nbformat.writes(nb).encode()


def write_zip(path, entries):
    """entries: (name in the archive, local time as a tuple, content)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, when, content in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), content)
    return path


def submitted(course, student):
    folder = course / "submitted" / student / A
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def tag_of(course, student):
    nb = nbformat.read(course / "submitted" / student / A / f"{A}.ipynb", as_version=4)
    return nb.cells[0].source


def test_moodle_archive_fills_submitted_through_the_roster(course, tmp_path):
    """Are hand-ins matched by name (any case, accents, order), copied with their time, the late one and the
    duplicate reported, and the unmatched file and the missing student named?"""
    archive = write_zip(tmp_path / "moodle.zip", [
        ("Ada Lovelace_1001_assignsubmission_file_/toy.ipynb", (2026, 11, 20, 10, 0, 0), notebook_bytes("ada")),
        # Europe/Berlin is UTC+1 in November: 13:30 local is 12:30 UTC, half an hour late
        ("NOETHER emmy_1002_assignsubmission_file_/toy.ipynb", (2026, 11, 20, 13, 30, 0), notebook_bytes("emmy")),
        ("Jose Echegaray_1004_assignsubmission_file_/Copy of toy.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("jose")),
        ("Lise Meitner_1003_assignsubmission_file_/toy.ipynb", (2026, 11, 18, 9, 0, 0), notebook_bytes("lise old")),
        ("Lise Meitner_1003_assignsubmission_file_/toy (1).ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("lise new")),
        ("Grace Hopper_1005_assignsubmission_file_/toy.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("grace")),
        ("Ada Lovelace_1001_assignsubmission_onlinetext_/onlinetext.html", (2026, 11, 19, 9, 0, 0), b"<p>hi</p>"),
    ])
    result = collect(A, archive, course=course, roster=course / "roster.csv", timezone="Europe/Berlin")

    assert {h.student for h in result.collected} == {"ada", "emmy", "jose", "lise"}
    for student in ("ada", "emmy", "jose", "lise"):
        assert submitted(course, student) == ["timestamp.txt", f"{A}.ipynb"], student
        assert tag_of(course, student) == {"lise": "lise new"}.get(student, student)
    by = {h.student: h for h in result.collected}
    assert by["emmy"].late_by == dt.timedelta(minutes=30)
    assert by["ada"].late_by is None and by["jose"].late_by is None
    assert by["ada"].timestamp == dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
    assert (course / "submitted" / "emmy" / A / "timestamp.txt").read_text().startswith("2026-11-20 12:30:00")
    assert any("2 hand-ins" in n for n in by["lise"].notes)
    why = dict(result.problems)
    assert "matches no student" in why["Grace Hopper_1005_assignsubmission_file_/toy.ipynb"]
    assert "Ada Lovelace_1001_assignsubmission_onlinetext_/onlinetext.html" in why
    assert not result.ok
    assert result.missing == ["kim1", "kim2"]
    with gradebook(course) as gb:
        assert gb.find_student("jose").first_name == "José"


def test_canvas_archive_with_platform_ids_and_a_late_marker(course, tmp_path):
    """Two students of one name are told apart by the platform id; an ambiguous name without it is not collected;
    Canvas's LATE marker and its renamed resubmission are understood."""
    archive = write_zip(tmp_path / "canvas.zip", [
        ("leekim_501_9001_toy.ipynb", (2026, 11, 20, 11, 0, 0), notebook_bytes("kim1")),
        ("leekim_LATE_502_9002_toy-1.ipynb", (2026, 11, 21, 8, 0, 0), notebook_bytes("kim2")),
        ("lovelaceada_777_9003_toy.ipynb", (2026, 11, 20, 11, 0, 0), notebook_bytes("ada")),
    ])
    roster = course / "roster-no-ids.csv"
    roster.write_text(ROSTER.replace(",501", ",").replace(",502", ","))
    ambiguous = collect(A, archive, course=course, platform="canvas", roster=roster)
    assert {h.student for h in ambiguous.collected} == {"ada"}
    assert sum("matches 2 students" in why for _, why in ambiguous.problems) == 2

    result = collect(A, archive, course=course, platform="canvas", roster=course / "roster.csv", force=True)
    assert {h.student for h in result.collected} == {"ada", "kim1", "kim2"} and result.ok
    assert tag_of(course, "kim2") == "kim2" and submitted(course, "kim2") == ["timestamp.txt", f"{A}.ipynb"]
    assert {h.student: h.late_by for h in result.collected}["kim2"] == dt.timedelta(hours=20)


def test_a_second_collect_keeps_what_was_collected_unless_forced(course, tmp_path):
    first = write_zip(tmp_path / "first.zip", [
        ("Ada Lovelace_1_assignsubmission_file_/toy.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("first"))])
    second = write_zip(tmp_path / "second.zip", [
        ("Ada Lovelace_1_assignsubmission_file_/toy.ipynb", (2026, 11, 19, 10, 0, 0), notebook_bytes("second"))])
    collect(A, first, course=course, roster=course / "roster.csv")
    again = collect(A, second, course=course, roster=course / "roster.csv")
    assert not again.collected and "has a submission already" in again.problems[0][1]
    assert tag_of(course, "ada") == "first"
    collect(A, second, course=course, roster=course / "roster.csv", force=True)
    assert tag_of(course, "ada") == "second"


def test_without_a_roster_file_the_gradebook_is_the_roster(course, tmp_path):
    with gradebook(course) as gb:
        gb.update_or_create_student("s123", first_name="Marie", last_name="Curie")
    archive = write_zip(tmp_path / "m.zip", [
        ("Marie Curie_9_assignsubmission_file_/toy.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("marie"))])
    result = collect(A, archive, course=course)
    assert [h.student for h in result.collected] == ["s123"] and result.ok and result.missing == []


def test_an_archive_entry_cannot_write_outside_the_collect_folder(course, tmp_path):
    """A name with .. or an absolute path in the zip is not unpacked (nbgrader's extractor skips it)."""
    archive = write_zip(tmp_path / "evil.zip", [
        ("../../../escaped.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("x")),
        ("/tmp/absolute_escape.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("x")),
        ("Ada Lovelace_1_assignsubmission_file_/../../../../../escaped2.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("x")),
    ])
    result = collect(A, archive, course=course, roster=course / "roster.csv")
    assert not result.collected
    assert not list(tmp_path.rglob("escaped*.ipynb"))
    assert not (tmp_path / "absolute_escape.ipynb").exists()


def test_refusals_say_what_to_do(course, tmp_path):
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(CourseError, match="not a zip archive"):
        collect(A, tmp_path / "not.zip", course=course, roster=course / "roster.csv")
    good = write_zip(tmp_path / "ok.zip", [])
    with pytest.raises(CourseError, match="not released"):
        collect("other", good, course=course, roster=course / "roster.csv")
    with pytest.raises(CourseError, match="time zone"):
        collect(A, good, course=course, roster=course / "roster.csv", timezone="Mars/Olympus")
    (tmp_path / "bad.csv").write_text("name\nAda\n")
    with pytest.raises(CourseError, match="column id"):
        read_roster(tmp_path / "bad.csv")


def test_cli_prints_the_report_and_exits_1_on_unmatched_files(course, tmp_path, capsys):
    archive = write_zip(tmp_path / "m.zip", [
        ("Ada Lovelace_1_assignsubmission_file_/toy.ipynb", (2026, 11, 21, 9, 0, 0), notebook_bytes("ada")),
        ("Nobody Known_2_assignsubmission_file_/toy.ipynb", (2026, 11, 19, 9, 0, 0), notebook_bytes("x"))])
    code = cli.main(["collect", A, str(archive), "--roster", str(course / "roster.csv"), "--course", str(course)])
    out = capsys.readouterr().out
    assert code == 1
    assert "ada" in out and "21:00:00" in out  # late by 21 h (09:00 on the 21st, due noon on the 20th)
    assert "Nobody Known" in out and "no hand-in from 5 student(s)" in out
    grades = json.dumps(submitted(course, "ada"))
    assert "toy.ipynb" in grades


def test_name_keys_ignore_case_accents_spaces_and_order():
    assert name_key("José  Échegaray") == name_key("jose echegaray") == "joseechegaray"
    assert name_key("O'Brien-Smith") == "obriensmith"


@pytest.mark.slow
def test_the_zip_route_from_release_to_a_grade_table(tmp_path, capsys):
    """The README's zip route, command by command: init, roster, due date, release, the platform's zip, collect,
    autograde, grades. The finished hand-in gets full marks, the untouched one 0, the one not handed in no row."""
    course = tmp_path / "course"
    materials = write_materials(tmp_path / "materials")
    assert cli.main(["init", str(course), "--materials", str(materials)]) == 0
    assert oct((course / "autograder").stat().st_mode & 0o777) == "0o700"
    (tmp_path / "students.csv").write_text("id,first_name,last_name,email\nada,Ada,Lovelace,\nemmy,Emmy,Noether,\n"
                                           "lise,Lise,Meitner,\n")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    for argv in (["db", "student", "import", str(tmp_path / "students.csv")],
                 ["db", "assignment", "add", A, "--duedate=2026-11-20 12:00:00 UTC"]):
        done = subprocess.run([*nbgrader, *argv], cwd=course, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert cli.main(["release", A, "--course", str(course)]) == 0

    released = nbformat.read(course / "release" / A / f"{A}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    archive = write_zip(tmp_path / "download.zip", [
        ("Ada Lovelace_11_assignsubmission_file_/toy.ipynb", (2026, 11, 20, 9, 0, 0),
         nbformat.writes(reference_notebook(source, released)).encode()),
        ("Emmy Noether_12_assignsubmission_file_/toy.ipynb", (2026, 11, 20, 9, 0, 0), nbformat.writes(released).encode()),
    ])
    assert cli.main(["collect", A, str(archive), "--course", str(course)]) == 0  # the gradebook's students: the roster
    assert "no hand-in from 1 student(s) of the roster: lise" in capsys.readouterr().out
    assert cli.main(["autograde", A, "--course", str(course), "--jobs", "2", "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["grades", "--format", "csv", "--course", str(course)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["student"], float(r["score"]), float(r["max_score"])) for r in rows} == {("ada", 2.0, 2.0), ("emmy", 0.0, 2.0)}
