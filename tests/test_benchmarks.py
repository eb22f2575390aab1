"""Smoke tests: each benchmark runs at tiny size, so that none can rot."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


@pytest.mark.slow
def test_hidden_checks_benchmark_prints_its_table():
    """Does the hidden-check timing run once and report the solution at full marks?"""
    import hidden_checks

    table = hidden_checks.main(["--assignment", "coulomb_gas", "--repeat", "1"])
    row = table.splitlines()[-1]
    assert row.startswith("| coulomb_gas |") and row.endswith("| yes |")
