"""Does the threat model name tests that exist, so that each promise it makes stays shown?"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import ml4p

THREAT_MODEL = Path(ml4p.__file__).parent / "grading" / "THREAT_MODEL.md"
TESTS = Path(__file__).resolve().parents[1]


def test_every_test_the_threat_model_names_exists():
    """Is each `file.py::test_name` (and each test file) the threat model cites a test in this suite?"""
    text = THREAT_MODEL.read_text()
    cited = re.findall(r"`(test_\w+\.py)(?:::(test_\w+))?`", text)
    assert len(cited) >= 10, "the threat model should cite the tests that show it"
    defined: dict[str, set[str]] = {}
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        defined.setdefault(path.name, set()).update(
            node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))
    missing = [f"{file}::{name}" if name else file for file, name in cited
               if file not in defined or (name and name not in defined[file])]
    assert missing == []
