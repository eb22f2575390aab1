"""The JupyterHub route: nbgrader's exchange on an ml4p course, the instructor and two students as three users.

nbgrader's own commands do the moving (``release_assignment``, ``fetch_assignment``,
``submit``, ``collect``, ``release_feedback``, ``fetch_feedback``); ml4p releases,
grades and writes the feedback. The instructor is this process's user (root); each student
is an account of their own (a passwd file of the test's), run through ``setpriv`` inside a
bubblewrap mount namespace that hides root's home except the Python installation (a
student on a hub reads the interpreter, never the instructor's files). The hidden checks
stay the instructor's (``create_course`` makes ``autograder/`` and ``solutions/`` private):
a student reaches the exchange folder and their own home.
"""
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from toy import A, write_materials

from ml4p.course import create_course
from ml4p.grading.submissions import reference_notebook

REPO = Path(__file__).resolve().parent.parent
STUDENTS = {"alice": 23401, "bob": 23402}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="acting as a second user needs root (setpriv to another uid)"),
    pytest.mark.skipif(shutil.which("bwrap") is None or shutil.which("setpriv") is None,
                       reason="needs bubblewrap and setpriv (util-linux) to run students as other users"),
]


def run(argv, *, cwd, env=None, check=True):
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{argv} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def instructor(*argv, course):
    return run([sys.executable, "-m", *argv], cwd=course)


def as_student(name, *argv, home, check=True):
    """``python argv...`` as the student's uid, in their home, seeing the interpreter but nothing else of /root."""
    uid = STUDENTS[name]
    hidden_home = Path.home()
    binds = []
    for path in sorted({Path(sys.prefix), Path(sys.base_prefix), REPO}):
        if hidden_home in path.parents:
            between = [a for a in reversed(path.parents) if hidden_home in a.parents]
            for folder in between:  # made by bwrap in the empty home: searchable, as on the host
                binds += ["--perms", "0755", "--dir", str(folder)]
            binds += ["--ro-bind", str(path), str(path)]
    env = {"HOME": str(home), "USER": name, "LOGNAME": name, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "LANG": "C.UTF-8", "ML4P_DIGITS": "synthetic"}
    wrapped = ["bwrap", "--bind", "/", "/", "--tmpfs", str(hidden_home), *binds, "--proc", "/proc", "--dev", "/dev",
               "--ro-bind", str(home.parent / "passwd"), "/etc/passwd", "--ro-bind", str(home.parent / "group"), "/etc/group",
               "--chdir", str(home), "--",
               "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
               sys.executable, *argv]
    return run(wrapped, cwd=home, env=env, check=check)


@pytest.fixture
def world():
    """A shared folder (not pytest's 0700 tmp): the course (instructor's), the exchange, each student's home."""
    top = Path(tempfile.mkdtemp(prefix="ml4p-exchange-"))
    top.chmod(0o755)
    exchange = top / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # as nbgrader's docs set a hub's exchange up: every user writes, each its own files
    course = create_course(top / "course", materials=write_materials(top / "materials"), assignments=[A])
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write(f"c.Exchange.root = {str(exchange)!r}\n")
    # the students' accounts, as a hub has them (nbgrader's submit names the submitter after its account)
    passwd, group = Path("/etc/passwd").read_text(), Path("/etc/group").read_text()
    for name, uid in STUDENTS.items():
        passwd += f"{name}:x:{uid}:{uid}::{top / name}:/bin/sh\n"
        group += f"{name}:x:{uid}:\n"
    (top / "passwd").write_text(passwd)
    (top / "group").write_text(group)
    homes = {}
    for name, uid in STUDENTS.items():
        home = top / name
        home.mkdir()
        (home / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = 'ml4p'\n")
        os.chown(home, uid, uid)
        os.chown(home / "nbgrader_config.py", uid, uid)
        homes[name] = home
    try:
        yield course, exchange, homes
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_release_fetch_submit_collect_grade_and_feedback_as_three_users(world):
    course, exchange, homes = world
    instructor("ml4p.cli", "release", A, "--course", str(course), "--force", course=course)
    instructor("nbgrader", "release_assignment", A, course=course)

    # A student cannot read the course: the hidden checks and the gradebook stay the instructor's.
    peek = as_student("alice", "-c", f"open({str(course / 'autograder' / A / 'test_double.py')!r}).read()",
                      home=homes["alice"], check=False)
    assert peek.returncode != 0 and "Permission denied" in peek.stderr, peek.stderr

    listed = as_student("alice", "-m", "nbgrader", "list", home=homes["alice"])
    assert f"ml4p {A}" in listed.stdout + listed.stderr
    for name in STUDENTS:
        as_student(name, "-m", "nbgrader", "fetch_assignment", A, home=homes[name])
        assert (homes[name] / A / f"{A}.ipynb").is_file()
        assert (homes[name] / A / f"{A}.ipynb").stat().st_uid == STUDENTS[name]

    # alice does the work (the solution typed into her fetched notebook), checks it, hands it in; bob hands in as fetched
    fetched = homes["alice"] / A / f"{A}.ipynb"
    source = nbformat.read(course / "source" / A / f"{A}.ipynb", as_version=4)
    nbformat.write(reference_notebook(source, nbformat.read(fetched, as_version=4)), fetched)
    os.chown(fetched, STUDENTS["alice"], STUDENTS["alice"])
    validated = as_student("alice", "-m", "ml4p.cli", "validate", f"{A}/{A}.ipynb", home=homes["alice"])
    assert "every cell runs" in validated.stdout
    for name in STUDENTS:
        as_student(name, "-m", "nbgrader", "submit", A, home=homes[name])
    inbound = sorted(p.name.split("+")[0] for p in (exchange / "ml4p" / "inbound").iterdir())
    assert inbound == sorted(STUDENTS)

    instructor("nbgrader", "collect", A, course=course)
    for name in STUDENTS:
        assert (course / "submitted" / name / A / f"{A}.ipynb").is_file()
        assert (course / "submitted" / name / A / "timestamp.txt").is_file()
    instructor("ml4p.cli", "autograde", A, "--course", str(course), course=course)
    table = instructor("ml4p.cli", "grades", "--format", "csv", "--course", str(course), course=course).stdout
    scores = {row["student"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(io.StringIO(table))}
    assert scores == {"alice": (2.0, 2.0), "bob": (0.0, 2.0)}

    instructor("ml4p.cli", "feedback", A, "--course", str(course), course=course)
    instructor("nbgrader", "release_feedback", A, course=course)
    for name in STUDENTS:
        as_student(name, "-m", "nbgrader", "fetch_feedback", A, home=homes[name])
    pages = list((homes["alice"] / A / "feedback").rglob(f"{A}.html"))
    assert len(pages) == 1
    page = pages[0].read_text()
    assert "2 / 2" in page.replace("2.0", "2") or "Score: 2" in page
    assert "def test_" not in page  # the hidden source stays hidden
