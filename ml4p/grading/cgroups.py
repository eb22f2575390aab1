"""One Linux cgroup per sandbox: a CPU, memory and process share for the whole group.

Threat model. Student code may start many processes and threads, and each of
them may spin or allocate. The rlimits that `_limits.py` sets are per process
(RLIMIT_AS: address space, RLIMIT_CPU: CPU seconds) or per uid (RLIMIT_NPROC),
so they bound a fork bomb and one runaway process, but not a *group* of busy
processes: 48 spinning processes, each within its limits, take every core and
starve the neighbouring sandbox on the same machine. A cgroup bounds the sum:

    cpus          CPU time per wall second of all its tasks (CFS bandwidth:
                  v1 cpu.cfs_quota_us / cpu.cfs_period_us, v2 cpu.max)
    memory_bytes  resident memory + page cache + tmpfs pages charged to the
                  group, and no swap beyond it; over it the kernel's OOM killer
                  SIGKILLs a task of the group (v1 memory.limit_in_bytes and
                  memory.memsw.limit_in_bytes, v2 memory.max, memory.swap.max=0)
    pids          processes + threads alive at once (pids.max)

Groups are created under the grader's *own* cgroup of each controller (read
from /proc/self/cgroup), as `<own>/ml4p/<name>`, so that limits placed on the
grader by its host still apply to the sandboxes. cgroup v1 (one hierarchy per
controller, as on this project's CI) is supported fully; cgroup v2 only where
cpu, memory and pids are delegated to the grader's cgroup (listed in, or can be
enabled in, its cgroup.subtree_control). Where neither works (not Linux, not
root, no hierarchy, `ML4P_CGROUPS=off`), `sandbox_group` returns None and the
sandbox relies on rlimits only: a group of busy processes can then still take
all cores. `ML4P_CGROUPS=require` makes that an error instead.

The sandbox joins its group through `SandboxGroup.wrap`: a tiny shell writes
its own pid into cgroup.procs, then execs the real command (bwrap ...), so
every process of the sandbox is born inside. Moving a process later would not
do: in v1 its children forked before the move stay in the old group. If the
join fails, the wrapper exits 97 rather than run the sandbox unbounded.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CGROUPS_ENV = "ML4P_CGROUPS"  # "off": never; "require": cgroups or error; unset: auto
CGROUP_ROOT = Path("/sys/fs/cgroup")
JOIN_FAILED = 97  # exit status of a wrapped command that could not join its group
_CONTROLLERS = ("cpu", "memory", "pids")
_PERIOD_US = 100_000  # CFS bandwidth period: quota is granted per 0.1 s
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_KILL_SECONDS = 5.0  # how long close() keeps killing and retrying rmdir


class CgroupError(RuntimeError):
    """A sandbox cgroup could not be created, joined or removed."""


@dataclass(frozen=True)
class Share:
    """What one sandbox may use, all its processes together."""

    cpus: float  # CPU seconds per wall second (1.0 = one core)
    memory_bytes: int  # resident memory + page cache + tmpfs, bytes; no swap beyond it
    pids: int  # processes + threads alive at once


@dataclass(frozen=True)
class Layout:
    """Where the grader's own cgroups are: the parents of its sandbox groups."""

    version: int  # 1: one hierarchy per controller, 2: unified hierarchy
    parents: Mapping[str, Path]  # controller -> the grader's own cgroup directory
    to_enable: tuple[str, ...] = ()  # v2: controllers to add to the parent's subtree_control


def find_layout(proc_self_cgroup: str, root: Path = CGROUP_ROOT) -> Layout | str:
    """The grader's cgroup directories per controller, or a one-line reason why not.

    `proc_self_cgroup` is the text of /proc/self/cgroup ("ID:controllers:path"
    lines); `root` is where the hierarchies are mounted. Reads files, writes none.
    """
    own: dict[str, tuple[str, str]] = {}  # controller ("" for v2) -> (hierarchy id, path)
    for line in proc_self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                own[controller] = (parts[0], parts[2])
    if (root / "cgroup.controllers").is_file():  # unified (v2 only) hierarchy
        if "" not in own:
            return "cgroup v2 is mounted but /proc/self/cgroup has no v2 line"
        parent = _below(root, own[""][1])
        if parent is None or not parent.is_dir():
            return f"own cgroup v2 directory for {own[''][1]!r} not found under {root}"
        available = _words(parent / "cgroup.controllers")
        enabled = _words(parent / "cgroup.subtree_control")
        missing = [c for c in _CONTROLLERS if c not in available]
        if missing:
            return f"cgroup v2 controllers {' '.join(missing)} not delegated to {parent}"
        to_enable = tuple(c for c in _CONTROLLERS if c not in enabled)
        return Layout(2, {c: parent for c in _CONTROLLERS}, to_enable)
    parents: dict[str, Path] = {}
    by_hierarchy: dict[str, Path] = {}  # co-mounted controllers (cpu,cpuacct) share a directory
    for controller in _CONTROLLERS:
        if controller not in own or not (root / controller).is_dir():
            return f"cgroup v1 controller {controller} is not mounted at {root / controller}"
        hierarchy, path = own[controller]
        parent = by_hierarchy.get(hierarchy) or _below(root / controller, path)
        if parent is None or not parent.is_dir():
            return f"own cgroup v1 directory for {controller}:{path} not found under {root}"
        parents[controller] = by_hierarchy[hierarchy] = parent
    return Layout(1, parents)


def _below(mount: Path, path: str) -> Path | None:
    parts = [p for p in path.split("/") if p]
    return None if ".." in parts or "." in parts else mount.joinpath(*parts)


def _words(path: Path) -> set[str]:
    return set(path.read_text().split()) if path.is_file() else set()


def _write(path: Path, value: object) -> None:
    try:
        path.write_text(f"{value}\n")
    except OSError as error:
        raise CgroupError(f"cannot write {value!r} to {path}: {error.strerror}") from error


@functools.cache
def _layout() -> Layout | str:
    if not sys.platform.startswith("linux"):
        return "cgroups need Linux"
    try:
        layout = find_layout(Path("/proc/self/cgroup").read_text())
    except OSError as error:
        return f"cannot read /proc/self/cgroup: {error.strerror}"
    if isinstance(layout, Layout) and layout.to_enable:
        parent = layout.parents["cpu"]
        try:
            _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in layout.to_enable))
        except CgroupError as error:  # typically EBUSY: the grader itself lives in `parent`
            return f"cgroup v2 controllers cannot be enabled: {error}"
    return layout


def _mode() -> str:
    mode = os.environ.get(CGROUPS_ENV, "auto").strip().lower() or "auto"
    if mode not in {"auto", "off", "require"}:
        raise ValueError(f"{CGROUPS_ENV}={mode!r}: expected 'off', 'require' or unset")
    return mode


@functools.cache
def _probe() -> str:
    layout = _layout()
    if isinstance(layout, str):
        return layout
    smallest = Share(cpus=0.01, memory_bytes=64 << 20, pids=16)  # fits any outer limit
    try:
        SandboxGroup(f"probe-{os.getpid()}-{time.monotonic_ns()}", smallest).close()
    except CgroupError as error:
        return f"{'not root: ' if os.geteuid() != 0 else ''}{error}"
    return ""


def unavailable_reason() -> str:
    """"" when sandbox cgroups can be used here, else a one-line reason (probed once)."""
    return f"{CGROUPS_ENV}=off" if _mode() == "off" else _probe()


def _join_command(procs_files: Sequence[Path], command: Sequence[str]) -> list[str]:
    """`command`, run by a shell that first writes its own pid into each file."""
    if not command:
        raise ValueError("empty command")
    joins = "".join(
        f"echo $$ > {shlex.quote(str(f))} || "
        f"{{ echo 'ml4p cgroups: cannot join '{shlex.quote(str(f))} >&2; exit {JOIN_FAILED}; }}; "
        for f in procs_files
    )
    return ["/bin/sh", "-c", joins + 'exec "$@"', "ml4p-cgroup", *command]


class SandboxGroup:
    """One cgroup (v1: one directory per controller; v2: one directory) holding one sandbox."""

    def __init__(self, name: str, share: Share) -> None:
        """Create `<own cgroup>/ml4p/<name>` with `share`; CgroupError if impossible."""
        if not _NAME.fullmatch(name) or name in {".", ".."}:
            raise ValueError(f"cgroup name {name!r}: expected [A-Za-z0-9_.-]+")
        if share.cpus <= 0 or share.memory_bytes <= 0 or share.pids <= 0:
            raise ValueError(f"{share}: every share must be positive")
        layout = _layout()
        if isinstance(layout, str):
            raise CgroupError(layout)
        self.name, self.share, self._version = name, share, layout.version
        self._made: list[Path] = []  # group directories this object created, still present
        self._dirs = {c: p / "ml4p" / name for c, p in layout.parents.items()}
        try:
            for group in dict.fromkeys(self._dirs.values()):  # unique, in order
                self._make(group)
            self._configure(share)
        except BaseException:
            self.close()
            raise

    def _make(self, group: Path) -> None:
        for attempt in range(3):  # another grader may rmdir an empty `ml4p` meanwhile
            try:
                group.parent.mkdir(exist_ok=True)
                if self._version == 2:
                    (group.parent / "cgroup.subtree_control").write_text("+cpu +memory +pids\n")
                group.mkdir()
                self._made.append(group)
                return
            except FileNotFoundError:
                if attempt == 2:
                    raise CgroupError(f"cannot create {group}: parent keeps disappearing") from None
            except OSError as error:
                raise CgroupError(f"cannot create {group}: {error.strerror}") from error

    def _configure(self, share: Share) -> None:
        quota = max(1000, round(share.cpus * _PERIOD_US))  # the kernel's minimum is 1 ms
        cpu, memory, pids = self._dirs["cpu"], self._dirs["memory"], self._dirs["pids"]
        if self._version == 1:
            _write(cpu / "cpu.cfs_period_us", _PERIOD_US)
            _write(cpu / "cpu.cfs_quota_us", quota)
            _write(memory / "memory.limit_in_bytes", share.memory_bytes)
            if (memory / "memory.memsw.limit_in_bytes").exists():  # must not be below the limit
                _write(memory / "memory.memsw.limit_in_bytes", share.memory_bytes)
        else:
            _write(cpu / "cpu.max", f"{quota} {_PERIOD_US}")
            _write(memory / "memory.max", share.memory_bytes)
            if (memory / "memory.swap.max").exists():
                _write(memory / "memory.swap.max", 0)
        _write(pids / "pids.max", share.pids)

    def wrap(self, command: Sequence[str]) -> list[str]:
        """`command`, run by a shell that first joins this group (exit 97 if it cannot)."""
        return _join_command([d / "cgroup.procs" for d in dict.fromkeys(self._dirs.values())], command)

    def memory_peak_bytes(self) -> int | None:
        """The most memory the group has used so far, in bytes (None where not reported)."""
        name = "memory.max_usage_in_bytes" if self._version == 1 else "memory.peak"
        try:
            return int((self._dirs["memory"] / name).read_text())
        except (OSError, ValueError):
            return None

    def _tasks(self) -> set[int]:
        tasks: set[int] = set()
        for group in self._made:
            with contextlib.suppress(OSError):
                tasks.update(int(pid) for pid in (group / "cgroup.procs").read_text().split())
        return tasks

    def _kill(self, tasks: set[int]) -> None:
        pidfds = {}  # a pidfd pins its process: no stray kill if a pid is reused meanwhile
        for pid in tasks:
            with contextlib.suppress(OSError):
                pidfds[pid] = os.pidfd_open(pid)
        still_inside = self._tasks()
        for pid, fd in pidfds.items():
            with contextlib.suppress(OSError):
                if pid in still_inside:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
            os.close(fd)

    def close(self) -> None:
        """SIGKILL every task of the group, then remove the directories made. Idempotent."""
        if self._dirs["pids"] in self._made:  # no more forks while we kill
            with contextlib.suppress(OSError):
                (self._dirs["pids"] / "pids.max").write_text("0\n")
        deadline = time.monotonic() + _KILL_SECONDS
        while (tasks := self._tasks()) and time.monotonic() < deadline:
            self._kill(tasks)
            time.sleep(0.01)
        while self._made:
            try:
                os.rmdir(self._made[-1])  # rmdir never follows a symlink
            except FileNotFoundError:
                pass
            except OSError as error:
                if error.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise CgroupError(f"cannot remove {self._made[-1]}: {error.strerror}") from error
                time.sleep(0.01)
                continue
            with contextlib.suppress(OSError):
                os.rmdir(self._made.pop().parent)  # the shared `ml4p` folder, once empty

    def __enter__(self) -> SandboxGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def sandbox_group(name: str, share: Share) -> SandboxGroup | None:
    """A new group for one sandbox, or None where cgroups are unavailable (see module doc)."""
    reason = unavailable_reason()
    if not reason:
        return SandboxGroup(name, share)
    if _mode() == "require":
        raise CgroupError(f"{CGROUPS_ENV}=require but cgroups are unavailable: {reason}")
    return None


def remove_stale(prefix: str, alive: Callable[[str], bool]) -> list[str]:
    """Remove the empty groups `ml4p/<prefix>*` whose owner `alive(name)` says is gone.

    A grader killed before it cleaned up (kill -9) leaves its groups behind; a group that
    still holds tasks is left alone (rmdir fails). Returns the names removed.
    """
    layout = _layout()
    if isinstance(layout, str):
        return []
    removed = []
    for parent in dict.fromkeys(layout.parents.values()):
        for group in sorted((parent / "ml4p").glob(f"{prefix}*")):
            if group.is_dir() and not group.is_symlink() and not alive(group.name):
                with contextlib.suppress(OSError):
                    os.rmdir(group)
                    removed.append(group.name)
    return removed
