"""The hidden checks' pytest process, started before there is a kernel to check.

    python -m ml4p.grading._checks_process PYTEST-ARGUMENT...

It does everything that needs no kernel first (start Python, import pytest, the
proxy and the checks, collect them, compute what the checks marked ``ahead``) while
the notebook is still executing, then
waits for one line on stdin: JSON ``{"connection": INFO}`` starts the checks
against the kernel that ``INFO`` (the connection info, or a connection file's path) names; anything else (EOF: the grader is gone, or has
no kernel to offer) ends the process without running them.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

from ml4p.grading.plugin import CONNECTION_ENV

#: Exit status when told not to run the checks.
NOT_STARTED = 5  # pytest's own "no tests collected"


class WaitForKernel:
    """Holds the run between collection and the first check until the grader says go."""

    def __init__(self, go) -> None:
        self.go = go  # the grader's end: a copy of stdin taken before pytest captures it

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        import ml4p.grading.proxy  # noqa: F401 - jupyter_client and zmq, imported while waiting
        from ml4p.grading.plugin import compute_ahead

        compute_ahead()  # the checks' work that needs no kernel, while the notebook runs
        with self.go:
            line = self.go.readline()
        try:
            connection = json.loads(line)["connection"]
        except (ValueError, TypeError, KeyError):
            connection = None
        if isinstance(connection, dict):
            connection = json.dumps(connection)
        if not isinstance(connection, str):
            pytest.exit("ml4p: no kernel to check", returncode=NOT_STARTED)
        os.environ[CONNECTION_ENV] = connection


def main(argv: list[str]) -> int:
    go = os.fdopen(os.dup(sys.stdin.fileno()), encoding="utf-8")
    return int(pytest.main(argv, plugins=[WaitForKernel(go)]))


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # The results are on disk (the plugin writes them after every check). Tearing down an interpreter
    # that holds TensorFlow and the oracles takes a second or more that nobody waits for: skip it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
