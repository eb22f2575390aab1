"""Does the threat model name tests that exist, so that each promise it makes stays shown?"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import ml4p.grading

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


def _modules_by_process(rows: list[str]) -> list[set[str]]:
    """Per row of a table, the module names in its last cell (not those its parentheses mention);
    a row with an empty first cell goes on with the row above it."""
    found: list[set[str]] = []
    for row in rows:
        cells = row.strip().strip("|").split("|")
        names = {name.removesuffix(".py")
                 for name in re.findall(r"`+([\w.]+)`+", re.sub(r"\([^)]*\)", "", cells[-1]))}
        if cells[0].strip() or not found:
            found.append(names)
        else:
            found[-1] |= names
    return found


def _tables() -> tuple[list[set[str]], list[set[str]]]:
    """Per process, the modules of the package's table (``__init__``) and of the threat model's."""
    package = ml4p.grading.__doc__.split("| --- | --- |")[1].strip().splitlines()
    model = THREAT_MODEL.read_text().split("## Who runs what")[1].split("\n## ")[0]
    model = model.split("| --- | --- | --- | --- |")[1].strip().splitlines()
    return _modules_by_process(package), _modules_by_process(model)


def test_both_tables_of_who_runs_what_name_every_module_alike():
    """Do ``ml4p/grading/__init__.py`` and the threat model put each module of the package in the
    same processes, and leave none out?"""
    package, model = _tables()
    assert package == model, "the two tables of which process runs what differ"
    modules = {path.stem for path in THREAT_MODEL.parent.glob("*.py")} - {"__init__"}
    named = set().union(*package)
    assert named == modules, f"named but not there: {sorted(named - modules)}; not named: {sorted(modules - named)}"
