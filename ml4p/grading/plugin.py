"""The pytest plugin that the hidden checks run under, in the trusted process.

It provides the ``student`` fixture (a data-only proxy to the functions in the
submission's sandboxed kernel), the ``rng`` fixture (seeded from the test's
name), the ``points`` marker, and writes one JSON record per check: part
(the module ``test_<part>.py``), name, points, passed, and a short message
that never contains the check's source.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest

#: Environment variables the grader sets for the checks' process.
CONNECTION_ENV = "ML4P_KERNEL_CONNECTION"  # the sandboxed kernel's connection file
RESULTS_ENV = "ML4P_RESULTS"  # where this plugin writes the results (JSON)

MAX_MESSAGE = 400  # characters of a failure message kept for feedback


@dataclass
class CheckResult:
    part: str  # the graded part: grade id of the notebook's hidden-check cell
    name: str  # what the check asks, from the test's docstring
    points: float  # what the check is worth
    passed: bool
    message: str = ""  # why it failed, in words a student can act on
    seconds: float = 0.0


def points(value: float):
    """Decorator form of ``@pytest.mark.points(value)``."""
    return pytest.mark.points(value)


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): what a hidden check is worth")
    config._ml4p_results = []


@pytest.fixture(scope="session")
def student():
    """The submission's functions, called in its sandboxed kernel, results as data."""
    from ml4p.grading.proxy import KernelProxy

    connection = os.environ.get(CONNECTION_ENV)
    if not connection:
        pytest.fail(f"{CONNECTION_ENV} is not set: hidden checks run under `ml4p autograde`")
    proxy = KernelProxy(connection)
    yield proxy
    proxy.close()


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the check's name: reproducible, different per check."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def part_of(item) -> str:
    stem = Path(str(item.fspath)).stem
    return stem[len("test_"):] if stem.startswith("test_") else stem


def check_name(item) -> str:
    doc = (getattr(item, "function", None).__doc__ or "").strip() if hasattr(item, "function") else ""
    name = doc.splitlines()[0] if doc else item.name
    if getattr(item, "callspec", None) is not None:
        name = f"{name} [{item.callspec.id}]"
    return name


def points_of(item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 0.0


def failure_message(excinfo) -> str:
    """A short message from the exception alone: no traceback, no source lines."""
    exc = excinfo.value
    if any(c.__name__ == "StudentError" for c in type(exc).__mro__):  # ml4p.grading.proxy
        text = f"your code failed when the check called it: {exc}"
    elif isinstance(exc, AssertionError):
        text = str(exc).strip() or "a check failed"
        if text.startswith("assert "):  # pytest's introspection would show the check's source
            text = "a check failed"
    elif excinfo.typename == "Failed":
        text = str(exc).strip()
    else:
        text = f"{excinfo.typename}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    results = item.config._ml4p_results
    first = not any(r.get("_nodeid") == item.nodeid for r in results)
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        if not first:
            return
        passed = report.outcome == "passed"
        record = asdict(CheckResult(
            part=part_of(item), name=check_name(item), points=points_of(item), passed=passed,
            message="" if passed or call.excinfo is None else failure_message(call.excinfo),
            seconds=round(call.duration, 3),
        ))
        record["_nodeid"] = item.nodeid
        results.append(record)


def pytest_sessionfinish(session):
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    records = [{k: v for k, v in r.items() if k != "_nodeid"}
               for r in getattr(session.config, "_ml4p_results", [])]
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    tmp.replace(path)
