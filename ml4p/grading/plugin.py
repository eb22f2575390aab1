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
CONNECTION_ENV = "ML4P_KERNEL_CONNECTION"  # the sandboxed kernel's connection info (JSON), or a file's path
RESULTS_ENV = "ML4P_RESULTS"  # where this plugin writes the results (JSON)
CALL_TIMEOUT_ENV = "ML4P_CALL_TIMEOUT"  # seconds one call of a student function may take

MAX_MESSAGE = 400  # characters of a failure message kept for feedback
NOT_RUN = "not run"  # the message of a check the run never reached


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
    config._ml4p_results = {}  # nodeid -> CheckResult as a dict, in collection order
    config._ml4p_done = set()  # nodeids whose outcome is recorded


@pytest.fixture(scope="session")
def student():
    """The submission's functions, called in its sandboxed kernel, results as data."""
    from ml4p.grading.proxy import KernelProxy

    connection = os.environ.get(CONNECTION_ENV)
    if not connection:
        pytest.fail(f"{CONNECTION_ENV} is not set: hidden checks run under `ml4p autograde`")
    timeout = float(os.environ.get(CALL_TIMEOUT_ENV) or 60)
    proxy = KernelProxy(json.loads(connection) if connection.lstrip().startswith("{") else connection,
                        timeout=timeout)
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


def pytest_collection_finish(session):
    """Every check is recorded as failed ("not run") until it runs: a run stopped at its
    time limit, or killed, then scores the checks it never reached as 0, not as absent."""
    results = session.config._ml4p_results
    for item in session.items:
        results[item.nodeid] = asdict(CheckResult(part=part_of(item), name=check_name(item),
                                                  points=points_of(item), passed=False, message=NOT_RUN))
    _write(results)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    done = item.config._ml4p_done
    if item.nodeid in done:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        done.add(item.nodeid)
        passed = report.outcome == "passed"
        item.config._ml4p_results[item.nodeid] = asdict(CheckResult(
            part=part_of(item), name=check_name(item), points=points_of(item), passed=passed,
            message="" if passed or call.excinfo is None else failure_message(call.excinfo),
            seconds=round(call.duration, 3),
        ))
        _write(item.config._ml4p_results)  # after every check: what a stopped run found is kept


def pytest_sessionfinish(session):
    _write(getattr(session.config, "_ml4p_results", {}))


def _write(results: dict[str, dict]) -> None:
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    records = list(results.values())
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    tmp.replace(path)
