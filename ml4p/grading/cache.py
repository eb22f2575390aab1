"""What ml4p keeps in ``<course>/.ml4p/`` between runs, so that a killed run resumes.

    .ml4p/executed/<assignment>/<student>/<notebook>.json   executed cells, keyed by what ran
    .ml4p/graded/<assignment>/<student>                     recorded in the gradebook (a time stamp)
    .ml4p/failed/<assignment>/<student>.txt                 why it could not be graded

An execution is kept under a hash of every cell's type and source and of the hidden checks
(``execution_key``): it is used again only for exactly that notebook, checked by exactly
those checks. An execution is written whole or not at all.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import nbformat

from ml4p.grading.checks import part_order

CACHE_DIR = Path(".ml4p") / "executed"  # inside the course
_GRADED_DIR = Path(".ml4p") / "graded"
_FAILED_DIR = Path(".ml4p") / "failed"


def checks_fingerprint(checks_dir: Path, assignment: str, solutions_dir: Path | None) -> str:
    """A hash of the hidden checks, the order they grade the parts in, and the oracle: a change to
    any invalidates the cache."""
    h = hashlib.sha256()
    h.update(json.dumps(part_order(checks_dir, assignment)).encode())
    files = sorted((Path(checks_dir) / assignment).rglob("*.py"))
    files += [Path(checks_dir) / "conftest.py"]
    if solutions_dir:
        files.append(Path(solutions_dir) / f"{assignment}.py")
    for f in files:
        if f.is_file():
            h.update(str(f.relative_to(f.parents[1])).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def execution_key(nb, fingerprint: str) -> str:
    """What determines an execution's outcome: every cell's type and source, and the checks."""
    h = hashlib.sha256(fingerprint.encode())
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    return h.hexdigest()


def cache_file(course: Path, assignment: str, student: str, notebook: str | None = None) -> Path:
    """Where one notebook's execution is kept (an ml4p assignment has one notebook, named as it is)."""
    return Path(course) / CACHE_DIR / assignment / student / f"{notebook or assignment}.json"


def store(path: Path, key: str, nb, seconds: float) -> None:
    """Write the executed cells atomically: a reader sees the whole entry or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"key": key, "seconds": round(seconds, 2),
             "outputs": [c.get("outputs", []) for c in nb.cells],
             "execution_counts": [c.get("execution_count") for c in nb.cells]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry))
    os.replace(tmp, path)


def load(path: Path, key: str):
    """The cached outputs for this exact notebook, or None."""
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if entry.get("key") != key:
        return None
    counts = entry.get("execution_counts") or [None] * len(entry["outputs"])
    return [(nbformat.from_dict(o), n) for o, n in zip(entry["outputs"], counts)]


def apply(nb, executed) -> None:
    """Put a cached execution (``load``'s (outputs, execution count) per cell) into ``nb``."""
    for cell, (outputs, count) in zip(nb.cells, executed):
        if cell.cell_type == "code":
            cell.outputs = outputs
            cell.execution_count = count


def graded_marker(root: Path, assignment: str, student: str) -> Path:
    """Present once a submission's grades are in the gradebook; its time is when they were recorded."""
    return root / _GRADED_DIR / assignment / student


def failure_file(root: Path, assignment: str, student: str) -> Path:
    """Why a submission could not be graded (absent when it was)."""
    return root / _FAILED_DIR / assignment / f"{student}.txt"


def graded(root: Path, assignment: str, student: str) -> bool:
    """Graded by an earlier run, after the student's latest submission?"""
    marker = graded_marker(root, assignment, student)
    submitted = root / "submitted" / student / assignment / f"{assignment}.ipynb"
    return marker.is_file() and submitted.is_file() and marker.stat().st_mtime >= submitted.stat().st_mtime


def record(root: Path, assignment: str, student: str, error: str) -> None:
    """Mark a submission graded, or record why it failed (then it is retried next run)."""
    marker, failed = graded_marker(root, assignment, student), failure_file(root, assignment, student)
    target, other = (failed, marker) if error else (marker, failed)
    other.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(error or time.strftime("%Y-%m-%d %H:%M:%S"))
