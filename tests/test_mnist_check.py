"""The MNIST assignment's hidden checks against its solution, blank release and known mistakes.

Offline (no MNIST on the machine) the course runs on ml4p's synthetic digits, and the
accuracy check says so in its name; with MNIST available it is graded on MNIST.
"""
import pytest

from ml4p import cli
from ml4p.course import load_config
from ml4p.grading.execute import SandboxedExecute


@pytest.mark.slow
def test_ml4p_check_mnist(tmp_path, capsys):
    """Does every known MNIST submission get what it should (solution full, blank 0, mistakes their parts)?"""
    course = tmp_path / "course"
    assert cli.main(["check", "mnist", "--keep", str(course), "--quiet"]) == 0, capsys.readouterr().out
    data_env = SandboxedExecute(config=load_config(course)).data_env
    assert set(data_env) in ({"ML4P_MNIST"}, {"ML4P_DIGITS"})  # the course says which data it graded on
