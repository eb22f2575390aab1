"""Does the sandboxed kernel keep a submission in its box, and still run notebooks?

One sandboxed kernel serves most tests (module fixture, no TensorFlow: ~1 s);
tests that kill or stop a kernel start their own.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

import ml4p
from ml4p.grading import sandbox
from ml4p.grading.sandbox import Limits, isolation_available, sandboxed_kernel_manager

needs_bwrap = pytest.mark.skipif(not isolation_available(), reason="bubblewrap unavailable")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop happens only as root")

LIMITS = Limits(memory_mb=2048, processes=64, cpu_seconds=600, file_size_mb=8, threads=1)
SECRET_NAME, SECRET_VALUE = "ML4P_SECRET", "hunter2-do-not-leak"
REPO = Path(ml4p.__file__).resolve().parents[1]
MB = 1 << 20


class Kernel:
    """A started sandboxed kernel and a client that runs code and returns its stdout."""

    def __init__(self, root: Path, limits: Limits = LIMITS, files: Path | None = None, ro_binds=()):
        self.km = sandboxed_kernel_manager(root, limits=limits, files=files, ro_binds=ro_binds)
        self.workdir = self.km.workdir
        run_sync(self.km.start_kernel)()
        self.client = self.km.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 30) -> str:
        out: list[str] = []

        def keep(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=keep)
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)

    def value(self, expression: str, setup: str = "") -> object:
        """A JSON-able value computed in the kernel."""
        return json.loads(self.run(f"{setup}\nimport json as _j; print(_j.dumps({expression}))"))

    def host_pids(self) -> set[int]:
        """The kernel's process tree as the host sees it (bwrap, kernel, children)."""
        root = self.km.provisioner.pid
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                children.setdefault(int(fields[1]), []).append(int(entry.name))
        tree, todo = set(), [root]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += children.get(pid, [])
        return tree

    def close(self) -> None:
        self.client.stop_channels()
        run_sync(self.km.shutdown_kernel)(now=True)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    files = tmp_path_factory.mktemp("files")
    files.chmod(0o755)  # as files.copy_submission leaves it: readable by the kernel's uid
    (files / "data.txt").write_text("submitted")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_NAME, SECRET_VALUE)
        started = Kernel(tmp_path_factory.mktemp("sandbox"), files=files)
    yield started
    started.close()


@needs_bwrap
def test_no_network(kernel):
    """Can the kernel reach a server on the host's loopback, or resolve a name?"""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    result = kernel.value(
        "[connect(), resolve()]",
        setup=f"""
import socket
def connect():
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        return "connected"
    except OSError as e:
        return type(e).__name__
def resolve():
    try:
        socket.getaddrinfo("example.com", 443)
        return "resolved"
    except OSError as e:
        return type(e).__name__
""",
    )
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()
    assert result[0] != "connected" and result[1] != "resolved", result


@needs_bwrap
def test_unbound_directories_are_invisible(kernel, tmp_path_factory):
    """Can the kernel read an instructor directory, the repo's solutions/, or the repo itself?"""
    secret_dir = tmp_path_factory.mktemp("autograder")
    (secret_dir / "test_hidden.py").write_text("ANSWER = 42\n")
    paths = [secret_dir / "test_hidden.py", REPO / "solutions", REPO / "autograder", REPO]
    seen = kernel.value(f"[os.path.exists(p) for p in {[str(p) for p in paths]!r}]", setup="import os")
    assert seen == [False] * len(paths), dict(zip(map(str, paths), seen))


@needs_bwrap
def test_ml4p_importable_from_its_own_mount(kernel):
    """Does `import ml4p` work inside, from the package mount rather than the repo?"""
    location = kernel.value("ml4p.__file__", setup="import ml4p")
    assert location == str(sandbox.PACKAGE_MOUNT / "ml4p" / "__init__.py")


@needs_bwrap
def test_writes_outside_workdir_fail(kernel):
    """Can the kernel write to the system or the Python installation, or into the host's /tmp?"""
    import sys

    system = ["/usr/ml4p_probe", "/etc/ml4p_probe", f"{sys.prefix}/ml4p_probe", "/ml4p_probe"]
    tmp_probe = Path("/tmp") / f"ml4p_probe_{os.getpid()}"
    result = kernel.value(
        "[attempt(p) for p in paths]",
        setup=f"""
paths = {system + [str(tmp_probe), "inside.txt"]!r}
def attempt(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as e:
        return type(e).__name__
""",
    )
    assert "written" not in result[: len(system)], dict(zip(system, result))
    assert result[-2] == "written" and not tmp_probe.exists(), "the kernel's /tmp is the host's"
    assert result[-1] == "written" and kernel.value("open('inside.txt').read()") == "x"
    assert list(kernel.workdir.iterdir()) == [], "the work folder is on the host's disk"


def test_work_folder_starts_with_the_submitted_files(kernel):
    """Does the kernel start in its work folder holding the submission's files (and nothing of the grader)?"""
    assert kernel.value("[os.getcwd(), 'data.txt' in os.listdir('.'), open('data.txt').read()]",
                        setup="import os") == [str(kernel.workdir), True, "submitted"]


@needs_bwrap
def test_writable_filesystems_are_size_capped(kernel):
    """Are the work folder, /tmp and /dev/shm memory filesystems of the configured sizes, so that
    filling them fails inside instead of taking the host's memory or disk?"""
    sizes = kernel.value("[shutil.disk_usage(p).total >> 20 for p in ('.', '/tmp', '/dev/shm', os.environ['HOME'])]",
                         setup="import os, shutil")
    assert sizes == [LIMITS.disk_mb, LIMITS.tmp_mb, LIMITS.tmp_mb, LIMITS.tmp_mb], sizes


@needs_bwrap
@needs_root
def test_kernel_dir_is_locked(kernel):
    """Can student code replace the connection file or plant links among the grader's sockets?"""
    result = kernel.value(
        "[attempt(lambda: open(cf, 'w')), attempt(lambda: os.remove(cf)),"
        " attempt(lambda: os.symlink('/run', os.path.join(os.path.dirname(cf), 'kernel-9')))]",
        setup=f"""
import os
cf = {kernel.km.connection_file!r}
def attempt(action):
    try:
        action()
        return "done"
    except OSError as e:
        return type(e).__name__
""",
    )
    assert "done" not in result, result


@needs_bwrap
def test_a_data_file_is_bound_alone_at_the_path_it_is_named_by(tmp_path):
    """Is a data file named through a link (as Keras's cache may be) readable at that name, while the
    files beside it, where it really lies or where it is named, are not?"""
    store, cache = tmp_path / "store", tmp_path / "cache"
    store.mkdir()
    cache.mkdir()
    (store / "mnist.npz").write_text("digits")
    (store / "answers.txt").write_text("secret")
    (cache / "other.txt").write_text("secret")
    (cache / "mnist.npz").symlink_to(store / "mnist.npz")
    (tmp_path / "box").mkdir()
    started = Kernel(tmp_path / "box", ro_binds=[cache / "mnist.npz"])
    try:
        got = started.value(f"[open({str(cache / 'mnist.npz')!r}).read(), os.listdir({str(cache)!r}), "
                            f"os.path.exists({str(store)!r})]", setup="import os")
    finally:
        started.close()
    assert got == ["digits", ["mnist.npz"], False]


SHADOWS = {  # files of a submission that would run at the kernel's start if its folder were on sys.path
    "resource.py": "", "zmq.py": "", "ipykernel_launcher.py": "", "traitlets.py": "",
    "ml4p/__init__.py": "", "ml4p/grading/__init__.py": "", "ml4p/grading/_limits.py": "",
    ".ipython/profile_default/startup/00-evil.py": "",  # IPython's start-up files, if $HOME were the work folder
}
MARK = "import os\nopen(f'{marks}/ran-{{os.getuid()}}-' + __name__.replace('.', '-'), 'w').close()\n"


@pytest.mark.parametrize("mode", [pytest.param("auto", marks=needs_bwrap), "none"])
def test_submitted_modules_do_not_run_at_start_up(mode, tmp_path, monkeypatch):
    """Does a submitted `resource.py`, `zmq.py`, `ml4p/` or IPython start-up file run while the sandbox
    starts (as root, before the limits, before the connection folder is locked)? And can the
    notebook still import the submission's own modules?"""
    monkeypatch.setenv("ML4P_SANDBOX", mode)
    marks = "/tmp" if mode == "auto" else str(tmp_path / "marks")  # the sandbox's own /tmp, or a fresh folder
    Path(marks).mkdir(mode=0o777, exist_ok=True)
    files = tmp_path / "files"
    for name in [*SHADOWS, "helper.py"]:
        (files / name).parent.mkdir(parents=True, exist_ok=True)
        (files / name).write_text(MARK.format(marks=marks)
                                  + ("ANSWER = 42\n" if name == "helper.py" else "raise SystemExit(3)\n"))
    for folder in [files, *[p for p in files.rglob("*") if p.is_dir()]]:
        folder.chmod(0o755)
    (tmp_path / "box").mkdir()
    started = Kernel(tmp_path / "box", files=files)
    try:
        before = started.value(f"sorted(p for p in os.listdir({marks!r}) if p.startswith('ran-'))", setup="import os")
        got = started.value("[helper.ANSWER, os.getuid()]", setup="import os, helper")
    finally:
        started.close()
    assert before == [], f"ran at start-up: {before}"
    assert got[0] == 42


def test_kernel_dir_stays_traversable_while_it_is_locked(tmp_path, monkeypatch):
    """Is `kernel/` open to the kernel at every moment of the hand-over to root?

    The kernel stats its connection file right after binding its sockets, the moment the
    grader locks the folder; a root-owned folder with mode 0700 in between made it fail."""
    km = sandbox.SandboxedKernelManager(tmp_path, isolate=False)
    kernel_dir = km.kernel_dir
    kernel_dir.mkdir(mode=0o700)
    modes: list[int] = []
    monkeypatch.setattr(type(km), "ports", property(lambda self: []))
    monkeypatch.setattr(sandbox.os, "chown", lambda path, uid, gid, **kw: modes.append(os.stat(path).st_mode & 0o777))
    run_sync(km._lock_kernel_dir)()
    assert modes and all(mode & 0o055 == 0o055 for mode in modes), [oct(m) for m in modes]
    assert kernel_dir.stat().st_mode & 0o777 == 0o755


def test_grader_environment_does_not_leak(kernel):
    """Is a variable of the grader's environment visible anywhere inside the kernel?"""
    result = kernel.value(
        "[SECRET in os.environ, sorted(os.environ), leaked()]",
        setup=f"""
import os
SECRET = {SECRET_NAME!r}
def leaked():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if {SECRET_VALUE!r}.encode() in open(f"/proc/{{pid}}/environ", "rb").read():
                return pid
        except OSError:
            pass
    return None
""",
    )
    assert result[0] is False and result[2] is None
    ours = set(kernel.km.kernel_env())
    set_by_ipykernel = {"TERM", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "PAGER", "GIT_PAGER",
                        "GRPC_VERBOSITY", "PYDEVD_USE_FRAME_EVAL"}  # fmt: skip
    assert set(result[1]) <= ours | set_by_ipykernel, set(result[1]) - ours - set_by_ipykernel


def test_rlimits_in_force(kernel):
    """Are the memory, process, CPU, file-size and core limits set inside the kernel?"""
    names = ["RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE"]
    got = kernel.value(f"[resource.getrlimit(getattr(resource, n))[0] for n in {names!r}]",
                       setup="import resource")  # fmt: skip
    expected = [LIMITS.memory_mb * MB, LIMITS.processes, LIMITS.cpu_seconds,
                LIMITS.file_size_mb * MB, 0]  # fmt: skip
    assert dict(zip(names, got)) == dict(zip(names, expected))


def test_memory_and_file_size_limits_bite(kernel):
    """Does allocating more than memory_mb, or writing more than file_size_mb, fail cleanly?"""
    result = kernel.value(
        "[attempt(lambda: bytearray(memory)), attempt(write)]",
        setup=f"""
memory, size = {LIMITS.memory_mb * MB}, {LIMITS.file_size_mb * MB + 1}
def write():
    with open("big.bin", "wb") as f:
        f.write(b"0" * size)
def attempt(action):
    try:
        action()
        return "done"
    except (MemoryError, OSError) as e:
        return type(e).__name__
""",
    )
    assert result == ["MemoryError", "OSError"]


@needs_bwrap
@needs_root
def test_kernel_runs_unprivileged(kernel):
    """Does the kernel run as a non-root uid, with no capabilities and no way to regain them?"""
    status = kernel.value("open('/proc/self/status').read()")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split()[0] != "0"
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"


@pytest.mark.skipif(os.geteuid() == 0 and not isolation_available(), reason="root ignores RLIMIT_NPROC")
def test_fork_bomb_is_contained(kernel):
    """Does forking without end fail before the process limit, leaving the kernel usable?"""
    result = kernel.value(
        "bomb()",
        setup=f"""
import os, time
def bomb():
    kids, error = [], None
    try:
        for _ in range({LIMITS.processes * 4}):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            kids.append(pid)
    except OSError as e:
        error = type(e).__name__
    for pid in kids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return [len(kids), error]
""",
    )
    assert result[1] == "BlockingIOError" and result[0] < LIMITS.processes, result
    assert kernel.value("1 + 1") == 2


def test_cell_timeout_interrupts_and_next_cell_runs(kernel):
    """Does nbclient's per-cell timeout interrupt `while True: pass`, and does the next cell run?"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("while True: pass"),
                nbformat.v4.new_code_cell("print('still here')")]  # fmt: skip
    client = NotebookClient(nb, km=kernel.km, timeout=3, interrupt_on_timeout=True,
                            resources={"metadata": {"path": str(kernel.workdir)}})  # fmt: skip
    start = time.monotonic()
    with client.setup_kernel():
        with pytest.raises(CellExecutionError, match="KeyboardInterrupt"):
            client.execute_cell(nb.cells[0], 0)
        client.execute_cell(nb.cells[1], 1)
    client.kc.stop_channels()
    assert time.monotonic() - start < 15
    assert nb.cells[1].outputs[0]["text"] == "still here\n"


@pytest.mark.parametrize("mode", [pytest.param("auto", marks=needs_bwrap), "none"])
def test_shutdown_leaves_no_process(mode, tmp_path, monkeypatch):
    """After shutdown_kernel(now=True), is any process of the kernel left, even a background child?"""
    monkeypatch.setenv("ML4P_SANDBOX", mode)
    started = Kernel(tmp_path)
    assert started.km.isolate is (mode == "auto")
    started.run("import subprocess; child = subprocess.Popen(['sleep', '1000'])")
    pids = started.host_pids()
    assert len(pids) >= 3 if mode == "auto" else len(pids) >= 2  # bwrap/kernel/sleep
    started.close()
    time.sleep(0.2)
    assert [pid for pid in pids if alive(pid)] == []


def test_os_exit_is_detected_and_cleaned_up(tmp_path):
    """Does a cell calling os._exit(1) raise DeadKernelError, and leave no process behind?"""
    started = Kernel(tmp_path)
    pids = started.host_pids()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os; os._exit(1)"),
                nbformat.v4.new_code_cell("print('unreachable')")]  # fmt: skip
    client = NotebookClient(nb, km=started.km, timeout=20,
                            resources={"metadata": {"path": str(started.workdir)}})  # fmt: skip
    with client.setup_kernel():
        with pytest.raises(DeadKernelError):
            client.execute_cell(nb.cells[0], 0)
    client.kc.stop_channels()
    started.close()
    assert [pid for pid in pids if alive(pid)] == []


def test_fallback_without_bubblewrap(tmp_path, monkeypatch):
    """With ML4P_SANDBOX=none, does a kernel still start, run a cell, and get limits and a clean env?"""
    monkeypatch.setenv("ML4P_SANDBOX", "none")
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    assert not isolation_available()
    started = Kernel(tmp_path)
    try:
        got = started.value(
            "[os.getcwd(), SECRET in os.environ, resource.getrlimit(resource.RLIMIT_AS)[0],"
            " resource.getrlimit(resource.RLIMIT_NPROC)[0]]",
            setup=f"import os, resource; SECRET = {SECRET_NAME!r}",
        )
    finally:
        started.close()
    assert got[:3] == [str(started.workdir), False, LIMITS.memory_mb * MB]
    assert got[3] != resource.RLIM_INFINITY and got[3] >= LIMITS.processes  # + the user's tasks


def test_unknown_sandbox_mode_is_an_error(monkeypatch):
    """Does a misspelt ML4P_SANDBOX fail loudly instead of silently falling back?"""
    monkeypatch.setenv("ML4P_SANDBOX", "nope")
    with pytest.raises(ValueError, match="ML4P_SANDBOX"):
        isolation_available()


def test_workdir_holding_grader_files_is_refused(tmp_path, monkeypatch):
    """Does the manager refuse to sandbox a directory that contains the repo or the grader's cwd?"""
    with pytest.raises(ValueError, match="refusing"):
        sandboxed_kernel_manager(REPO)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="refusing"):
        sandboxed_kernel_manager(tmp_path)


def test_accelerator_devices_are_passed_through(monkeypatch, tmp_path):
    """Are GPU/TPU device nodes bound into the sandbox after its fresh /dev (and sysfs with them)?"""
    from ml4p.grading import sandbox as sb

    monkeypatch.setattr(sb, "accelerator_devices", lambda: [Path("/dev/nvidia0"), Path("/dev/nvidiactl")])
    args = sb.bwrap_command(tmp_path / "work", kernel_dir=tmp_path / "kernel", env={}, privileged=False)
    dev = args.index("--dev")
    binds = [i for i, a in enumerate(args) if a == "--dev-bind"]
    assert [args[i + 1] for i in binds] == ["/dev/nvidia0", "/dev/nvidiactl"]
    assert all(i > dev for i in binds)
    assert "/sys" in args


def test_an_accelerator_lifts_the_address_space_limit_only_where_a_cgroup_caps_memory(monkeypatch, tmp_path):
    """CUDA reserves more address space than RLIMIT_AS allows: with an accelerator bound and the sandbox's cgroup
    capping its memory, is RLIMIT_AS off; without the cgroup, does it stay?"""
    from ml4p.grading import cgroups
    from ml4p.grading import sandbox as sb

    if not isolation_available() or cgroups.unavailable_reason():
        pytest.skip("needs bubblewrap and cgroups (the limit is lifted only under a cgroup)")
    monkeypatch.setattr(sb, "accelerator_devices", lambda: [Path("/dev/null")])  # a node that exists, bound like a GPU's
    for grouped, expected in ((True, resource.RLIM_INFINITY), (False, LIMITS.memory_mb * MB)):
        if not grouped:
            monkeypatch.setattr(cgroups, "sandbox_group", lambda *a, **k: None)
        root = tmp_path / ("grouped" if grouped else "alone")
        root.mkdir()
        started = Kernel(root)
        try:
            assert (started.km.group is not None) == grouped
            got = started.value("resource.getrlimit(resource.RLIMIT_AS)[0]", setup="import resource")
        finally:
            started.close()
        assert got == expected, grouped
