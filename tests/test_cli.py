"""The `ml4p` command's plumbing: defaults, help, and clear errors on bad input."""
import inspect
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ml4p import cli
from ml4p.course import create_course, materials_root
from ml4p.demo import demo


def test_demo_default_course_comes_from_the_function():
    """Does the CLI take `ml4p demo`'s default course from the function, so the two cannot drift?"""
    args = cli.parser().parse_args(["demo"])
    assert args.course == inspect.signature(demo).parameters["course"].default


# A student's install: ml4p without the grader's part (pip install ml4p, no [grader]), imitated by making its modules
# unimportable in a fresh interpreter.
WITHOUT_GRADER = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"nbgrader", "pytest", "_pytest", "bleach", "jinja2", "google_crc32c"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from ml4p import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_students_install_validates_and_the_grader_commands_say_what_to_install(tmp_path):
    """Without nbgrader and pytest, does `ml4p validate` still run a notebook, and does `ml4p autograde` say
    which extra to install instead of a traceback?"""
    nb = new_notebook(cells=[new_code_cell("x = 1 + 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    run = [sys.executable, "-c", WITHOUT_GRADER]
    ok = subprocess.run([*run, "validate", str(path)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "every cell runs" in ok.stdout and "read-only cells were not compared" in ok.stdout
    refused = subprocess.run([*run, "autograde", "a", "--course", str(tmp_path)], capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "pip install 'ml4p[grader]'" in refused.stderr, refused.stderr


@pytest.mark.parametrize("argv, words", [
    (["autograde", "coulomb_gas"], "not a course directory"),
    (["grades"], "not a course directory"),
    (["release", "coulomb_gas"], "not a course directory"),
])
def test_outside_a_course_the_error_says_what_to_do(tmp_path, monkeypatch, capsys, argv, words):
    """Run outside a course, does each command exit 2 with a sentence instead of a traceback?"""
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_unknown_assignment_and_student(tmp_path, capsys):
    """Are an unknown assignment and a student without a submission named in the error?"""
    course = create_course(tmp_path / "c", materials=materials_root(), assignments=["coulomb_gas"])
    assert cli.main(["release", "nope", "--course", str(course)]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli.main(["autograde", "coulomb_gas", "--student", "ghost", "--course", str(course), "-q"]) == 2
    assert "ghost" in capsys.readouterr().err


def test_validate_runs_the_notebook_as_nbgraders_validate_does(tmp_path, monkeypatch):
    """Does `ml4p validate` set nbgrader's validation variables for the kernel (so that the notebooks'
    demonstrations are skipped, as when graded), and leave its own environment as it was?"""
    import os

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from ml4p.validate import validate

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb = new_notebook(cells=[
        new_code_cell('import os\nassert os.environ.get("NBGRADER_EXECUTION") == "validate", os.environ.get("NBGRADER_EXECUTION")\n'
                      'assert os.environ.get("NBGRADER_VALIDATING") == "1"'),
        new_code_cell('if "NBGRADER_EXECUTION" not in os.environ:\n    raise RuntimeError("a demonstration ran")'),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    result = validate(path)
    assert result.ok, result.report()
    assert "NBGRADER_EXECUTION" not in os.environ


def test_validate_reports_an_unreadable_notebook(tmp_path, capsys):
    """Is a notebook that is not JSON reported as such, with exit 1?"""
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ this is not json")
    assert cli.main(["validate", str(bad)]) == 1
    assert "not a readable notebook" in capsys.readouterr().out


def test_create_course_refuses_an_unknown_assignment(tmp_path):
    """Does asking for an assignment that does not exist fail with its name?"""
    from ml4p.course import CourseError

    with pytest.raises(CourseError, match="unknown assignment 'nope'"):
        create_course(tmp_path / "c", materials=materials_root(), assignments=["nope"])


def test_demo_runs_the_whole_chain_on_the_toy_assignment(tmp_path, capsys):
    """Does the demo grade, judge, and produce course grades, feedback, exports and the report?"""
    import json

    from toy import A, write_materials

    from ml4p.exports import validate_results

    result = demo(course=tmp_path / "course", materials=write_materials(tmp_path / "materials"), progress=False)
    assert result.ok, [v.problems for v in result.verdicts]
    assert {v.student for v in result.verdicts} == {"reference", "blank", "mistake-adds", "mistake-echoes"}
    course = result.course
    assert (course / "feedback" / "reference" / A / f"{A}.html").is_file()
    doc = json.loads((course / "exports" / "gradescope" / A / "reference" / "results.json").read_text())
    assert validate_results(doc) == [] and doc["score"] == 2
    assert "hidden check" in result.outputs["instructor report"].read_text().lower()
    assert (course / "rubrics" / "project.csv").read_text().count("blank") == 0  # blank handed in nothing


def test_init_creates_a_course_once(tmp_path, capsys):
    """Does `ml4p init` make a course with the named assignment, and refuse to overwrite one?"""
    from toy import A, write_materials

    materials = write_materials(tmp_path / "materials")
    assert cli.main(["init", str(tmp_path / "c"), "--materials", str(materials), "--course-id", "phys101"]) == 0
    assert (tmp_path / "c" / "source" / A / f"{A}.ipynb").is_file()
    assert "'phys101'" in (tmp_path / "c" / "nbgrader_config.py").read_text()
    assert cli.main(["init", str(tmp_path / "c"), "--materials", str(materials)]) == 2
    assert "is a course already" in capsys.readouterr().err
