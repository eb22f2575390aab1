"""What a student installs: the ml4p wheel, built from the package alone, in a fresh virtual environment.

The wheel is built from a copy of ``pyproject.toml``, ``README.md`` and ``ml4p/`` (nothing
else of the tree), installed with its ``[cpu]`` extra into a new virtual environment (no
system site-packages: TensorFlow, Keras and the rest come from the package registry, as on
a student's laptop), and the released MNIST notebook, alone in an empty folder, is checked
there with ``ml4p validate`` on the synthetic digits, as a student would before handing in.
"""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import ml4p
from ml4p.course import create_course, materials_root
from ml4p.grading.submissions import reference_notebook
from ml4p.release import release

REPO = Path(__file__).resolve().parent.parent
WHEEL = f"ml4p-{ml4p.__version__}-py3-none-any.whl"
ASSIGNMENT = "mnist"  # the notebook that uses most of the package: ml4p.data, ml4p.device, the hidden-check cells


def _pip_failed_for_the_network(output: str) -> bool:
    return any(words in output for words in ("Could not find a version", "NewConnectionError", "Temporary failure in name"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The student's wheel, built from the package's own files only."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "ml4p", src / "ml4p", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), "./src"],
                           cwd=tmp, capture_output=True, text=True, timeout=600)
    if build.returncode and _pip_failed_for_the_network(build.stdout + build.stderr):
        pytest.skip(f"the wheel's build tools could not be fetched from the package registry: {build.stderr[-300:]}")
    assert build.returncode == 0, build.stdout + build.stderr
    return tmp / "dist" / WHEEL


def test_the_wheel_holds_the_package_and_nothing_instructor_only(wheel):
    """Only ml4p/ and its metadata: no hidden checks, no oracles, no tests, no assignments with solutions."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(f"ml4p-{ml4p.__version__}.dist-info/METADATA").decode()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"ml4p", f"ml4p-{ml4p.__version__}.dist-info"}, tops
    assert not [n for n in names if "autograder" in n or "solutions" in n or n.endswith(".ipynb")]
    assert "ml4p/grading/cell.py" in names and "ml4p/data.py" in names and "ml4p/templates/report.html.j2" in names
    base = [line.split(":", 1)[1].strip() for line in metadata.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert base and not [r for r in base if r.split(">")[0].split("<")[0].split("[")[0] in ("nbgrader", "pytest", "tensorflow")]


def test_released_notebooks_tell_how_to_install_this_version():
    """Does the first cell of every assignment name this version's wheel and ml4p validate?"""
    for name in ("coulomb_gas", "mnist", "tuning", "oscillator", "symmetries", "diff_programming", "generative"):
        nb = nbformat.read(materials_root() / "assignments" / name / f"{name}.ipynb", as_version=4)
        first = nb.cells[0].source
        assert f"%pip install \"{WHEEL}[cpu]\"" in first and f"%pip install {WHEEL}" in first, name
        assert "ml4p validate" in first, name


@pytest.mark.slow
def test_a_fresh_environment_runs_the_released_notebook(wheel, tmp_path):
    """In a new virtual environment holding only the wheel (and what it requires), does the finished MNIST notebook
    pass ml4p validate on the synthetic digits, and the untouched release fail only on the unwritten functions?"""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[cpu]"],
                             capture_output=True, text=True, timeout=1200)
    if install.returncode and _pip_failed_for_the_network(install.stdout + install.stderr):
        pytest.skip(f"TensorFlow and the rest could not be fetched from the package registry: {install.stderr[-300:]}")
    assert install.returncode == 0, install.stdout + install.stderr

    course = create_course(tmp_path / "course", assignments=[ASSIGNMENT])  # the instructor's side, here
    released = nbformat.read(release(ASSIGNMENT, course=course) / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    student = tmp_path / "student"  # nothing of the tree: the notebook alone
    student.mkdir()
    nbformat.write(reference_notebook(source, released), student / "finished.ipynb")
    nbformat.write(released, student / "blank.ipynb")

    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "ML4P_DIGITS": "synthetic",
           "LANG": "C.UTF-8", **{k: v for k, v in os.environ.items() if k in ("TMPDIR",)}}
    where = subprocess.run([str(python), "-c", "import ml4p, keras, tensorflow; print(ml4p.__file__)"],
                           cwd=student, env=env, capture_output=True, text=True, timeout=300)
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where.stdout + where.stderr
    grader = subprocess.run([str(python), "-c", "import nbgrader"], env=env, capture_output=True, timeout=60)
    assert grader.returncode != 0, "a student's install pulled in the grader's nbgrader"

    ml4p_command = str(venv / "bin" / "ml4p")
    finished = subprocess.run([ml4p_command, "validate", "finished.ipynb"], cwd=student, env=env,
                              capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "every cell runs and every visible test passes" in finished.stdout

    blank = subprocess.run([ml4p_command, "validate", "blank.ipynb"], cwd=student, env=env,
                           capture_output=True, text=True, timeout=900)
    assert blank.returncode == 1, blank.stdout + blank.stderr
    problems = [line for line in blank.stdout.splitlines() if line.startswith("- cell")]
    assert problems and all("NotImplementedError" in line or "NameError" in line for line in problems), blank.stdout
    assert "ModuleNotFoundError" not in blank.stdout
