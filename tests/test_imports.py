"""Is there an import circle among ml4p's modules?

Every import counts, at the top of a module or inside a function: an import moved into
a function still ties the two modules together, it only hides the circle until run time.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ml4p

PACKAGE = Path(ml4p.__file__).parent


def module_name(path: Path, package: Path) -> str:
    """``ml4p/grading/batch.py`` -> ``ml4p.grading.batch``; a package's ``__init__.py`` is the package."""
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.Module, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports anywhere in its ``tree``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package, `level - 1` steps up
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return {name for name in found if name in known and name != module}


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, for every ``.py`` file under ``package``."""
    paths = {module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    return {name: imported(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py", set(paths))
            for name, path in paths.items()}


def import_cycles(package: Path) -> list[list[str]]:
    """One circle, as ``[a, b, ..., a]``, for each group of modules that import each other."""
    graph = import_graph(package)
    reach = {name: _reachable(graph, name) for name in graph}
    cycles, done = [], set()
    for start in sorted(graph):
        if start in reach[start] and start not in done:
            cycles.append(_shortest_circle(graph, start))
            done.update(name for name in reach[start] if start in reach[name])
    return cycles


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules that ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def _shortest_circle(graph: dict[str, set[str]], start: str) -> list[str]:
    """The shortest chain of imports from ``start`` back to itself (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for name in frontier:
            for target in sorted(graph[name]):
                if target == start:
                    chain = [name]
                    while chain[-1] != start:
                        chain.append(previous[chain[-1]])
                    return [*reversed(chain), start]
                if target not in previous:
                    previous[target] = name
                    following.append(target)
        frontier = following
    raise ValueError(f"{start} is on no circle")


def assert_no_cycles(package: Path) -> None:
    """Fail, naming each circle, if the modules of ``package`` import each other in one."""
    cycles = import_cycles(package)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_ml4p_has_no_import_circle():
    """Does any module of ml4p import, directly or through others, itself?"""
    assert len(import_graph(PACKAGE)) > 20, "the graph misses ml4p's modules"
    assert_no_cycles(PACKAGE)


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_circle_hidden_in_a_function_is_found_and_named(tmp_path):
    """Does the check see a circle closed by an import inside a function, through a third module?"""
    package = _package(tmp_path, {
        "__init__.py": "",
        "sub/__init__.py": "",
        "sub/a.py": "from pkg.sub import b\n",
        "sub/b.py": "import pkg.c\n",
        "c.py": "def f():\n    from .sub.a import g\n",
        "d.py": "from pkg import c\n",  # imports into the circle, is not part of it
    })
    assert import_cycles(package) == [["pkg.c", "pkg.sub.a", "pkg.sub.b", "pkg.c"]]
    with pytest.raises(AssertionError, match="pkg.c -> pkg.sub.a -> pkg.sub.b -> pkg.c"):
        assert_no_cycles(package)


def test_a_tree_of_imports_is_no_circle(tmp_path):
    """Do imports that only fan out (relative ones too) pass?"""
    package = _package(tmp_path, {
        "__init__.py": "",
        "sub/__init__.py": "from . import a\n",
        "sub/a.py": "from .. import c\nimport pkg.d\n",
        "c.py": "import pkg.d\n",
        "d.py": "import os\n",
    })
    assert import_graph(package)["pkg.sub.a"] == {"pkg", "pkg.c", "pkg.d"}  # `from .. import c`: pkg too
    assert import_cycles(package) == []
