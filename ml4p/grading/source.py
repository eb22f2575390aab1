"""Trusted functions turned into source text for the student's kernel.

The references and drivers of ``autograder/<a>/reference_tf.py`` are real functions, so that
editors, linters and tests see them; the kernel receives their source text, which
``kernel_source`` makes. The kernel runs each such text (``uses=`` of a proxy call) in a
fresh scope holding ``tf`` and ``np``, so those two are not defined by the text. The plugin
tells which parts a text reveals from its ``def <part>(`` and ``def _reference_<part>(``
lines, so names are changed on the syntax tree (a definition and every use of it), never by
text replacement.
"""
from __future__ import annotations

import ast
import builtins
import dis
import inspect
import textwrap
import types

#: The names the kernel's scope holds when it runs a trusted source.
KERNEL_NAMES = frozenset({"tf", "np"})


class _Rename(ast.NodeTransformer):
    """Renames definitions and the names that refer to them, as `rename` says."""

    def __init__(self, rename: dict[str, str]):
        self.rename = rename

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.rename.get(node.name, node.name)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.rename.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        if node.arg in self.rename:  # a parameter would shadow the renamed function
            raise ValueError(f"`{node.arg}` is renamed but is also a parameter: choose another name")
        return node


def kernel_source(*functions: types.FunctionType, rename: dict[str, str] | None = None) -> str:
    """Source text defining `functions` (and the module constants they read), for the kernel.

    Each function's source comes from ``inspect.getsource``; ``rename`` (e.g.
    ``{"energy": "_reference_energy"}``) renames definitions and every name referring to
    them. A module constant a function reads (a literal: number, string, tuple of those...)
    is written before the functions; any other global must be one of `functions`, one of
    ``KERNEL_NAMES`` or a builtin. Comments are lost; the text is the same on every call.
    """
    rename = dict(rename or {})
    for function in functions:
        _refuse_unless_module_level(function)
    defined = {function.__name__ for function in functions}
    constants = {}
    for function in functions:
        constants.update(_constants(function, defined))
    unknown = sorted(set(rename) - defined - set(constants))
    if unknown:
        raise ValueError(f"rename names {unknown}, which the source does not define")
    tree = ast.Module(body=[ast.parse(f"{name} = {value!r}").body[0]
                            for name, value in sorted(constants.items())], type_ignores=[])
    for function in functions:
        tree.body.extend(ast.parse(textwrap.dedent(inspect.getsource(function))).body)
    return ast.unparse(_Rename(rename).visit(tree)) + "\n"


def _student(name):
    """In the kernel: the notebook's function `name`, or a NameError saying what is missing.

    For drivers (``autograder/<a>/reference*.py``): import it and pass it to ``kernel_source``
    with them. Private, like every helper a trusted source defines besides what it installs.
    """
    from IPython import get_ipython
    value = get_ipython().user_ns.get(name)
    if not callable(value):
        raise NameError(f"`{name}` is not defined as a function: did its cell run without errors?")
    return value


def _refuse_unless_module_level(function) -> None:
    """Only a module-level ``def`` has a source text that defines it on its own."""
    if not isinstance(function, types.FunctionType) or function.__name__ == "<lambda>":
        raise TypeError(f"kernel_source takes functions defined with `def`, not {function!r}")
    if function.__code__.co_freevars:
        raise ValueError(f"`{function.__name__}` is a closure (it reads {function.__code__.co_freevars}): "
                         "only module-level functions have a source that runs on its own")


def _constants(function: types.FunctionType, defined: set[str]) -> dict[str, object]:
    """The module constants `function` reads; refuses any other global the kernel lacks."""
    found = {}
    for name in sorted(_globals_read(function.__code__) - defined - KERNEL_NAMES):
        if name not in function.__globals__:
            if hasattr(builtins, name):
                continue
            raise NameError(f"`{function.__name__}` reads `{name}`, which its module does not define")
        value = function.__globals__[name]
        if not _is_literal(value):
            raise ValueError(f"`{function.__name__}` reads the global `{name}`, which the kernel "
                             "lacks: pass it to kernel_source too, or make it a literal constant")
        found[name] = value
    return found


def _globals_read(code: types.CodeType) -> set[str]:
    """The global names `code` and the code nested in it (functions, lambdas) load."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _globals_read(constant)
    return names


def _is_literal(value: object) -> bool:
    """Whether ``repr(value)`` is Python source for an equal value (numbers, strings, tuples...)."""
    try:
        copy = ast.literal_eval(repr(value))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return type(copy) is type(value) and copy == value
