"""`ml4p collect`: the hand-ins a learning platform exports, into nbgrader's ``submitted/``.

Moodle ("Download all submissions") and Canvas ("Download submissions") export one zip
per assignment, one file (or folder) per student, the student named in the file name:

| platform | an entry of the zip |
| --- | --- |
| moodle | ``Ada Lovelace_1234567_assignsubmission_file_/coulomb_gas.ipynb`` (a folder per student; older |
| | versions: ``Ada Lovelace_1234567_assignsubmission_file_coulomb_gas.ipynb``, flat) |
| canvas | ``lovelaceada_4321_98765_coulomb_gas.ipynb``, ``lovelaceada_LATE_4321_98765_coulomb_gas-1.ipynb`` |

nbgrader's ``zip_collect`` does the work: its extractor unpacks the archive under
``downloaded/<assignment>/`` (skipping absolute names and ``..``), and ml4p's collector
plugin (:class:`RosterCollector`) turns each file name into a student id through the
course roster, so that nbgrader copies it to ``submitted/<id>/<assignment>/`` and writes its
``timestamp.txt``. What ml4p adds is the roster and the report: who handed in, when, how
late; which files matched no one (or more than one student); who handed in twice (the
newest is kept, nbgrader's rule); who did not hand in.

The roster is nbgrader's student CSV (``id,first_name,last_name,email``, what
``nbgrader db student import`` reads) with an optional ``lms_id`` column, the platform's
user id (``1234567`` and ``4321`` above), which wins over names: names are matched
ignoring case, accents, spaces and punctuation, first-last or last-first. Without a
roster file, the gradebook's students are the roster.

The timestamp of a hand-in is its time in the archive (the platform stores the
submission's modification time there, in the platform's time zone: ``timezone``).
Late is measured against the assignment's due date in the gradebook; extensions are
nbgrader's to apply when it grades.

What a hand-in can do: its file name and content are the student's. Names reach no path
of the course (ids come from the roster), nbgrader's extractor writes nothing outside
``downloaded/<assignment>/extracted/``, and what lands in ``submitted/`` goes through the
grader's own checks (regular files only, sizes capped: ``ml4p/grading/files.py``) before
anything reads it.
"""
from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ml4p.course import CourseError, find_course, gradebook, load_config

#: File names of each platform's export, as a regular expression on an entry's path in the archive.
PLATFORMS = {
    "moodle": re.compile(r"^(?P<name>[^/]+?)_(?P<lms_id>\d+)_assignsubmission_file_/?(?P<file>.+)$"),
    "canvas": re.compile(r"^(?P<name>[^_/]+)(?P<late>_LATE)?_(?P<lms_id>\d+)_(?:\d+_)?(?P<file>[^/]+)$", re.IGNORECASE),
}

#: The largest archive (uncompressed, all entries) ``collect`` unpacks.
MAX_ARCHIVE_BYTES = 4 * 2**30


def name_key(text: str) -> str:
    """A name as platforms write it, reduced to what they agree on: no case, accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.casefold() if c.isalnum() and not unicodedata.combining(c))


@dataclass(frozen=True)
class Student:
    id: str
    first_name: str = ""
    last_name: str = ""
    lms_id: str = ""

    @property
    def keys(self) -> set[str]:
        """The name keys a platform may write for this student (first-last and last-first)."""
        keys = {name_key(self.first_name + self.last_name), name_key(self.last_name + self.first_name)}
        return keys - {""}


@dataclass
class HandIn:
    """One student's collected hand-in."""

    student: str
    files: list[str]  # the archive's entries that were copied, as named there
    timestamp: dt.datetime | None
    late_by: dt.timedelta | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Collection:
    """What ``collect`` did, for the TA to read: nothing in it is silently dropped."""

    assignment: str
    collected: list[HandIn] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (entry, why it was not collected)
    missing: list[str] = field(default_factory=list)  # roster students with no hand-in

    @property
    def ok(self) -> bool:
        """Every file of the archive reached a student (missing hand-ins are reported, not failures)."""
        return not self.problems


def read_roster(path: Path) -> list[Student]:
    """nbgrader's student CSV (``id`` required; ``first_name``, ``last_name``, ``email``, ``lms_id`` optional)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "id" not in rows[0]:
        raise CourseError(f"{path}: a roster is a CSV with a header row naming at least the column id "
                          "(nbgrader's id,first_name,last_name,email; lms_id optional)")
    students = [Student(r["id"].strip(), (r.get("first_name") or "").strip(), (r.get("last_name") or "").strip(),
                        (r.get("lms_id") or "").strip()) for r in rows]
    bad = [s.id for s in students if not s.id or s.id in (".", "..") or "/" in s.id or "\\" in s.id]
    if bad:
        raise CourseError(f"{path}: student ids must be non-empty names without slashes: {bad}")
    return students


def gradebook_roster(root: Path) -> list[Student]:
    """The gradebook's students as a roster."""
    with gradebook(root) as gb:
        return [Student(s.id, s.first_name or "", s.last_name or "") for s in gb.students]


def _due_date(root: Path, assignment: str) -> dt.datetime | None:
    """The assignment's due date in the gradebook, as an aware UTC time (None: none set)."""
    from nbgrader.api import MissingEntry

    with gradebook(root) as gb:
        try:
            due = gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None
    return None if due is None else due.replace(tzinfo=dt.timezone.utc)


def _add_students(root: Path, students: list[Student]) -> None:
    with gradebook(root) as gb:
        for s in students:
            gb.update_or_create_student(s.id, first_name=s.first_name or None, last_name=s.last_name or None)


def _collector_class():
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

    class RosterCollector(FileNameCollectorPlugin):
        """nbgrader's collector plugin: a platform's file name to a roster student id (see the module)."""

        def setup(self, *, extracted: Path, entries: dict[str, dt.datetime], pattern: re.Pattern, roster: list[Student],
                  released: list[str], existing: set[str], report: Collection) -> None:
            self.extracted, self.entries, self.pattern = extracted, entries, pattern
            self.roster, self.released, self.existing, self.report = roster, released, existing, report
            self.by_lms = {s.lms_id: s for s in roster if s.lms_id}
            self.seen: dict[str, list[tuple[str, dt.datetime | None]]] = {}
            self.late_marked: set[str] = set()

        def _entry(self, path: Path) -> tuple[str, dt.datetime | None]:
            """The archive entry a file came from, and its time (a file of an inner archive: that archive's)."""
            rel = path.relative_to(self.extracted).as_posix().split("/", 1)[-1]  # extracted/<archive>/<entry>
            candidate = rel
            while candidate:
                for name in (candidate, candidate + ".zip"):
                    if name in self.entries:
                        return rel, self.entries[name]
                candidate = candidate.rpartition("/")[0]
            return rel, None

        def collect(self, submitted_file: str):
            entry, timestamp = self._entry(Path(submitted_file))
            match = self.pattern.match(entry)
            if not match:
                self.report.problems.append((entry, "not a hand-in file name of this platform"))
                return None
            student = self.by_lms.get(match["lms_id"])
            if student is None:
                key = name_key(match["name"])
                named = [s for s in self.roster if key in s.keys]
                if len(named) != 1:
                    why = "matches no student of the roster" if not named else \
                        f"matches {len(named)} students of the roster ({', '.join(s.id for s in named)}): add lms_id to the roster"
                    self.report.problems.append((entry, f"{match['name']!r} (platform id {match['lms_id']}) {why}"))
                    return None
                student = named[0]
            file = match["file"].rsplit("/", 1)[-1]
            if not file.endswith(".ipynb"):
                self.report.problems.append((entry, f"{student.id}: not a notebook, not collected"))
                return None
            if student.id in self.existing:
                self.report.problems.append((entry, f"{student.id} has a submission already: not replaced "
                                                    "(ml4p collect --force replaces it)"))
                return None
            if file not in self.released and len(self.released) == 1:
                file = self.released[0]  # "coulomb_gas-1.ipynb", "Copy of coulomb_gas.ipynb": the one notebook
            if match.groupdict().get("late"):
                self.late_marked.add(student.id)
            self.seen.setdefault(student.id, []).append((entry, timestamp))
            info = {"student_id": student.id, "file_id": file}
            if timestamp is not None:
                info["timestamp"] = timestamp
            return info

    return RosterCollector


def collect(assignment: str, archive: Path | str, *, course: Path | str | None = None, platform: str = "moodle",
            roster: Path | str | None = None, timezone: str = "UTC", force: bool = False) -> Collection:
    """Fill ``submitted/*/<assignment>/`` from a learning platform's export; returns what was done."""
    from nbgrader.apps.zipcollectapp import ZipCollectApp
    from nbgrader.coursedir import CourseDirectory

    root = find_course(course)
    archive = Path(archive).resolve()
    if not archive.is_file():
        raise CourseError(f"no archive at {archive}")
    if platform not in PLATFORMS:
        raise CourseError(f"unknown platform {platform!r}: one of {', '.join(PLATFORMS)}")
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:
        raise CourseError(f"unknown time zone {timezone!r} (an IANA name such as Europe/Berlin)") from exc
    released = sorted(p.name for p in (root / "release" / assignment).glob("*.ipynb"))
    if not released:
        raise CourseError(f"{assignment} is not released (no release/{assignment}/*.ipynb): ml4p release {assignment} first")
    students = read_roster(Path(roster)) if roster else gradebook_roster(root)
    if not students:
        raise CourseError("no roster: pass --roster FILE.csv (id,first_name,last_name,email[,lms_id]) "
                          "or add the students to the gradebook (nbgrader db student import FILE.csv)")
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except zipfile.BadZipFile as exc:
        raise CourseError(f"{archive.name} is not a zip archive: {exc}") from exc
    if sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
        raise CourseError(f"{archive.name} unpacks to more than {MAX_ARCHIVE_BYTES / 2**30:g} GiB: refused")
    entries = {i.filename: dt.datetime(*i.date_time, tzinfo=zone).astimezone(dt.timezone.utc) for i in infos}

    config = load_config(root)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    app = ZipCollectApp(config=config, coursedir=coursedir, force=True)
    app.log = logging.getLogger("ml4p.collect")
    app.log.setLevel(logging.ERROR)  # nbgrader's progress lines and warnings: the report says it all
    downloaded = Path(app._format_collect_path(app.archive_directory))
    shutil.rmtree(downloaded, ignore_errors=True)
    downloaded.mkdir(parents=True)
    shutil.copy2(archive, downloaded / archive.name)
    existing = set() if force else {p.parent.name for p in (root / "submitted").glob(f"*/{assignment}") if any(p.iterdir())}
    report = Collection(assignment)
    app.collector_plugin = _collector_class()
    app.init_plugins()
    collector = app.collector_plugin_inst
    collector.setup(extracted=Path(app._format_collect_path(app.extracted_directory)), entries=entries,
                    pattern=PLATFORMS[platform], roster=students, released=released, existing=existing, report=report)
    try:
        app.extract_archive_files()
        app.process_extracted_files()
    except SystemExit as exc:  # nbgrader's app.fail: logged, then exit
        raise CourseError(f"nbgrader zip_collect stopped (status {exc.code}); see the messages above") from exc

    due = _due_date(root, assignment)
    for student, files in sorted(collector.seen.items()):
        newest = max(files, key=lambda f: f[1] or dt.datetime.min.replace(tzinfo=dt.timezone.utc))
        handin = HandIn(student, [newest[0]], newest[1])
        if len(files) > 1:
            older = ", ".join(entry for entry, _ in files if entry != newest[0])
            handin.notes.append(f"{len(files)} hand-ins: the newest kept ({older} left out)")
        if due is not None and newest[1] is not None and newest[1] > due:
            handin.late_by = newest[1] - due
        if student in collector.late_marked and handin.late_by is None:
            handin.notes.append("marked late by the platform")
        report.collected.append(handin)
    if roster:  # the names of the roster reach the gradebook (feedback, exports); nbgrader would add bare ids
        _add_students(root, [s for s in students if s.id in collector.seen])
    handed_in = set(collector.seen) | existing
    report.missing = sorted(s.id for s in students if s.id not in handed_in)
    return report
