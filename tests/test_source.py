"""Do trusted functions become source text that runs on its own in the kernel's scope?

``kernel_source`` turns real functions into the text a check ships with ``uses=``; each
assignment's ``reference_tf.py`` is built with it, so each of its texts must define what
its ``uses`` key installs and read nothing the kernel's fresh scope (``tf``, ``np``) lacks.
"""
from __future__ import annotations

import ast
import builtins
import dis
import functools
import importlib.util
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from ml4p.course import materials_root
from ml4p.grading.source import kernel_source

ROOT = materials_root()
SCALE = 3.0
OPTIONS = {"steps": 2}


def energy(x):
    return SCALE * np.sum(x**2)


def forces(x):
    return -2 * SCALE * np.asarray(x) * energy(x) / energy(x)


def nested(x):
    def inner(y):
        return energy(y) + sum(energy(v) for v in y)

    return inner(x) + min(x, key=lambda v: -energy(v))


def reads_options():
    return OPTIONS["steps"]


def with_parameter(energy):
    return energy


def run(source: str) -> dict:
    """The scope the kernel gives a trusted source, after running it."""
    scope = {"tf": None, "np": np}
    exec(compile(source, "<kernel source>", "exec"), scope)
    return scope


def defined_names(source: str) -> set[str]:
    """The names the source's top-level ``def`` statements define."""
    return {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def test_rename_reaches_definitions_and_calls():
    """Is the renamed function defined and called under its new name only, with the same result?"""
    text = kernel_source(energy, forces, rename={"energy": "_reference_energy"})
    scope = run(text)
    assert defined_names(text) == {"_reference_energy", "forces"}
    assert "energy" not in {node.id for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Name)}
    x = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(scope["forces"](x), forces(x))


def test_rename_reaches_nested_functions_lambdas_and_generators():
    """Does a rename reach the calls inside a nested def, a lambda and a generator expression?"""
    text = kernel_source(energy, nested, rename={"energy": "_reference_energy"})
    scope = run(text)
    x = np.arange(4.0)
    assert scope["nested"](x) == nested(x)
    assert "energy" not in scope


def test_module_constants_are_written_into_the_text():
    """Does a function reading a module constant run in a scope that lacks the module?"""
    text = kernel_source(energy, reads_options)
    assert run(text)["energy"](np.ones(2)) == energy(np.ones(2))
    assert run(text)["reads_options"]() == 2
    assert {node.targets[0].id for node in ast.parse(text).body if isinstance(node, ast.Assign)} == {
        "SCALE", "OPTIONS"}


def test_output_is_deterministic_across_processes(tmp_path):
    """Is the text the same on every call, whatever the interpreter's hash seed?"""
    module = tmp_path / "references.py"
    module.write_text(textwrap.dedent('''
        B = (1, "two")
        A = {"x": 1.5}

        def f(x):
            return A["x"] * x + len(B) + g(x)

        def g(x):
            return x
    '''))
    program = ("import sys; sys.path.insert(0, sys.argv[1]); import references as r; "
               "from ml4p.grading.source import kernel_source; "
               "print(kernel_source(r.g, r.f, rename={'g': '_reference_g'}), end='')")
    texts = {subprocess.run([sys.executable, "-c", program, str(tmp_path)], check=True, capture_output=True,
                            text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
             for seed in ("1", "2", "3")}
    assert len(texts) == 1
    assert run(texts.pop())["f"](2.0) == 1.5 * 2.0 + 2 + 2.0


@pytest.mark.parametrize("thing", [lambda x: x, len, functools.partial(energy), "def f(): pass", int])
def test_refuses_what_is_not_a_def_function(thing):
    """Is a lambda, a builtin, a partial, a string or a class refused with a clear error?"""
    with pytest.raises(TypeError, match="functions defined with `def`"):
        kernel_source(thing)


def test_refuses_a_closure():
    """Is a function that reads its enclosing function's variables refused (its text cannot run alone)?"""
    scale = 2.0

    def closure(x):
        return scale * x

    with pytest.raises(ValueError, match="closure"):
        kernel_source(closure)


def test_refuses_a_global_the_kernel_lacks(tmp_path):
    """Are a function not passed along, a module object and an undefined name refused, by name?"""
    with pytest.raises(ValueError, match="global `energy`"):
        kernel_source(forces)
    module = tmp_path / "globals_read.py"
    module.write_text("import os\n\ndef uses_os():\n    return os.sep\n\ndef undefined():\n    return missing\n")
    spec = importlib.util.spec_from_file_location("globals_read", module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    with pytest.raises(ValueError, match="global `os`"):
        kernel_source(loaded.uses_os)
    with pytest.raises(NameError, match="`missing`"):
        kernel_source(loaded.undefined)


def test_refuses_a_rename_that_cannot_hold():
    """Is a rename of a name the text does not define, or of a parameter, refused?"""
    with pytest.raises(ValueError, match="does not define"):
        kernel_source(energy, rename={"enrgy": "_reference_energy"})
    with pytest.raises(ValueError, match="parameter"):
        kernel_source(energy, with_parameter, rename={"energy": "_reference_energy"})


# ------------------------------------------------------------------ the assignments' references

#: Reference functions a source defines besides the name its `uses` key installs (the
#: grader refuses to ship one before its part is graded, from these names).
ALSO_DEFINED = {
    ("coulomb_gas", "gradient_descent", "forces"): {"_reference_energy"},
    ("mnist", "train", "_ml4p_driver"): {"_reference_preprocess"},
    ("mnist", "dream", "_ml4p_driver"): {"_reference_build_model"},
}


def references(assignment: str) -> types.ModuleType:
    """``autograder/<assignment>/reference_tf.py``, imported under a name of its own."""
    path = ROOT / "autograder" / assignment / "reference_tf.py"
    spec = importlib.util.spec_from_file_location(f"reference_tf_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def globals_read(code: types.CodeType) -> set[str]:
    """The global names `code` and the code objects nested in it load."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
    return names.union(*(globals_read(c) for c in code.co_consts if isinstance(c, types.CodeType)))


@pytest.mark.parametrize("assignment", ["coulomb_gas", "mnist", "tuning"])
def test_reference_sources_run_alone_and_define_what_they_install(assignment):
    """Does every `uses` source compile, define the name it installs and only private helpers
    besides the references listed, and read no global the kernel's scope lacks?"""
    uses = references(assignment).USES
    assert uses
    for part, sources in uses.items():
        for installed, source in sources.items():
            scope = run(source)
            assert callable(scope.get(installed)), (part, installed)
            extra = defined_names(source) - {installed}
            also = ALSO_DEFINED.get((assignment, part, installed), set())
            assert also <= extra, (part, installed)
            helpers = extra - also
            assert all(h.startswith("_") and not h.startswith("_reference_") for h in helpers), helpers
            for name in defined_names(source):
                missing = {g for g in globals_read(scope[name].__code__)
                           if g not in scope and not hasattr(builtins, g)}
                assert not missing, (part, installed, name, missing)
