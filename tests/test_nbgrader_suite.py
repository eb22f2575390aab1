"""A smoke test of scripts/nbgrader_suite.py: nbgrader's own tests, graded through ml4p (a few of them).

The whole run (59 tests, ~4 min) is `python scripts/nbgrader_suite.py`; its result is in the README.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ml4p.grading import sandbox

SCRIPT = Path(__file__).parents[1] / "scripts" / "nbgrader_suite.py"
# the exploit ml4p fixed, one kernelspec refusal, nbgrader's variable, and the documented difference
SELECTED = "showtraceback_exploit or missing_source_kernelspec or validating_envvar or side_effects"


@pytest.mark.skipif(not sandbox.isolation_available(), reason="bubblewrap unavailable")
def test_nbgraders_own_tests_pass_through_ml4p():
    """Do nbgrader's own autograde tests pass with ml4p's execution step swapped in (ml4p executing the
    notebooks), with `test_side_effects` failing as documented?"""
    run = subprocess.run([sys.executable, str(SCRIPT), "-k", SELECTED], capture_output=True, text=True, timeout=600)
    summary = run.stdout[run.stdout.index("nbgrader's tests with ml4p's execution step"):]
    assert run.returncode == 0, summary
    assert "3 passed, 1 failed" in summary, summary
    assert "test_side_effects: failed (a documented difference" in summary, summary
    executed = int(summary.split("ml4p executed ")[1].split()[0])
    assert executed >= 8, summary  # showtraceback alone hands ml4p four notebooks


def test_the_verdict_flags_what_it_must():
    """Does the script's verdict fail on an unexpected failure, on a documented difference that passes,
    and when ml4p executed nothing, and pass otherwise?"""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import nbgrader_suite as suite
    finally:
        sys.path.remove(str(SCRIPT.parent))
    ok = {"T::test_a": "passed", "T::test_side_effects": "failed", "T::test_b": "skipped"}
    assert suite.verdict(ok, executed=3)[0]
    assert not suite.verdict({**ok, "T::test_c": "failed"}, executed=3)[0]
    assert not suite.verdict({**ok, "T::test_side_effects": "passed"}, executed=3)[0]
    assert not suite.verdict(ok, executed=0)[0]
