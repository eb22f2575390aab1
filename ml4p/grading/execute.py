"""The execution step of nbgrader's autograde pipeline, replaced by ml4p's.

``SandboxedExecute`` takes the place of nbgrader's ``Execute`` preprocessor:
it runs the submission's cells in a sandboxed kernel (never the hidden-check
cells), then, with the kernel still alive, runs the hidden checks in a trusted
pytest process and writes each part's report and partial score into that
part's hidden-check cell. The rest of nbgrader's pipeline (SaveAutoGrades,
the gradebook, feedback, export) reads those cells as usual.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, Integer, List, Unicode

from ml4p.grading import cache, files, sandbox
from ml4p.grading.capped_client import CappedKernelClient, CappedNotebookClient, drops
from ml4p.grading.checks import ChecksProcess, PartReport, part_order, part_reports, parts_with_checks

INTERRUPT_GRACE_SECONDS = 5  # after a cell's timeout: how long the interrupted kernel may take to go idle


def hidden_check_cells(nb, parts: set[str]) -> dict[int, tuple[str, float]]:
    """Cell index -> (part, points) for the autograded-test cells whose grade id has checks."""
    found = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if (cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")
                and meta.get("grade_id") in parts):
            found[i] = (meta["grade_id"], float(meta.get("points", 0)))
    return found


class SandboxedExecute(NbGraderPreprocessor):
    """Execute a submission in a sandboxed kernel and fill its hidden-check cells."""

    checks_dir = Unicode("", help="Folder of hidden checks: <checks_dir>/<assignment>/test_<part>.py").tag(config=True)
    solutions_dir = Unicode("", help="Folder of the NumPy oracles the checks import (instructor only)").tag(config=True)
    timeout = Integer(300, help="Seconds one cell may run before it is interrupted (nbgrader's "
                      "`Execute.timeout`, e.g. `--Execute.timeout=N`, applies when this is not set)").tag(config=True)
    notebook_timeout = Integer(3600, help="Seconds all cells of one notebook may run together; "
                               "the cells after that do not run and the checks grade what did").tag(config=True)
    checks_timeout = Integer(600, help="Seconds all hidden checks of one notebook may run").tag(config=True)
    output_limit = Integer(5_000_000, help="Bytes of cell output kept per notebook").tag(config=True)
    memory_mb = Integer(sandbox.Limits.memory_mb, help="Memory limit of the sandboxed kernel (MB)").tag(config=True)
    disk_mb = Integer(sandbox.Limits.disk_mb, help="Size of the kernel's work folder (MB, a memory filesystem)").tag(config=True)
    tmp_mb = Integer(sandbox.Limits.tmp_mb, help="Size of the kernel's /tmp and of its /dev/shm (MB each)").tag(config=True)
    processes = Integer(sandbox.Limits.processes, help="Process limit of the sandboxed kernel").tag(config=True)
    cpu_seconds = Integer(sandbox.Limits.cpu_seconds, help="CPU-time limit of the sandboxed kernel (s)").tag(config=True)
    threads = Integer(0, help="Threads for TensorFlow/OpenMP in the kernel (0: all cores)").tag(config=True)
    data_dirs = List(Unicode(), help="Folders made readable (read-only) inside the sandbox, e.g. data sets").tag(config=True)
    data_env = Dict(value_trait=Unicode(), help="Variables telling the kernel and the checks where the data is, "
                    "e.g. {'ML4P_MNIST': '/data/mnist.npz'}; a file named here is made readable in the sandbox").tag(config=True)

    def cell_timeout(self) -> int:
        """Seconds a cell may run: ``SandboxedExecute.timeout`` where it is configured, else
        nbgrader's own ``Execute.timeout`` (config file or ``--Execute.timeout=N``), else 300.
        ``Execute.timeout = None`` (or ≤ 0), nbgrader's "no limit", leaves the notebook's limit
        (``notebook_timeout``) as the only one."""
        if "timeout" not in self.config.get("SandboxedExecute", {}) and "timeout" in self.config.get("Execute", {}):
            timeout = self.config.Execute.timeout
            return int(timeout) if timeout is not None and int(timeout) > 0 else self.notebook_timeout
        return self.timeout

    def limits(self, threads: int = 0) -> sandbox.Limits:
        threads = threads or self.threads or os.cpu_count() or 1
        return sandbox.Limits(memory_mb=self.memory_mb, processes=self.processes, cpu_seconds=self.cpu_seconds,
                              threads=threads, disk_mb=self.disk_mb, tmp_mb=self.tmp_mb)

    def executes(self) -> bool:
        """False under nbgrader's ``--no-execute`` (``Execute.enabled = False``) or ``SandboxedExecute.enabled = False``."""
        return self.enabled and self.config.get("Execute", {}).get("enabled", True) is not False

    def forced(self) -> bool:
        """nbgrader's ``--force`` (``Autograde.force``, or ``BaseConverter.force`` in a config file): execute
        again, as ``ml4p autograde --force`` does. (``ml4p autograde`` records through nbgrader's API, which
        sets the converter's ``force`` attribute, not its config: its cached executions are used.)"""
        return any(self.config.get(section, {}).get("force", False) for section in ("Autograde", "BaseConverter"))

    def __call__(self, nb, resources):
        return self.preprocess(nb, resources)  # disabled too: then no hidden-check cell keeps its outputs

    def preprocess(self, nb, resources):
        assignment = resources["nbgrader"]["assignment"]
        student = resources["nbgrader"]["student"]
        solutions_dir = Path(self.solutions_dir) if self.solutions_dir else None
        root = self.config.CourseDirectory.get("root")
        cached = key = None
        if root:
            # nbgrader has copied the submission's other files already, following links: refuse
            # it now (nbgrader then removes its copies); `ml4p autograde` refuses it before that
            course = CourseDirectory(config=self.config)
            folder = Path(course.format_path(course.submitted_directory, student, assignment))
            below = Path(os.path.normpath(course.format_path(course.submitted_directory, ".", ".")))
            if os.path.lexists(folder):
                files.inspect(folder, below=below if below in folder.parents else None)
            fingerprint = cache.checks_fingerprint(Path(self.checks_dir), assignment, solutions_dir)
            key = cache.execution_key(nb, fingerprint)
            cached = cache.cache_file(Path(root), assignment, student, resources["nbgrader"].get("notebook"))
        if not self.executes():
            return self._without_executing(nb, resources, cached, key)
        if cached is not None and not self.forced():
            # executed already by a parallel run (ml4p autograde --jobs)?
            executed = cache.load(cached, key)
            if executed is not None:
                cache.apply(nb, executed)
                self.log.info("ml4p: %s/%s executed earlier, recording it", student, assignment)
                self._note_missing(nb, assignment, student)
                return nb, resources
        started = time.monotonic()
        outcome = grade_notebook(
            nb, assignment=assignment, source_dir=Path(resources.get("metadata", {}).get("path") or "."),
            checks_dir=Path(self.checks_dir), solutions_dir=solutions_dir,
            limits=self.limits(), ro_binds=[Path(d) for d in self.data_dirs], data_env=dict(self.data_env),
            timeout=self.cell_timeout(), notebook_timeout=self.notebook_timeout, checks_timeout=self.checks_timeout,
            output_limit=self.output_limit)
        self.log.info("ml4p: %s executed in %.1f s, checked in %.1f s: %s", assignment,
                      outcome.execute_seconds, outcome.checks_seconds,
                      ", ".join(f"{p} {r.score:g}/{r.max_points:g}" for p, r in outcome.reports.items()))
        if cached is not None:  # what ml4p autograde would record for this notebook, too
            cache.store(cached, key, nb, time.monotonic() - started)
        self._note_missing(nb, assignment, student)
        return nb, resources

    def _without_executing(self, nb, resources, cached: Path | None, key: str | None):
        """``--no-execute``: nbgrader grades the outputs the notebook holds. A hidden-check cell's outputs
        come only from ml4p's own execution of exactly this notebook (its cache); without one, each
        hidden-check cell says it was not checked, and scores 0: its outputs in the submission are the
        student's to write."""
        assignment, student = resources["nbgrader"]["assignment"], resources["nbgrader"]["student"]
        cells = hidden_check_cells(nb, parts_with_checks(Path(self.checks_dir), assignment))
        executed = cache.load(cached, key) if cached is not None else None
        for i in cells:
            if executed is not None:
                nb.cells[i].outputs = executed[i][0]
            else:
                nb.cells[i].outputs = [new_output(**_error("NotChecked", (
                    "not checked: graded without executing (--no-execute), and ml4p has no execution of "
                    "exactly this notebook to take the hidden checks' results from")))]
            nb.cells[i].execution_count = None
        self.log.info("ml4p: %s/%s not executed (--no-execute): hidden checks %s", student, assignment,
                      "from ml4p's earlier execution" if executed is not None else "not run, 0 points")
        self._note_missing(nb, assignment, student)
        return nb, resources

    def _note_missing(self, nb, assignment: str, student: str) -> None:
        """Say, in the autograded notebook, which parts lost their hidden-check cell (so score nothing).

        ml4p's ``RestoreCells`` (the course's sanitising step) puts deleted ones back; this catches a
        course configured without it, and a cell whose grade id was changed.
        """
        parts = parts_with_checks(Path(self.checks_dir), assignment)
        missing = sorted(parts - {part for part, _ in hidden_check_cells(nb, parts).values()})
        if missing:
            names = ", ".join(f"`{p}`" for p in missing)
            self.log.warning("ml4p: %s/%s has no hidden-check cell for %s: 0 points", student, assignment, names)
            nb.cells.append(new_markdown_cell(
                f"**ml4p:** this submission has no hidden-check cell for {names} (deleted, or its nbgrader "
                "metadata removed), so no hidden check ran for it and it scores 0 points."))


@dataclass
class Outcome:
    """What grading one notebook found."""

    reports: dict[str, PartReport]  # part -> report (also written into the notebook)
    execute_seconds: float  # kernel start and the notebook's own cells
    checks_seconds: float  # the hidden checks alone


def grade_notebook(nb, *, assignment: str, source_dir: Path, checks_dir: Path, solutions_dir: Path | None,
                   limits: sandbox.Limits | None = None, ro_binds=(), data_env=None, timeout: int = 300,
                   notebook_timeout: int | None = None, checks_timeout: int = 600, output_limit: int = 5_000_000,
                   call_timeout: float | None = None) -> Outcome:
    """Run ``nb`` in a sandboxed kernel, then its hidden checks; fill the hidden-check cells in place.

    ``source_dir``: the submission's folder; its regular files (not notebooks) are copied
    (``files.copy_submission``: a link, device or FIFO anywhere raises ``UnsafeSubmission``)
    and the kernel starts with them in its work folder. ``data_env``: variables for the
    kernel and the checks saying where the data is; each file it names is bound read-only
    (the file alone, not its folder). ``timeout``: seconds a cell may run before it is
    interrupted; a cell still running ``INTERRUPT_GRACE_SECONDS`` later has its kernel stopped
    (the rest of the notebook and the checks then fail with that reason).
    ``notebook_timeout``: seconds all cells may take together (default: no limit beyond the
    cells'); the cell running at that moment is interrupted, the later ones do not run, and
    the checks grade what did. ``call_timeout``: seconds one call of a student function by a
    check may run (default: ``timeout``, at most 60).
    """
    refuse_kernel(nb)
    limits = limits or sandbox.Limits()
    data_env = dict(data_env or {})
    ro_binds = [*ro_binds, *{Path(v).absolute() for v in data_env.values() if Path(v).is_file()}]
    kernel_env = {**data_env, **nbgrader_variables()}
    cells = hidden_check_cells(nb, parts_with_checks(checks_dir, assignment))
    started = time.monotonic()
    died, checks_seconds = "", 0.0
    with tempfile.TemporaryDirectory(prefix="ml4p-sandbox-") as scratch, \
            ChecksProcess(checks_dir, assignment, solutions_dir=solutions_dir,
                          call_timeout=call_timeout or min(timeout, 60), threads=limits.threads,
                          env=data_env, order=part_order(checks_dir, assignment)) as checks:  # it starts up while the notebook runs
        staging = Path(scratch) / "files"
        files.copy_submission(source_dir, staging,  # no more than the work folder can hold
                              limits=files.FileLimits(max_bytes=min(files.FileLimits.max_bytes, limits.disk_mb << 20)))
        km = sandbox.sandboxed_kernel_manager(Path(scratch), files=staging, limits=limits, ro_binds=ro_binds,
                                              env=kernel_env)
        # a message larger than the notebook could keep is dropped unread (JSON escapes: x2, + envelope)
        km.client_factory = type("CappedKernelClient", (CappedKernelClient,),
                                 {"max_message_bytes": 2 * output_limit + (1 << 20)})
        client = CappedNotebookClient(
            nb, km=km, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
            iopub_timeout=INTERRUPT_GRACE_SECONDS, output_limit=output_limit,
            resources={"metadata": {"path": str(km.workdir)}}, record_timing=False)
        results, error, execute_seconds = [], "", 0.0
        try:
            with client.setup_kernel():
                died = _execute_cells(client, nb, skip=cells, timeout=timeout, notebook_timeout=notebook_timeout,
                                      started=started)
            # Nobody reads the notebook's connection from here on: closed, it cannot queue
            # what the kernel sends while the checks run.
            _stop_channels(client)
            execute_seconds = time.monotonic() - started
            if died:
                error = f"{died}, so no check could run"
            else:
                results, error = checks.run(connection_info(km), timeout=checks_timeout)
                checks_seconds = time.monotonic() - started - execute_seconds
        except (RuntimeError, TimeoutError, OSError) as exc:  # the kernel did not start
            died = f"the sandboxed kernel could not start ({type(exc).__name__}: {exc})"
            error = f"{died}, so no check could run"
            _not_run(nb, after=-1, skip=cells, reason=died)
        finally:
            _stop_channels(client)
            _shutdown(km)
    reports = part_reports({part: pts for part, pts in cells.values()}, results, error)
    for i, (part, _) in cells.items():
        nb.cells[i].outputs = reports[part].outputs()
        nb.cells[i].execution_count = None
    return Outcome(reports, execute_seconds, checks_seconds)


class KernelUnavailable(RuntimeError):
    """The notebook asks for a kernel that the sandbox cannot run: it is not graded (as in nbgrader)."""


#: Names jupyter_client treats as its own Python kernel (``KernelManager`` maps them to ``python3``).
NATIVE_KERNELS = {"python", "python2", "python3"}


def refuse_kernel(nb) -> None:
    """Raise ``KernelUnavailable`` unless the notebook's kernel is a Python kernel installed here.

    nbgrader refuses a notebook whose kernelspec names a kernel it cannot find (after
    ``OverwriteKernelspec`` has put the source notebook's there); so does ml4p. The sandbox
    always runs its own Python kernel (the grader's interpreter, never a kernelspec's command
    line), so a kernel that exists but is not Python is refused too: grading R code with
    Python would say nothing true. A notebook with no kernelspec runs Python, as in nbclient.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    spec = nb.get("metadata", {}).get("kernelspec") or {}
    name = spec.get("name") or "python3"
    if name in NATIVE_KERNELS:
        return
    try:
        language = KernelSpecManager().get_kernel_spec(name).language
    except NoSuchKernel:
        raise KernelUnavailable(f"the notebook asks for the kernel {name!r}, which is not installed here "
                                "(nbgrader refuses it too); set the source notebook's kernel to Python 3") from None
    if (language or "").lower() != "python":
        raise KernelUnavailable(f"the notebook's kernel {name!r} runs {language}; ml4p's sandbox runs Python only")


#: nbgrader's documented variables a notebook may test (its FAQ: "Can I tell whether a notebook runs
#: under nbgrader?"); the sandbox's clean environment passes them through.
NBGRADER_VARIABLES = ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")


def nbgrader_variables() -> dict[str, str]:
    """nbgrader's variables for the kernel: as nbgrader set them, and ``NBGRADER_EXECUTION=autograde``
    when ml4p grades on its own (``ml4p autograde`` runs outside nbgrader's execution step)."""
    found = {name: os.environ[name] for name in NBGRADER_VARIABLES if name in os.environ}
    found.setdefault("NBGRADER_EXECUTION", "autograde")
    return found


def connection_info(km) -> dict:
    """What a client needs to reach the kernel, from the grader's own memory (JSON-able).

    Never the connection file: it lies where the kernel could have written.
    """
    info = km.get_connection_info(session=False)
    return {key: value.decode() if isinstance(value, bytes) else value for key, value in info.items()}


def _execute_cells(client: CappedNotebookClient, nb, *, skip, timeout: int, notebook_timeout: int | None = None,
                   started: float = 0.0) -> str:
    """Run every code cell but those in ``skip``; returns how the kernel died, if it did.

    A cell that outlives its timeout is interrupted; one that is still running
    ``INTERRUPT_GRACE_SECONDS`` later (it caught KeyboardInterrupt, or ignores SIGINT) has its
    kernel stopped: every later cell would only wait for it. ``notebook_timeout`` seconds after
    ``started`` (monotonic) the running cell is interrupted and no later cell runs: each says
    so in an error output, so that no test cell that never ran earns its points.
    """
    over = ""  # why the notebook stopped early
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or i in skip:
            continue
        cell_timeout, message = timeout, _interrupted(timeout)
        if notebook_timeout is not None and not over:
            left = started + notebook_timeout - time.monotonic()
            if left < 1:
                over = f"the notebook reached its time limit of {notebook_timeout} s before this cell"
            elif left < timeout:
                cell_timeout = int(left)
                message = (f"the notebook reached its time limit of {notebook_timeout} s while this cell ran: "
                           "it was interrupted, and the cells after it did not run")
        if over:
            cell.outputs = [new_output(**_error("NotRun", f"not run: {over}"))]
            continue
        client.timeout, client.error_on_timeout = cell_timeout, _error("CellTimeoutError", message)
        client.timed_out = client.went_idle = False
        dropped = drops(client)
        try:
            client.execute_cell(cell, i)
        except DeadKernelError:
            died = f"the notebook's kernel died while running cell {i + 1}"
            cell.outputs.append(new_output(**_error("DeadKernelError", died)))
            _not_run(nb, after=i, skip=skip, reason=died)
            return died
        if drops(client) > dropped:
            cell.outputs.append(new_output("stream", name="stdout", text=(
                f"\n[ml4p: an output message larger than {client.output_limit // 1000} kB was discarded]\n")))
        if client.timed_out and not client.went_idle:
            _shutdown(client.km)
            died = (f"cell {i + 1} kept running after it was interrupted at its {cell_timeout} s limit: "
                    "its kernel was stopped")
            cell.outputs.append(new_output(**_error("KernelStopped", died)))
            _not_run(nb, after=i, skip=skip, reason=died)
            return died
        if client.timed_out:
            if not any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):  # the reply's, recorded
                cell.outputs.append(new_output(**_error("CellTimeoutError", message)))
            if cell_timeout < timeout:
                over = f"the notebook reached its time limit of {notebook_timeout} s before this cell"
    return ""


def _not_run(nb, *, after: int, skip, reason: str) -> None:
    """Every code cell after ``after`` (but those in ``skip``) that has not run says so, and why:
    a test cell without an error output would earn its points in nbgrader."""
    for j, cell in enumerate(nb.cells):
        if j > after and cell.cell_type == "code" and j not in skip and cell.get("execution_count") is None:
            cell.outputs = [new_output(**_error("NotRun", f"not run: {reason}"))]


def _interrupted(timeout: int) -> str:
    return f"this cell ran longer than {timeout} s and was interrupted"


def _error(ename: str, evalue: str) -> dict:
    """An error as nbclient's ``error_on_timeout`` and ``new_output`` take it."""
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def _stop_channels(client: NotebookClient) -> None:
    try:
        if client.kc is not None:
            client.kc.stop_channels()
    except Exception:  # noqa: BLE001 - best effort: the kernel may be gone
        pass


def _shutdown(km) -> None:
    from jupyter_core.utils import ensure_async, run_sync

    async def stop():
        if km.has_kernel:
            await ensure_async(km.shutdown_kernel(now=True))

    try:
        run_sync(stop)()
    except Exception:  # noqa: BLE001 - the kernel may already be gone
        pass
    if hasattr(km, "release"):  # a kernel that never started has a cgroup all the same
        km.release()


def autograde_preprocessors() -> list:
    """nbgrader's autograde pipeline with ``SandboxedExecute`` in place of ``Execute``."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    return [SandboxedExecute if p is Execute else p for p in Autograde.class_traits()["autograde_preprocessors"].default()]


__all__ = ["SandboxedExecute", "Outcome", "grade_notebook", "autograde_preprocessors", "KernelUnavailable"]
