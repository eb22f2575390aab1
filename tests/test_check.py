"""`ml4p check --combined`: how the known mistakes are packed into shared submissions.

The packed submissions are graded by the slow tests of every assignment
(``test_assignments.py::test_ml4p_check_passes``); here, without grading, the packing itself.
"""
from __future__ import annotations

import pytest

from ml4p.check import _functions, pack_mistakes
from ml4p.course import materials_root
from ml4p.grading.submissions import Mistake, load_mistakes

ROOT = materials_root()
ASSIGNMENTS = sorted(p.name for p in (ROOT / "autograder").iterdir() if (p / "mistakes").is_dir())


def mistake(name, loses, functions, degenerate=()):
    source = "\n\n".join(f"def {f}(x):\n    return x" for f in functions)
    return Mistake(name, tuple(loses), f'"""{name}"""\nLOSES = {tuple(loses)!r}\n\n{source}\n', functions[0],
                   tuple(degenerate))


def test_groups_share_no_part_and_no_function():
    mistakes = [
        mistake("everything", ["a", "b", "c"], ["fa", "fb", "fc"], degenerate=["a", "b", "c"]),
        mistake("a1", ["a"], ["fa"]),
        mistake("a2", ["a"], ["fa"]),
        mistake("b1", ["b"], ["fb"]),
        mistake("c1", ["c"], ["fc"]),
        mistake("helper_b", ["b"], ["fb", "helper"]),
        mistake("helper_c", ["c"], ["fc", "helper"]),  # shares a function with helper_b, not a part
    ]
    groups = pack_mistakes(mistakes)
    assert [[m.name for m in g] for g in groups] == [
        ["everything"], ["a1", "b1", "c1"], ["a2", "helper_b"], ["helper_c"]]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_known_mistake_is_packed_once_and_alone_on_its_parts(assignment):
    mistakes = load_mistakes(ROOT / "autograder", assignment)
    groups = pack_mistakes(mistakes)
    assert sorted(m.name for g in groups for m in g) == sorted(m.name for m in mistakes)
    for group in groups:
        parts = [p for m in group for p in m.loses]
        functions = [f for m in group for f in _functions(m)]
        assert len(parts) == len(set(parts)), f"two mistakes of one part share a submission: {group}"
        assert len(functions) == len(set(functions)), f"two mistakes replace one function: {group}"
    assert len(groups) < len(mistakes) or len(mistakes) <= 2, "packing saved nothing"
