"""Smoke tests: each benchmark runs at tiny size on the toy assignment, so that none can rot."""
import sys
from pathlib import Path

from toy import A, write_materials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def test_hidden_checks_benchmark_prints_its_table(tmp_path):
    """Does the hidden-check timing run once and report the solution at full marks?"""
    import hidden_checks

    materials = write_materials(tmp_path / "materials")
    table = hidden_checks.main(["--assignment", A, "--repeat", "1", "--materials", str(materials)])
    row = table.splitlines()[-1]
    assert row.startswith(f"| {A} |") and row.endswith("| yes |")


def test_autograde_class_benchmark_prints_its_table(tmp_path):
    """Does the class benchmark run at two students and report every ratio and full marks?"""
    import autograde_class

    materials = write_materials(tmp_path / "materials")
    table = autograde_class.main(["--assignment", A, "--students", "2", "--memory-runs", "2",
                                  "--materials", str(materials)])
    lines = table.splitlines()
    assert len(lines) == 9 and "| True, True | |" in lines[-1]
