"""Run an assignment's hidden checks in a trusted pytest process and report per part.

The checks live in ``<checks_dir>/<assignment>/test_<part>.py`` (instructor
only); ``<part>`` is the grade id of the notebook's hidden-check cell. They run
in a separate process, so a check that hangs or crashes cannot take the grader
with it, and they reach the student's kernel only through the connection info that the
grader's kernel manager holds (never a file the kernel could have rewritten).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.v4 import new_output

from ml4p.grading.plugin import CALL_TIMEOUT_ENV, CONNECTION_ENV, NOT_RUN, ORDER_ENV, RESULTS_ENV, CheckResult

#: Mimetype of the structured check results kept beside the score in a hidden-check cell's output.
CHECKS_MIME = "application/vnd.ml4p.checks+json"


def parts_with_checks(checks_dir: Path, assignment: str) -> set[str]:
    """The parts of ``assignment`` that have hidden checks."""
    folder = Path(checks_dir) / assignment
    return {p.stem[len("test_"):] for p in folder.glob("test_*.py")}


def part_order(checks_dir: Path, assignment: str) -> list[str]:
    """The parts in the order they are graded: that of their hidden-check cells in the instructor's
    source notebook (``<course>/source/<a>/*.ipynb``, beside ``<course>/autograder``), never the
    submission's (a student could move cells); parts it lacks, and every part where there is no
    source notebook, follow in file order.

    Later parts build on earlier ones, and a check ships the reference of a part into the
    kernel only once that part is graded (``plugin.OrderedStudent``).
    """
    import nbformat

    parts = sorted(parts_with_checks(checks_dir, assignment))
    order: list[str] = []
    for path in sorted((Path(checks_dir).parent / "source" / assignment).glob("*.ipynb")):
        try:
            cells = nbformat.read(path, as_version=4).cells
        except (OSError, ValueError):
            continue
        for cell in cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in parts and grade_id not in order:
                order.append(grade_id)
    return order + [p for p in parts if p not in order]


@dataclass
class PartReport:
    part: str
    max_points: float  # the points of the notebook's hidden-check cell
    checks: list[CheckResult] = field(default_factory=list)
    error: str = ""  # why the checks could not run at all

    @property
    def check_points(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def score(self) -> float:
        """The cell's points, shared among the checks by their weights."""
        if self.error or not self.checks or self.check_points <= 0:
            return 0.0
        passed = sum(c.points for c in self.checks if c.passed)
        return round(self.max_points * passed / self.check_points, 4)

    def text(self) -> str:
        lines = [f"Hidden checks for `{self.part}`: {_fmt(self.score)} / {_fmt(self.max_points)} points"]
        if self.error:
            lines.append(f"  ✗ {self.error}")
        scale = self.max_points / self.check_points if self.check_points > 0 else 0.0
        for c in self.checks:
            mark = "✓" if c.passed else "✗"
            got = c.points * scale if c.passed else 0.0
            lines.append(f"  {mark} {c.name}  [{_fmt(got)}/{_fmt(c.points * scale)}]")
            if c.message:
                lines.append(f"      {c.message}")
        return "\n".join(lines) + "\n"

    def summary(self) -> dict:
        """What feedback and exports read back from the autograded notebook (no hidden source)."""
        scale = self.max_points / self.check_points if self.check_points > 0 else 0.0
        return {"part": self.part, "score": self.score, "max_score": self.max_points, "error": self.error,
                "checks": [{"name": c.name, "score": round(c.points * scale, 4) if c.passed else 0.0,
                            "max_score": round(c.points * scale, 4), "passed": c.passed, "message": c.message}
                           for c in self.checks]}

    def outputs(self) -> list:
        """The cell outputs nbgrader reads: the report, then the score as partial credit."""
        return [
            new_output("stream", name="stdout", text=self.text()),
            new_output("execute_result", execution_count=None, data={
                "text/plain": _fmt(self.score),
                CHECKS_MIME: self.summary(),
            }),
        ]


def _fmt(x: float) -> str:
    return f"{x:g}"


def run_checks(checks_dir: Path, assignment: str, connection: str | dict | None, *,
               solutions_dir: Path | None = None, timeout: float = 600.0, call_timeout: float = 60.0,
               threads: int = 1, env: dict[str, str] | None = None, order: list[str] | None = None
               ) -> tuple[list[CheckResult], str]:
    """Run the hidden checks of ``assignment`` against the kernel at ``connection``.

    ``connection``: the kernel's connection info (a dict, as ``execute.connection_info`` gives
    it) or a connection file's path (for a kernel whose files the caller trusts).

    ``timeout``: seconds for all checks together (checks that finished by then keep their
    results); ``call_timeout``: seconds for one call of a student function. ``env``: extra
    variables for the checks (where the data is). ``order``: the parts in the notebook's
    order, the order they are graded in (default: the test files' order). Returns the results
    and, if the run itself failed, a short reason.
    """
    with ChecksProcess(checks_dir, assignment, solutions_dir=solutions_dir, call_timeout=call_timeout,
                       threads=threads, env=env, order=order) as checks:
        return checks.run(connection, timeout=timeout)


class ChecksProcess:
    """The hidden checks' trusted pytest process, started before the kernel is ready.

    Starting Python and pytest, importing the checks and the oracle and collecting them
    takes a while and needs no kernel, so it happens while the notebook still executes;
    ``run`` then hands the process the kernel's connection info and waits for the results.
    Leaving the ``with`` block without ``run`` stops the process before any check ran.

        with ChecksProcess(checks_dir, "coulomb_gas", solutions_dir=...) as checks:
            ...  # execute the notebook
            results, error = checks.run(connection_info(km), timeout=600)
    """

    def __init__(self, checks_dir: Path, assignment: str, *, solutions_dir: Path | None = None,
                 call_timeout: float = 60.0, threads: int = 1, env: dict[str, str] | None = None,
                 order: list[str] | None = None):
        checks_dir = Path(checks_dir).resolve()
        self._tmp = tempfile.TemporaryDirectory(prefix="ml4p-checks-")
        tmp = Path(self._tmp.name)
        self.results_path = tmp / "results.json"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}, **(env or {})}
        env.pop(CONNECTION_ENV, None)  # given by run(), once there is a kernel
        env[RESULTS_ENV] = str(self.results_path)
        env[CALL_TIMEOUT_ENV] = f"{call_timeout:g}"
        env[ORDER_ENV] = json.dumps(list(order or []))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        # Only the plugins the checks need (ml4p's, named by autograder/conftest.py): not every pytest
        # plugin installed here (hypothesis, anyio, ...), each imported and configured for nothing.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env["OMP_NUM_THREADS"] = str(threads)
        paths = [str(Path(solutions_dir).resolve().parent)] if solutions_dir else []
        env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        cmd = [sys.executable, "-m", "ml4p.grading._checks_process", str(checks_dir / assignment),
               "--rootdir", str(checks_dir), "-o", "addopts=", "-o", "testpaths=",
               "-p", "no:cacheprovider", "-p", "no:unraisableexception", "--assert=plain", "-q", "--no-header", "-rN", "--tb=no"]
        self._output = open(tmp / "output.txt", "w+")  # a file, not a pipe: no pipe can fill up and block it
        self._proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdin=subprocess.PIPE, stdout=self._output,
                                      stderr=subprocess.STDOUT, text=True)

    def __enter__(self) -> ChecksProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def run(self, connection: str | dict | None, *, timeout: float = 600.0) -> tuple[list[CheckResult], str]:
        """Run the checks against the kernel at ``connection`` (info or file); at most ``timeout`` seconds."""
        proc = self._proc
        try:
            proc.stdin.write(json.dumps({"connection": connection or ""}) + "\n")
            proc.stdin.close()
        except OSError:  # it has ended already (it could not even collect the checks)
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._stop()
            return _stopped(_read(self.results_path), f"the hidden checks did not finish within {timeout:g} s")
        results = _read(self.results_path)
        if proc.returncode not in (0, 1) or not results:
            self._output.seek(0)
            tail = self._output.read().strip().splitlines()[-3:]
            return _stopped(results, "the hidden checks could not run (grader error: " + " | ".join(tail) + ")")
        return results, ""

    def _stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def close(self) -> None:
        """Stop the process (if it still runs) and remove its files."""
        self._stop()
        self._output.close()
        self._tmp.cleanup()


def _read(path: Path) -> list[CheckResult]:
    try:
        return [CheckResult(**r) for r in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []


def _stopped(results: list[CheckResult], error: str) -> tuple[list[CheckResult], str]:
    """A run that ended early: the checks it never reached say why."""
    for r in results:
        if not r.passed and r.message == NOT_RUN:
            r.message = f"{NOT_RUN}: {error}"
    return results, error


def part_reports(parts: dict[str, float], results: list[CheckResult], error: str = "") -> dict[str, PartReport]:
    """Group results by part; a part without results gets ``error`` (or says it has no checks).

    A check with ``given`` counts as passed only if every check of its part from the test
    functions it names passed too (a constant answer passes an invariance on its own).
    """
    reports = {part: PartReport(part, pts) for part, pts in parts.items()}
    for r in results:
        if r.part in reports:
            reports[r.part].checks.append(r)
    for rep in reports.values():
        if not rep.checks:
            rep.error = error or "no hidden checks ran for this part"
        _apply_given(rep.checks)
    return reports


def _apply_given(checks: list[CheckResult]) -> None:
    by_test: dict[str, list[CheckResult]] = {}
    for c in checks:
        by_test.setdefault(c.test, []).append(c)
    for c in checks:
        if not (c.passed and c.given):
            continue
        missing = [g for g in c.given if not by_test.get(g) or not all(x.passed for x in by_test[g])]
        if missing:
            names = "; ".join(f"“{by_test[g][0].title or by_test[g][0].name}”" if by_test.get(g) else g
                              for g in missing)
            c.passed = False
            c.message = (f"this holds, but it counts only together with {names}, which failed "
                         "(a constant or echoed answer would pass it alone)")
