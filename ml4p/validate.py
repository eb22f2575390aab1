"""`ml4p validate`: what a student runs before handing in (visible tests only).

It is nbgrader's validator: the notebook runs top to bottom in a fresh kernel
on the student's own machine, and failing visible tests or edited read-only
cells are reported. The hidden checks run only when the notebook is graded.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Validation:
    notebook: Path
    ok: bool
    report: str  # nbgrader's words: failing visible tests, edited read-only cells


def validate(notebook: Path | str, *, timeout: int = 600) -> Validation:
    """Run ``notebook`` in a fresh kernel and report what its visible tests say."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    path = Path(notebook).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    config = Config()
    config.Execute.timeout = timeout
    out = io.StringIO()
    validator = Validator(config=config)
    validator.stream = out
    results = validator.validate(str(path))
    ok = not any(results.get(k) for k in ("type_changed", "changed", "failed"))
    if ok:
        return Validation(path, True, f"{path.name}: every visible test passes.")
    _print(validator, results)
    return Validation(path, False, out.getvalue().strip())


def _print(validator, results: dict) -> None:
    if results.get("type_changed"):
        validator._print_num_type_changed(len(results["type_changed"]))
        for cell in results["type_changed"]:
            validator._print_type_changed(cell["old_type"], cell["new_type"], cell["source"])
    elif results.get("changed"):
        validator._print_num_changed(len(results["changed"]))
        for cell in results["changed"]:
            validator._print_changed(cell["source"])
    else:
        validator._print_num_failed(len(results["failed"]))
        for cell in results["failed"]:
            validator._print_error(cell["source"], cell["raw_error"])
