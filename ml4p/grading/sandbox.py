"""A sandboxed Jupyter kernel for untrusted submissions.

The kernel runs inside bubblewrap: no network, a read-only system (only what Python
needs), no course files, a minimal environment, resource limits, and size-capped
memory filesystems as the only places it can write. It talks to the grader over
Jupyter's `ipc` transport: unix sockets in a connection folder bound at the same
absolute path inside, so the connection file reads the same on both sides.

    km = sandboxed_kernel_manager(root, files=staging, limits=Limits(cpu_seconds=600))
    client = NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(km.workdir)}})
    with client.setup_kernel():
        ...
    await km.shutdown_kernel(now=True)

`root` is an empty private folder the caller made; the manager lays it out as

    root/kernel/   connection file and ipc sockets: the kernel's uid may create its sockets
                   there until they exist, then the folder is root's (read-only inside)
    root/work      the kernel's cwd: inside the sandbox a tmpfs of `Limits.disk_mb`, filled
                   with a copy of `files` (a grader-made copy of the submission, bound
                   read-only) before the kernel starts; on the host an empty folder

`root` itself is never writable by the kernel, so it cannot rename `kernel/` and leave a
link in its place; the grader hands the checks the connection info it holds, never a
path to read back. $HOME is fresh (`/tmp/ml4p-home`), /tmp and /dev/shm are tmpfs of
`Limits.tmp_mb` each: everything the kernel writes is bounded, and none of it lands on
the host's disk.

Nothing of the submission runs before the connection folder is locked: the launcher
(`_limits.py`) and the kernel (`_kernel.py`) start in Python's isolated mode (no current
folder, no PYTHON* variables, no user site on sys.path), so a submitted `resource.py`,
`zmq.py` or `ml4p/` is never imported in their place, and the kernel puts its cwd on
sys.path only once the folder is root's.

When the grader runs as root, the kernel runs as a throwaway uid (one per kernel, so
RLIMIT_NPROC contains a fork bomb per sandbox). Where the host offers cgroups, the whole
sandbox is also one cgroup with its share of CPU, memory and processes (`cgroups.py`).

Without a working bubblewrap (macOS laptops) or with `ML4P_SANDBOX=none`, the kernel is
still a separate process with the limits and the minimal environment in `root/work` (a
host folder then), but sees the whole filesystem and network: callers print
`ISOLATION_WARNING`. `ML4P_SANDBOX=bwrap` makes a missing bubblewrap an error.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

import ml4p
from ml4p.grading import cgroups

ISOLATION_WARNING = (
    "WARNING: bubblewrap is unavailable: student code runs WITHOUT filesystem or "
    "network isolation (only rlimits and a minimal environment)."
)

SANDBOX_ENV = "ML4P_SANDBOX"  # "none": no bubblewrap; "bwrap": bubblewrap or error; unset: auto
PACKAGE_MOUNT = Path("/opt/ml4p")  # the ml4p package appears at PACKAGE_MOUNT/ml4p inside
_SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc")
_UID_BASE = 1 << 29  # throwaway uids: _UID_BASE + (grader pid << 8) + kernel counter
_uid_counter = itertools.count()
_MAX_SOCKET_PATH = 100  # sun_path holds 107 bytes; keep a margin for "-<port>"
_SOCKET_WAIT_SECONDS = 60.0  # how long the kernel may take to bind its sockets
_GROUP_TASKS = 8  # processes of the sandbox beside the kernel's own (sh, bwrap, its init) in its cgroup


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel."""

    memory_mb: int = 4096  # RLIMIT_AS (virtual memory): importing TensorFlow takes ~1.5 GB of it
    processes: int = 256  # RLIMIT_NPROC: processes + threads the kernel may run at once
    cpu_seconds: int = 1800  # RLIMIT_CPU: CPU time of the kernel, all threads together
    file_size_mb: int = 256  # RLIMIT_FSIZE: largest file the kernel may write
    threads: int = 2  # OMP_NUM_THREADS / TF_NUM_*_THREADS inside the kernel
    disk_mb: int = 1024  # size of the work folder (a tmpfs: host memory, not disk)
    tmp_mb: int = 512  # size of /tmp and of /dev/shm, each (tmpfs)

    @property
    def filesystems_mb(self) -> int:
        """Host memory the sandbox's files may take at most: work folder, /tmp, /dev/shm."""
        return self.disk_mb + 2 * self.tmp_mb


def _mode() -> str:
    mode = os.environ.get(SANDBOX_ENV, "auto").strip().lower() or "auto"
    if mode not in {"auto", "none", "bwrap"}:
        raise ValueError(f"{SANDBOX_ENV}={mode!r}: expected 'none', 'bwrap' or unset")
    return mode


@functools.cache
def _bwrap_works() -> bool:
    """Probe once whether bubblewrap can create the namespaces the sandbox uses."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid",
             "--unshare-ipc", "--unshare-uts", "--proc", "/proc", "--dev", "/dev",
             "--die-with-parent", "--new-session", "true"]  # fmt: skip
    try:
        result = subprocess.run(probe, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def isolation_available() -> bool:
    """Will new kernels run inside bubblewrap (filesystem and network isolation)?"""
    mode = _mode()
    if mode == "none":
        return False
    if mode == "bwrap" and not _bwrap_works():
        raise RuntimeError(f"{SANDBOX_ENV}=bwrap but bubblewrap does not work here")
    return _bwrap_works()


def _is_within(path: Path, parents: Sequence[Path]) -> bool:
    return any(path == p or p in path.parents for p in parents)


class _Mounts:
    """bwrap arguments that mount directories, creating their parents (0755) first."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.existing: list[Path] = [Path("/")]  # directories that exist inside
        self.from_host: list[Path] = []  # bound host directories: their contents exist inside

    def _parents(self, dest: Path) -> None:
        for parent in reversed(dest.parents):
            if parent not in self.existing and not _is_within(parent, self.from_host):
                self.args += ["--perms", "0755", "--dir", str(parent)]
                self.existing.append(parent)

    def bind(self, src: Path, dest: Path | None = None, *, writable: bool = False) -> None:
        dest = src if dest is None else dest
        if _is_within(dest, self.from_host):
            return  # already visible through an enclosing bind
        self._parents(dest)
        self.args += ["--bind" if writable else "--ro-bind", str(src), str(dest)]
        self.existing.append(dest)
        self.from_host.append(dest)

    def symlink(self, target: str, dest: str) -> None:
        self.args += ["--symlink", target, dest]
        self.existing.append(Path(dest))

    def special(self, option: str, dest: str, perms: str | None = None, size_mb: int | None = None) -> None:
        """A fresh filesystem (`--proc`, `--dev`, `--tmpfs` of `size_mb`) at `dest`."""
        self._parents(Path(dest))
        self.args += ["--perms", perms] if perms else []
        self.args += ["--size", str(size_mb << 20)] if size_mb else []
        self.args += [option, str(dest)]
        self.existing.append(Path(dest))


def _python_dirs() -> list[tuple[Path, Path]]:
    """(host directory, path inside) of the Python installation, outermost first.

    Bound at their real paths, and also at the paths Python knows them by
    when those go through a symlink (a venv's prefix, say).
    """
    paths = [sys.base_prefix, sys.prefix, *site.getsitepackages(), os.path.dirname(sys.executable)]
    pairs = set()
    for path in filter(os.path.isdir, paths):
        real = Path(path).resolve()
        pairs |= {(real, real), (real, Path(os.path.abspath(path)))}
    return sorted(pairs, key=lambda pair: (len(pair[1].parts), pair[0] != pair[1]))


#: Device nodes of accelerators: NVIDIA GPUs, DRM render nodes (AMD/Intel), TPUs.
ACCELERATOR_GLOBS = ("/dev/nvidia*", "/dev/dri", "/dev/kfd", "/dev/accel*", "/dev/vfio")


def accelerator_devices() -> list[Path]:
    """The accelerator device nodes of this machine, passed through to the sandbox."""
    import glob

    return sorted({Path(p) for pattern in ACCELERATOR_GLOBS for p in glob.glob(pattern)})


def bwrap_command(
    workdir: Path,
    *,
    kernel_dir: Path,
    files: Path | None = None,
    ro_binds: Sequence[Path] = (),
    env: dict[str, str],
    privileged: bool,
    limits: Limits = Limits(),
) -> list[str]:
    """The bubblewrap prefix that runs a command in the sandbox whose cwd will be `workdir`.

    `workdir` is a tmpfs inside; `files` (the submission's copy) and `ro_binds` (files or
    folders) are bound read-only at their paths, `kernel_dir` writable (its owner decides).
    """
    args = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "ml4p-sandbox"]  # fmt: skip
    # As root, bwrap keeps every capability: keep only what handing the work folder to
    # the throwaway uid and dropping to it need (setuid then clears them all).
    # Otherwise a user namespace.
    args += (["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
              "--cap-add", "CAP_CHOWN"] if privileged else ["--unshare-user"])  # fmt: skip
    args += ["--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    mounts = _Mounts()
    for name in _SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():  # merged /usr: /bin -> usr/bin
            mounts.symlink(os.readlink(path), name)
        elif path.is_dir():
            mounts.bind(path)
    mounts.special("--proc", "/proc")
    mounts.special("--dev", "/dev")
    accelerators = accelerator_devices()
    for device in accelerators:  # GPUs and TPUs stay usable inside (after /dev is made)
        mounts.args += ["--dev-bind", str(device), str(device)]
    if accelerators and Path("/sys").is_dir():
        mounts.bind(Path("/sys"))  # drivers find their devices through sysfs
    # private and size-capped: not the host's /tmp; tmpfs pages are host memory outside RLIMIT_AS
    mounts.special("--tmpfs", "/tmp", perms="1777", size_mb=limits.tmp_mb)
    mounts.special("--tmpfs", "/dev/shm", perms="1777", size_mb=limits.tmp_mb)
    for real, inside in _python_dirs():
        mounts.bind(real, inside)
    mounts.bind(Path(ml4p.__file__).resolve().parent, PACKAGE_MOUNT / "ml4p")
    for path in ro_binds:  # a data file alone, never its folder; at the path it is named by
        mounts.bind(Path(path).resolve(), Path(os.path.abspath(path)))
    if files is not None:
        mounts.bind(Path(files))
    mounts.special("--tmpfs", str(workdir), perms="0700", size_mb=limits.disk_mb)  # _limits gives it to the uid
    mounts.bind(kernel_dir, writable=True)
    args += mounts.args
    args += ["--ro-bind", str(kernel_dir / "kernel.json"), str(kernel_dir / "kernel.json"), "--chdir", "/"]
    return args


def _check_root(root: Path) -> Path:
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"sandbox folder {root} does not exist")
    package_root = Path(ml4p.__file__).resolve().parent.parent
    cwd = Path.cwd().resolve()
    if root == Path("/") or _is_within(package_root, [root]) or _is_within(cwd, [root]):
        raise ValueError(f"refusing to sandbox in {root}: it contains the grader's files")
    socket_prefix = root / "kernel" / "kernel"
    if len(str(socket_prefix)) > _MAX_SOCKET_PATH:
        raise ValueError(f"sandbox folder path too long for unix sockets: {root}")
    return root


def _fallback_processes(processes: int) -> int:
    """RLIMIT_NPROC for a kernel outside bubblewrap: it counts all of the user's tasks.

    So allow `processes` more than the user runs now; -1 (no limit) where
    /proc cannot tell (macOS).
    """
    proc = Path("/proc")
    if not (proc / "self" / "task").is_dir():
        return -1
    uid, tasks = os.getuid(), 0
    for entry in proc.iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                tasks += len(os.listdir(entry / "task"))
        except OSError:
            continue
    return tasks + processes


@functools.cache
def _sweep_stale_groups() -> None:
    """Once per grader: remove the cgroups of graders that were killed before cleaning up."""

    def alive(name: str) -> bool:  # kernel-<grader pid>-<manager>; a name not of that form counts as alive
        try:
            os.kill(int(name.split("-")[1]), 0)
        except ProcessLookupError:
            return False
        except (ValueError, IndexError, PermissionError):
            pass
        return True

    if not cgroups.unavailable_reason():
        cgroups.remove_stale("kernel-", alive)


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs sandboxed in a private folder (see the module doc).

    Interrupts go as `interrupt_request` messages on the control channel:
    a signal to bubblewrap would not reach a kernel in its own pid namespace.
    """

    def __init__(
        self,
        root: Path,
        *,
        files: Path | None = None,
        limits: Limits = Limits(),
        ro_binds: Sequence[Path] = (),
        env: Mapping[str, str] | None = None,
        isolate: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(kernel_name="python3", transport="ipc", **kwargs)
        self.root = _check_root(root)
        self.workdir = self.root / "work"  # the kernel's cwd
        self.kernel_dir = self.root / "kernel"
        self.files = Path(files).resolve() if files is not None else None
        self.limits = limits
        self.ro_binds = tuple(Path(p) for p in ro_binds)
        self.isolate = isolate
        self.home = Path("/tmp/ml4p-home") if isolate else self.root / "home"
        self.extra_env = dict(env or {})  # e.g. ML4P_MNIST: where the prepared data set is
        self.sandbox_uid: int | None = None  # the kernel's uid, when the grader is root
        if isolate and os.geteuid() == 0:
            self.sandbox_uid = _UID_BASE + (os.getpid() << 8) + next(_uid_counter) % 256
        self.group: cgroups.SandboxGroup | None = None  # the sandbox's cgroup, while it runs
        self.connection_file = str(self.kernel_dir / "kernel.json")
        self.ip = str(self.kernel_dir / "kernel")
        package = PACKAGE_MOUNT / "ml4p" if isolate else Path(ml4p.__file__).resolve().parent
        argv = [sys.executable, "-I", str(package / "grading" / "_kernel.py")]
        if self.sandbox_uid is not None:
            argv += ["--wait-for-owner", str(self.kernel_dir)]
        self._kernel_spec = KernelSpec(
            argv=[*argv, "-f", "{connection_file}"],
            display_name="Python 3 (ml4p sandbox)",
            language="python",
            interrupt_mode="message",
            env={},
            metadata={},
        )

    def kernel_env(self) -> dict[str, str]:
        """The kernel's whole environment: nothing of the grader's leaks in but `extra_env`."""
        threads = str(self.limits.threads)
        package_parent = PACKAGE_MOUNT if self.isolate else Path(ml4p.__file__).resolve().parent.parent
        python_bin = os.path.dirname(sys.executable)
        return {
            "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "PWD": str(self.workdir),
            # ipykernel special-cases 1: no parent polling (the grader's pid means
            # nothing in the sandbox's pid namespace) and no console banner.
            "JPY_PARENT_PID": "1",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(package_parent),  # _kernel.py adds it by hand (isolated mode)
            "PYTHONDONTWRITEBYTECODE": "1",
            "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MB per thread otherwise: RLIMIT_AS
            # would then count ~1 GB of TensorFlow's idle reservations
            "MPLBACKEND": "Agg",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_ENABLE_ONEDNN_OPTS": "0",
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",  # kernels sharing a GPU take memory as they need it
            "KERAS_BACKEND": "tensorflow",
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": threads,
            **self.extra_env,
        }

    def address_space_mb(self) -> int:
        """The kernel's RLIMIT_AS in MB; -1 (none) where an accelerator is bound and a cgroup bounds the memory.

        CUDA and ROCm reserve address space for the device's unified memory, many times the
        host's RAM, at start-up: under RLIMIT_AS they fail to start and TensorFlow falls back to
        the CPU without a word. Address space is not memory; where the sandbox's cgroup caps its
        memory (``share``), that cap is the memory limit, and RLIMIT_AS is left off. Without a
        cgroup, RLIMIT_AS stays the only cap, and the kernel runs on the CPU.
        """
        if self.isolate and self.group is not None and accelerator_devices():
            return -1
        return self.limits.memory_mb

    def _limits_command(self) -> list[str]:
        """The launcher, started in isolated mode from the package's own (read-only) files."""
        limits = self.limits
        package = PACKAGE_MOUNT / "ml4p" if self.isolate else Path(ml4p.__file__).resolve().parent
        processes = limits.processes if self.isolate else _fallback_processes(limits.processes)
        command = [sys.executable, "-I", str(package / "grading" / "_limits.py"),
                   "--memory-mb", str(self.address_space_mb()), "--processes", str(processes),
                   "--cpu-seconds", str(limits.cpu_seconds),
                   "--file-size-mb", str(limits.file_size_mb), "--home", str(self.home)]  # fmt: skip
        if self.sandbox_uid is not None:
            command += ["--uid", str(self.sandbox_uid), "--gid", str(self.sandbox_uid)]
        if self.files is not None:
            command += ["--populate", str(self.files)]
        return command + ["--chdir", str(self.workdir), "--"]

    async def _async_pre_start_kernel(self, **kw):
        env = self.kernel_env()
        self.workdir.mkdir(mode=0o700, exist_ok=True)  # inside: a tmpfs mounted over it
        self.kernel_dir.mkdir(mode=0o700, exist_ok=True)
        if self.sandbox_uid is not None:
            os.chown(self.kernel_dir, self.sandbox_uid, self.sandbox_uid, follow_symlinks=False)
        kw["env"] = dict(env)  # replaces the grader's environment, not merged with it
        kw["cwd"] = str(self.root)
        command, kw = await super()._async_pre_start_kernel(**kw)  # writes the connection file
        if self.sandbox_uid is not None:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid, follow_symlinks=False)
        if self.isolate:
            self.release()  # a restart's new kernel gets a new group
            _sweep_stale_groups()
            self.group = cgroups.sandbox_group(f"kernel-{os.getpid()}-{id(self):x}", self.share())
        command = self._limits_command() + command  # after the group: it decides the address-space limit
        if self.isolate:
            prefix = bwrap_command(self.workdir, kernel_dir=self.kernel_dir, files=self.files,
                                   ro_binds=self.ro_binds, env=env, limits=self.limits,
                                   privileged=self.sandbox_uid is not None)  # fmt: skip
            command = [*prefix, "--", *command]
            if self.group is not None:
                command = self.group.wrap(command)
        return command, kw

    def share(self) -> cgroups.Share:
        """The whole sandbox's cgroup share: its threads' cores, its memory and files, its processes."""
        limits = self.limits
        return cgroups.Share(cpus=float(limits.threads), memory_bytes=(limits.memory_mb + limits.filesystems_mb) << 20,
                             pids=limits.processes + _GROUP_TASKS)

    def release(self) -> None:
        """Kill what is left of the sandbox's processes and remove its cgroup (idempotent)."""
        group, self.group = self.group, None
        if group is not None:
            group.close()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        self.release()

    async def _async_post_start_kernel(self, **kw) -> None:
        if self.sandbox_uid is not None:
            await self._lock_kernel_dir()
        await super()._async_post_start_kernel(**kw)

    async def _lock_kernel_dir(self) -> None:
        """Give `kernel/` to root once the kernel has bound its sockets (the kernel waits for it)."""
        sockets = [Path(f"{self.ip}-{port}") for port in self.ports]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _SOCKET_WAIT_SECONDS
        while not all(s.is_socket() for s in sockets):
            if not await self._async_is_alive():
                return  # the start failed; the caller's wait_for_ready reports it
            if loop.time() > deadline:
                raise RuntimeError("sandboxed kernel did not bind its sockets in time")
            await asyncio.sleep(0.02)
        # Open it to all before taking it: in the other order the kernel, which stats its
        # connection file right after binding, could meet a root-owned 0700 folder.
        os.chmod(self.kernel_dir, 0o755, follow_symlinks=False)
        os.chown(self.kernel_dir, 0, 0, follow_symlinks=False)


def sandboxed_kernel_manager(
    root: Path,
    *,
    files: Path | None = None,
    limits: Limits = Limits(),
    ro_binds: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
) -> AsyncKernelManager:
    """A kernel manager whose kernel runs sandboxed in the empty private folder `root`.

    `files`: a folder of regular files (a grader-made copy of the submission) copied into
    the kernel's work folder at start. `ro_binds` are extra files or folders (e.g.
    prepared data sets) visible read-only at the same path; they must be world-readable
    when the grader is root. `env` adds variables to the kernel's minimal environment
    (e.g. where the data is). See the module doc for the layout.
    """
    return SandboxedKernelManager(Path(root), files=files, limits=limits, ro_binds=ro_binds, env=env,
                                  isolate=isolation_available())
