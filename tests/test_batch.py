"""Grading a class: parallel jobs, one gradebook writer, resuming after kill -9, Dask, broken files."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from nbformat.v4 import new_code_cell
from toy import A, write_materials

from ml4p.course import create_course
from ml4p.grading.autograde import autograde, grades
from ml4p.grading.cache import failure_file
from ml4p.grading.submissions import known_submissions, submit
from ml4p.release import release


def make_course(tmp_path, *, students=2, extra_cells=()):
    materials = write_materials(tmp_path / "materials", extra_cells)
    course = create_course(tmp_path / "course", materials=materials, assignments=[A])
    release(A, course=course)
    subs = known_submissions(course, A)
    for sid, (nb, _) in subs.items():
        submit(course, sid, A, nb)
    for i in range(students):
        submit(course, f"student-{i}", A, subs["reference"][0])
    return course


def scores(course):
    return {r.student: r.score for r in grades(course=course, assignment=A)}


EXPECTED = {"reference": 2, "blank": 0, "mistake-adds": 0, "mistake-echoes": 0, "student-0": 2, "student-1": 2}


def test_parallel_jobs_grade_every_submission_right(tmp_path):
    """Do two jobs at once grade every submission as one job would, with one writer to SQLite?"""
    course = make_course(tmp_path)
    done = autograde(A, course=course, jobs=2, progress=False)
    assert all(d.ok for d in done), [d.error for d in done]
    assert scores(course) == EXPECTED


def test_a_second_run_grades_only_what_is_new(tmp_path):
    """Does running again grade nothing, and after a resubmission only that one (all of them with --force)?"""
    course = make_course(tmp_path)
    autograde(A, course=course, progress=False)
    assert autograde(A, course=course, progress=False) == []
    time.sleep(0.01)
    submit(course, "student-1", A, known_submissions(course, A)["blank"][0])
    again = autograde(A, course=course, progress=False)
    assert [d.student for d in again] == ["student-1"]
    assert scores(course)["student-1"] == 0
    assert len(autograde(A, course=course, force=True, progress=False)) == len(EXPECTED)


def test_kill_9_mid_batch_loses_nothing_and_resumes(tmp_path):
    """After kill -9 in the middle of a batch, does a rerun grade only the rest and end with every grade right?"""
    course = make_course(tmp_path, students=4, extra_cells=[new_code_cell("import time\ntime.sleep(1.5)")])
    cmd = [sys.executable, "-m", "ml4p.cli", "autograde", A, "--course", str(course), "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    graded = course / ".ml4p" / "graded" / A
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(graded.glob("*"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name for p in graded.glob("*")}
    assert 2 <= len(finished) < 7, "the batch should have been killed in the middle"
    rest = autograde(A, course=course, progress=False)
    assert finished.isdisjoint(d.student for d in rest)
    assert all(d.ok for d in rest)
    expected = {**EXPECTED, "student-2": 2, "student-3": 2}
    assert scores(course) == expected


def test_dask_local_cluster(tmp_path):
    """Does `--cluster` grade on a real Dask LocalCluster with workers in separate processes?"""
    distributed = pytest.importorskip("distributed")
    course = make_course(tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        done = autograde(A, course=course, cluster=cluster.scheduler_address, progress=False)
    assert all(d.ok for d in done), [d.error for d in done]
    assert scores(course) == EXPECTED


def test_a_broken_file_fails_with_its_reason_and_the_batch_goes_on(tmp_path):
    """Is a submission that is not JSON recorded as failed, with why, while the others are graded?"""
    course = make_course(tmp_path)
    (course / "submitted" / "student-0" / A / f"{A}.ipynb").write_text("{ not json")
    done = {d.student: d for d in autograde(A, course=course, jobs=2, progress=False)}
    assert not done["student-0"].ok and done["student-0"].error
    assert "json" in failure_file(course, A, "student-0").read_text().lower()
    got = scores(course)
    assert {k: v for k, v in got.items() if k != "student-0"} == {k: v for k, v in EXPECTED.items() if k != "student-0"}


def test_submissions_are_never_modified(tmp_path):
    """Are the submitted files byte for byte the same after a parallel grading run?"""
    import hashlib

    course = make_course(tmp_path)

    def digest():
        return {p.relative_to(course): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((course / "submitted").rglob("*")) if p.is_file()}

    before = digest()
    autograde(A, course=course, jobs=2, progress=False)
    assert digest() == before
