"""The sandboxed kernel's entry point: ipykernel, with nothing of the submission run before it serves.

    python -I .../_kernel.py [--wait-for-owner DIR] -f CONNECTION_FILE

Runs inside the sandbox as the kernel's uid (see `sandbox.py`). Isolated mode (`-I`) keeps
the current folder, PYTHON* variables and the user's site packages off sys.path, so no
file of the submission (its folder is the cwd) can stand in for a module that Python or
ipykernel imports while starting. PYTHONPATH (the ml4p package's mount) is added by hand.

With `--wait-for-owner DIR`, the kernel binds its sockets, then waits until the grader has
taken DIR (its connection folder) from this uid; only then does it put the current folder
on sys.path, as IPython does for every kernel, and start answering requests. Student code
runs only from the first request on.
"""
from __future__ import annotations

import os
import sys
import time

_WAIT_SECONDS = 60.0


def main(argv: list[str]) -> None:
    wait_for = None
    if argv[:1] == ["--wait-for-owner"]:
        wait_for, argv = argv[1], argv[2:]
    for entry in reversed([e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e]):
        sys.path.insert(0, entry)
    sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))  # -I ignores the variable
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["--IPKernelApp.ignore_cwd=True", *argv])
    if wait_for is not None:
        deadline = time.monotonic() + _WAIT_SECONDS
        while os.stat(wait_for).st_uid == os.getuid():
            if time.monotonic() > deadline:
                raise SystemExit("ml4p sandbox: the grader never locked the connection folder")
            time.sleep(0.005)
    app.ignore_cwd = False
    app.init_path()
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
