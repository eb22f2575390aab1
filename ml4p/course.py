"""A course directory: nbgrader's layout plus ml4p's instructor-only folders.

```
<course>/nbgrader_config.py     nbgrader's configuration, with ml4p's grader in autograde
<course>/source/<a>/<a>.ipynb   source notebooks (with solutions)
<course>/autograder/<a>/        hidden checks (instructor only)
<course>/solutions/<a>.py       NumPy oracles (instructor only)
<course>/release/ submitted/ autograded/ feedback/ gradebook.db   made by nbgrader
```
"""
from __future__ import annotations

import shutil
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"

CONFIG_TEMPLATE = '''\
# nbgrader configuration of an ml4p course (written by ml4p; edit freely).
# `nbgrader autograde` and `ml4p autograde` both read it.
import os

from ml4p.grading.execute import autograde_preprocessors
from ml4p.grading.restore import sanitize_preprocessors

here = os.path.dirname(os.path.abspath(__file__))
c = get_config()  # noqa: F821

c.CourseDirectory.root = here
c.CourseDirectory.course_id = {course_id!r}
# The gradebook: SQLite by default; for several graders a Postgres URL
# such as "postgresql://user@host/ml4p".
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")
c.Exchange.root = os.path.join(here, "exchange")

# ml4p's sandboxed execution and hidden checks take the place of nbgrader's Execute step.
c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.SandboxedExecute.checks_dir = os.path.join(here, "autograder")
c.SandboxedExecute.solutions_dir = os.path.join(here, "solutions")
# Where the data sets are: the grader verifies them, the sandbox reads them (read-only).
# ML4P_MNIST: a verified MNIST file; ML4P_DIGITS="synthetic": ml4p's stand-in, chosen
# only because no MNIST was found when this course was created.
c.SandboxedExecute.data_env = {data_env!r}
# Seconds a cell may run: nbgrader's own setting, so `--Execute.timeout=N` overrides it
# (a c.SandboxedExecute.timeout, where set, wins over both).
c.Execute.timeout = 300
c.SandboxedExecute.notebook_timeout = 3600  # seconds all cells of a notebook may run; later cells do not run
c.SandboxedExecute.memory_mb = 4096  # memory limit of a submission's kernel (MB)
c.SandboxedExecute.disk_mb = 1024  # size of its work folder (MB; a memory filesystem, nothing on the disk)
c.SandboxedExecute.tmp_mb = 512  # size of its /tmp and of its /dev/shm (MB each)
# A deleted locked cell (hidden checks, visible tests, setup) or graded cell is put back from the
# released notebook and graded, with a note on the submission, instead of scoring 0.
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
c.OverwriteCells.add_missing_cells = True

# Feedback pages (`nbgrader generate_feedback`, `ml4p feedback`) run nothing of the student's in the
# browser of whoever opens them: nbconvert's SanitizeHTML (bleach) cleans every cell, JavaScript and
# SVG outputs are dropped. Its settings: c.FeedbackSanitizer (see ml4p/feedback.py).
c.GenerateFeedback.exporter_class = "ml4p.feedback.FeedbackExporter"

# The course grade (`ml4p course-grades`, `ml4p report`); each setting is explained in ml4p/coursegrades.py.
c.CoursePolicy.weights = {{"assignments": 40, "project": 40, "presentation": 20}}  # percent; sums to 100
c.CoursePolicy.assignments = []  # the assignments that count; empty: all but the project/presentation ones
c.CoursePolicy.drop_lowest = 0  # a student's lowest assignment percentages left out of the mean
c.CoursePolicy.late_penalty_per_day = 0  # percentage points off per started day late, if nbgrader gave no penalty
c.CoursePolicy.max_days_late = None  # more days late than this counts 0 (None: no limit)
c.CoursePolicy.pass_mark = 50  # lowest passing course grade, 0-100
c.CoursePolicy.require_all_components = True  # no project, presentation or assignment at all: fails
# Rubrics the TA fills in, one row per student and criterion: student,criterion,score,max_score,comment
c.CoursePolicy.project_rubric = "rubrics/project.csv"
c.CoursePolicy.presentation_rubric = "rubrics/presentation.csv"
c.CoursePolicy.project_assignment = ""  # or an nbgrader assignment graded by hand, used instead of the rubric
c.CoursePolicy.presentation_assignment = ""  # likewise for the presentation
'''


class CourseError(Exception):
    """Something about the course directory is wrong; the message says what to do."""


def materials_root() -> Path:
    """The folder holding ``assignments/``, ``autograder/`` and ``solutions/``.

    The repository ml4p is installed from (editable install), else the current folder.
    """
    repo = Path(__file__).resolve().parent.parent
    for candidate in (repo, Path.cwd()):
        if (candidate / "assignments").is_dir():
            return candidate
    raise CourseError("no assignments/ folder found: run ml4p from a clone of the ml4p repository "
                      "or a course directory")


def assignment_names(materials: Path | None = None) -> list[str]:
    root = materials or materials_root()
    return sorted(p.parent.name for p in (root / "assignments").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def create_course(root: Path, *, materials: Path | None = None, assignments: list[str] | None = None,
                  course_id: str = "ml4p") -> Path:
    """Create (or refresh) a course at ``root`` with the given assignments and their checks."""
    materials = Path(materials or materials_root())
    root = Path(root).resolve()
    names = assignments or assignment_names(materials)
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = materials / "assignments" / name
        if not (src / f"{name}.ipynb").is_file():
            raise CourseError(f"unknown assignment {name!r}: no {src / (name + '.ipynb')}")
        _copy_tree(src, root / "source" / name)
        checks = materials / "autograder" / name
        if checks.is_dir():
            _copy_tree(checks, root / "autograder" / name)
        oracle = materials / "solutions" / f"{name}.py"
        if oracle.is_file():
            (root / "solutions").mkdir(exist_ok=True)
            shutil.copy2(oracle, root / "solutions" / oracle.name)
    for shared in ("autograder/conftest.py", "solutions/__init__.py"):
        if (materials / shared).is_file():
            (root / shared).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(materials / shared, root / shared)
    for private in ("autograder", "solutions"):  # on a shared machine (a hub) the hidden checks are the instructor's
        if (root / private).is_dir():
            (root / private).chmod(0o700)
    config = root / CONFIG_FILE
    if not config.exists():
        config.write_text(CONFIG_TEMPLATE.format(course_id=course_id, data_env=data_env()))
    return root


def data_env() -> dict[str, str]:
    """Where the course's data sets are: a verified local MNIST, else (said so) the stand-in."""
    from ml4p.data import DIGITS_ENV, MNIST_ENV, mnist_file

    path = mnist_file()
    return {MNIST_ENV: str(path)} if path else {DIGITS_ENV: "synthetic"}


def _copy_tree(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))


def find_course(course: Path | str | None = None) -> Path:
    root = Path(course or ".").resolve()
    if not (root / CONFIG_FILE).is_file():
        raise CourseError(f"{root} is not a course directory (no {CONFIG_FILE}); "
                          "create one with `ml4p demo --course DIR`")
    return root


def load_config(course: Path) -> Config:
    config = PyFileConfigLoader(CONFIG_FILE, path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    return config


def nbgrader_api(course: Path | str | None = None, **settings):
    """nbgrader's own API on the course, with its configuration (plus ``settings``)."""
    import logging

    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    root = find_course(course)
    config = load_config(root)
    for key, value in settings.items():
        section, name = key.split(".")
        setattr(config[section], name, value)
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api


def gradebook(course: Path | str | None = None):
    """nbgrader's gradebook of the course (a context manager), at the course's ``db_url`` and course id."""
    from nbgrader.api import Gradebook

    api = nbgrader_api(course)
    return Gradebook(api.coursedir.db_url, api.coursedir.course_id)
