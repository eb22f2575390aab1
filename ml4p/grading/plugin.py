"""The pytest plugin that the hidden checks run under, in the trusted process.

It provides the ``student`` fixture (a data-only proxy to the functions in the
submission's sandboxed kernel), the ``rng`` fixture (seeded from the test's
name), the ``points`` marker, and writes one JSON record per check: part
(the module ``test_<part>.py``), name, points, passed, and a short message
that never contains the check's source.

Two rules keep a grade honest (``docs/authoring.md``, "Checks a degenerate answer cannot pass"):

* ``@pytest.mark.points(0.5, given="test_matches_reference")``: a check that a constant or
  an echoed answer passes by itself (an invariance, "a batch equals one at a time", a dtype)
  counts only when every instance of the named checks of its part passed too
  (``checks.part_reports`` applies it, in the grader);
* order: the checks run part by part in the notebook's order (``ML4P_PART_ORDER``, given by
  the grader), and ``student.call`` refuses to ship into the kernel the reference of a part
  that is not graded before the part under test. Everything sent into the kernel can be read
  there by the student's code (its caller's frame, ``gc``), so a reference is only sent once
  the part it answers has its grade: stealing it then buys nothing.
"""
from __future__ import annotations

import functools
import json
import os
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytest

#: Environment variables the grader sets for the checks' process.
CONNECTION_ENV = "ML4P_KERNEL_CONNECTION"  # the sandboxed kernel's connection info (JSON), or a file's path
RESULTS_ENV = "ML4P_RESULTS"  # where this plugin writes the results (JSON)
CALL_TIMEOUT_ENV = "ML4P_CALL_TIMEOUT"  # seconds one call of a student function may take
ORDER_ENV = "ML4P_PART_ORDER"  # JSON list: the parts in the notebook's order (their hidden-check cells)

#: Functions of the checks that need no kernel, computed while the notebook still runs (``ahead``).
AHEAD: list = []

MAX_MESSAGE = 400  # characters of a failure message kept for feedback
NOT_RUN = "not run"  # the message of a check the run never reached


def ahead(function):
    """Decorate a checks module's function that needs no kernel (an oracle's long run, reference
    data): it is cached, and ml4p's checks process calls it once while the notebook still executes
    (``_checks_process``, before it waits for the kernel), so that the fixture calling it later gets
    its value at once. It takes no arguments. An exception is not cached: the fixture's own call
    raises it again, where the checks report it. Running ahead moves the time, it does not hide
    any: the notebook's kernel and this work share the machine."""
    cached = functools.cache(function)
    AHEAD.append(cached)
    return cached


def compute_ahead() -> None:
    """Call every ``ahead`` function of the collected checks (errors are left for the checks)."""
    for compute in AHEAD:
        try:
            compute()
        except Exception:  # noqa: BLE001 - raised again by the fixture that needs it
            pass


@dataclass
class CheckResult:
    part: str  # the graded part: grade id of the notebook's hidden-check cell
    name: str  # what the check asks, from the test's docstring
    points: float  # what the check is worth
    passed: bool
    message: str = ""  # why it failed, in words a student can act on
    seconds: float = 0.0  # its setup (a module fixture's first use included) and its call
    test: str = ""  # the test function's name (all its parametrisations share it)
    given: list[str] = field(default_factory=list)  # test functions that must pass for this one to count
    title: str = ""  # the name without its parameters


class GraderError(Exception):
    """The check itself is wrong (an authoring mistake), not the student's code."""


def points(value: float, given: str | tuple[str, ...] = ()):
    """Decorator form of ``@pytest.mark.points(value, given=...)``."""
    return pytest.mark.points(value, given=given)


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n, given=()): what a hidden check is worth; with `given` "
                            "(test function names of its module), only if those pass too")
    config._ml4p_results = {}  # nodeid -> CheckResult as a dict, in collection order
    config._ml4p_done = set()  # nodeids whose outcome is recorded
    config._ml4p_order = []  # the parts, in the order they are graded
    config._ml4p_current = None  # the part whose check runs now


@pytest.fixture(scope="session")
def student(request):
    """The submission's functions, called in its sandboxed kernel, results as data."""
    from ml4p.grading.proxy import KernelProxy

    connection = os.environ.get(CONNECTION_ENV)
    if not connection:
        pytest.fail(f"{CONNECTION_ENV} is not set: hidden checks run under `ml4p autograde`")
    timeout = float(os.environ.get(CALL_TIMEOUT_ENV) or 60)
    proxy = KernelProxy(json.loads(connection) if connection.lstrip().startswith("{") else connection,
                        timeout=timeout)
    yield OrderedStudent(proxy, request.config)
    proxy.close()


class OrderedStudent:
    """The kernel proxy, refusing calls that would ship the reference of a part not yet graded.

    A source sent into the kernel *reveals* part Q when a ``uses`` key is Q, or when it
    defines ``Q`` or ``_reference_Q`` (the convention of ``reference_tf.py``). The check of
    part P may reveal only parts graded before P.
    """

    def __init__(self, proxy, config):
        self._proxy = proxy
        self._config = config

    @property
    def last_output(self) -> str:
        return self._proxy.last_output

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return functools.partial(self.call, name)

    def defined(self, name: str) -> bool:
        return self._proxy.defined(name)

    def call(self, name: str, *args, uses=None, timeout=None, **kwargs):
        self.screen(uses or {}, (args, tuple(kwargs.values())))
        return self._proxy.call(name, *args, uses=uses, timeout=timeout, **kwargs)

    def screen(self, uses, arguments) -> None:
        from ml4p.grading.proxy import _kernel_sources

        order, current = self._config._ml4p_order, self._config._ml4p_current
        if current not in order:
            return
        earlier = set(order[: order.index(current)])
        sources = [*uses.values(), *_kernel_sources(arguments)]
        revealed = revealed_parts(uses.keys(), sources, set(order))
        later = sorted(revealed - earlier)
        if later:
            raise GraderError(
                f"this check of `{current}` would send into the kernel the reference of "
                f"{', '.join(f'`{p}`' for p in later)}, which is not graded before `{current}` "
                "(student code could take it and use it there)")


def revealed_parts(keys, sources, parts: set[str]) -> set[str]:
    """The parts whose reference the names ``keys`` and the source texts ``sources`` give away."""
    found = {k for k in keys if k in parts}
    if parts:
        names = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
        pattern = re.compile(rf"^\s*def\s+(?:_reference_)?({names})\s*\(", re.MULTILINE)
        for source in sources:
            found.update(pattern.findall(source))
    return found


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the check's name: reproducible, different per check."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def part_of(item) -> str:
    stem = Path(str(item.fspath)).stem
    return stem[len("test_"):] if stem.startswith("test_") else stem


def check_title(item) -> str:
    doc = (getattr(item, "function", None).__doc__ or "").strip() if hasattr(item, "function") else ""
    return doc.splitlines()[0] if doc else test_of(item)


def check_name(item) -> str:
    name = check_title(item)
    if getattr(item, "callspec", None) is not None:
        name = f"{name} [{item.callspec.id}]"
    return name


def points_of(item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 0.0


def given_of(item) -> list[str]:
    marker = item.get_closest_marker("points")
    given = marker.kwargs.get("given", ()) if marker else ()
    return [given] if isinstance(given, str) else list(given)


def test_of(item) -> str:
    return getattr(item, "originalname", None) or item.name


def _record(item, **fields) -> dict:
    return asdict(CheckResult(part=part_of(item), name=check_name(item), points=points_of(item),
                              test=test_of(item), given=given_of(item), title=check_title(item), **fields))


def pytest_collection_modifyitems(session, config, items):
    """The parts in the notebook's order (stable: a module's checks keep theirs)."""
    try:
        order = [str(p) for p in json.loads(os.environ.get(ORDER_ENV) or "[]")]
    except (ValueError, TypeError):
        order = []
    rank = {part: i for i, part in enumerate(order)}
    items.sort(key=lambda item: rank.get(part_of(item), len(rank)))
    config._ml4p_order = list(dict.fromkeys(part_of(item) for item in items))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    item.config._ml4p_current = part_of(item)


def failure_message(excinfo) -> str:
    """A short message from the exception alone: no traceback, no source lines."""
    exc = excinfo.value
    if any(c.__name__ == "StudentError" for c in type(exc).__mro__):  # ml4p.grading.proxy
        text = f"your code failed when the check called it: {exc}"
    elif isinstance(exc, AssertionError):
        text = str(exc).strip() or "a check failed"
        if text.startswith("assert "):  # pytest's introspection would show the check's source
            text = "a check failed"
    elif isinstance(exc, GraderError):
        text = f"grader error: {exc}"
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
    tests = {}  # part -> the test functions it has
    for item in session.items:
        tests.setdefault(part_of(item), set()).add(test_of(item))
    for item in session.items:
        unknown = [g for g in given_of(item) if g not in tests[part_of(item)]]
        message = f"grader error: `given` names no check of this part: {', '.join(unknown)}" if unknown else NOT_RUN
        results[item.nodeid] = _record(item, passed=False, message=message)
        if unknown:
            session.config._ml4p_done.add(item.nodeid)
    _write(results)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    done = item.config._ml4p_done
    if item.nodeid in done:
        return
    if report.when == "setup":  # its fixtures' first use: counted in the check's time
        item._ml4p_setup_seconds = call.duration
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        done.add(item.nodeid)
        passed = report.outcome == "passed"
        item.config._ml4p_results[item.nodeid] = _record(
            item, passed=passed, message="" if passed or call.excinfo is None else failure_message(call.excinfo),
            seconds=round(call.duration + (getattr(item, "_ml4p_setup_seconds", 0.0) if report.when == "call" else 0), 3))
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
