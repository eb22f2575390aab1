"""nbgrader's own test suite, with ml4p's execution step in place of nbgrader's ``Execute``.

Runs ``test_nbgrader_autograde.py``, ``test_nbgrader_generate_feedback.py`` and
``test_nbgrader_export.py`` of the installed nbgrader (0.9.6), as a peer would: a
user-level ``nbgrader_config.py`` (on ``JUPYTER_CONFIG_PATH``, which nbgrader's tests keep)
sets ml4p's ``autograde_preprocessors()`` and ``sanitize_preprocessors()``, so every
notebook those tests autograde runs in ml4p's sandbox. Each execution is counted, so the
run shows that ml4p did the work rather than nbgrader's ``Execute``.

The differences ml4p keeps on purpose are listed in ``DIFFERENCES`` with their reason;
the script exits 0 when every other test passes, each listed one fails, and ml4p executed
notebooks. ``-k EXPR`` selects tests as pytest does (the smoke test runs a few)::

    python scripts/nbgrader_suite.py            # all three files: ~10 min on 2 cores
    python scripts/nbgrader_suite.py -k "grade or timeout"
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

FILES = ("test_nbgrader_autograde.py", "test_nbgrader_generate_feedback.py", "test_nbgrader_export.py")

#: nbgrader tests that fail with ml4p by design: test name -> why (also in the README's nbgrader section).
DIFFERENCES = {
    "test_side_effects": "the sandbox runs a submission on a private copy of its files: what the notebook "
                         "writes stays in the sandbox and never reaches autograded/ (nor the TA's disk)",
}

CONFIG = '''\
# Written by ml4p's scripts/nbgrader_suite.py: nbgrader's tests, graded through ml4p.
import os

from ml4p.grading.execute import SandboxedExecute, autograde_preprocessors
from ml4p.grading.restore import sanitize_preprocessors


class CountedExecute(SandboxedExecute):
    """ml4p's execution step, counting the notebooks it is handed."""

    def preprocess(self, nb, resources):
        with open({counter!r}, "a") as fh:
            fh.write(resources["nbgrader"]["student"] + "/" + resources["nbgrader"]["notebook"] + "\\n")
        return super().preprocess(nb, resources)


c = get_config()  # noqa: F821
c.Autograde.autograde_preprocessors = [CountedExecute if p is SandboxedExecute else p
                                       for p in autograde_preprocessors()]
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
'''


def nbgrader_tests() -> Path:
    import nbgrader

    folder = Path(nbgrader.__file__).parent / "tests" / "apps"
    if not (folder / FILES[0]).is_file():
        raise SystemExit(f"nbgrader's tests are not installed with nbgrader (looked in {folder})")
    return folder


def run(select: str | None, junit: Path, counter: Path, config_dir: Path) -> int:
    (config_dir / "nbgrader_config.py").write_text(CONFIG.format(counter=str(counter)))
    env = {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(
        [str(config_dir), *filter(None, [os.environ.get("JUPYTER_CONFIG_PATH")])])}
    folder = nbgrader_tests()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
               "--rootdir", str(folder), *(str(folder / f) for f in FILES)]
    if select:
        command += ["-k", select]
    return subprocess.call(command, env=env, cwd=tempfile.gettempdir())


def outcomes(junit: Path) -> dict[str, str]:
    """test name -> passed / failed / skipped, from pytest's JUnit XML."""
    found = {}
    for case in ET.parse(junit).iter("testcase"):
        kinds = {child.tag for child in case}
        found[f"{case.get('classname').rsplit('.', 1)[-1]}::{case.get('name')}"] = (
            "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed")
    return found


def verdict(found: dict[str, str], executed: int) -> tuple[bool, list[str]]:
    lines, ok = [], executed > 0
    unexpected = []
    for name, outcome in sorted(found.items()):
        short = name.split("::")[-1]
        if short in DIFFERENCES:
            lines.append(f"  {name}: {outcome} (a documented difference: {DIFFERENCES[short]})")
            if outcome == "passed":
                unexpected.append(f"{name} passes: remove it from DIFFERENCES and from the README")
        elif outcome == "failed":
            unexpected.append(f"{name} fails")
    counts = {kind: sum(o == kind for o in found.values()) for kind in ("passed", "failed", "skipped")}
    lines.insert(0, f"nbgrader's tests with ml4p's execution step: {counts['passed']} passed, "
                    f"{counts['failed']} failed, {counts['skipped']} skipped; ml4p executed {executed} notebooks")
    if executed == 0:
        unexpected.append("ml4p executed no notebook: the configuration did not take effect")
    lines += [f"  UNEXPECTED: {u}" for u in unexpected]
    return ok and not unexpected, lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="select", help="pytest's -k expression: run only these tests")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ml4p-nbgrader-suite-") as tmp:
        tmp = Path(tmp)
        counter, junit = tmp / "executed.txt", tmp / "junit.xml"
        counter.touch()
        started = time.monotonic()
        run(args.select, junit, counter, tmp)
        if not junit.is_file():
            print("pytest wrote no results", file=sys.stderr)
            return 2
        ok, lines = verdict(outcomes(junit), len(counter.read_text().splitlines()))
    print("\n".join(lines))
    print(f"({time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
