"""Set resource limits, optionally drop to an unprivileged uid, fill the work folder, exec a command.

The first process of a sandboxed kernel (see `sandbox.py`): it runs inside
bubblewrap, after the namespaces exist, so that RLIMIT_NPROC counts only this
sandbox's processes, and it must stay tiny (it is on every kernel's start path).
It runs as root inside (as root only CAP_SETUID, CAP_SETGID and CAP_CHOWN are
left), so it is started in isolated mode from its own read-only file and imports
the standard library alone: nothing in the submission can stand in for a module.

    python -I .../_limits.py --memory-mb 4096 --processes 256 --cpu-seconds 1800 \
        --file-size-mb 256 --home DIR [--uid U --gid G] [--populate SRC] --chdir DIR -- CMD ARG...

`--populate SRC` copies the (grader-made, regular) files of SRC into the work folder,
as the kernel's uid, after the limits are set.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys

_MB = 1 << 20
_CPU_GRACE_SECONDS = 5  # between SIGXCPU (soft limit) and SIGKILL (hard limit)


def _set(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY and os.geteuid() != 0:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    try:
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError) as error:
        if sys.platform.startswith("linux"):
            raise
        print(f"ml4p sandbox: resource limit {which} not set: {error}", file=sys.stderr)


def main(argv: list[str]) -> None:
    """Apply the `--name value` options up to `--`, then exec what follows."""
    split = argv.index("--")
    options = dict(zip(argv[0:split:2], argv[1:split:2]))
    command = argv[split + 1 :]
    if int(options["--memory-mb"]) >= 0:  # -1: a cgroup caps the memory (an accelerator's address space)
        _set(resource.RLIMIT_AS, int(options["--memory-mb"]) * _MB)
    cpu = int(options["--cpu-seconds"])
    _set(resource.RLIMIT_CPU, cpu, cpu + _CPU_GRACE_SECONDS)
    _set(resource.RLIMIT_FSIZE, int(options["--file-size-mb"]) * _MB)
    _set(resource.RLIMIT_CORE, 0)
    if int(options["--processes"]) >= 0:  # -1: leave alone
        _set(resource.RLIMIT_NPROC, int(options["--processes"]))
    if "--uid" in options:  # only as root: setuid drops every capability
        os.chown(options["--chdir"], int(options["--uid"]), int(options["--gid"]))  # the work folder
        os.setgroups([])
        os.setgid(int(options["--gid"]))
        os.setuid(int(options["--uid"]))
        if os.getuid() == 0 or os.geteuid() == 0:
            raise SystemExit("ml4p sandbox: could not drop root")
    os.chdir(options["--chdir"])  # after setuid: root without capabilities may not enter
    os.makedirs(options["--home"], mode=0o700, exist_ok=True)
    if "--populate" in options:
        shutil.copytree(options["--populate"], ".", dirs_exist_ok=True, symlinks=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
