"""The course on an accelerator: every solution notebook run, and the demo graded with two jobs sharing the device.

    python benchmarks/accelerator.py [--assignments a,b] [--grade a,b] [--skip-grading] [--full] [--timeout 600]
    python benchmarks/accelerator.py --cpu-devices 2 ...   # no GPU: 2 logical CPU devices (the smoke mode)

1. Each assignment's source notebook (`assignments/<a>/<a>.ipynb`, solutions in place) runs top to
   bottom with nbclient in a plain Jupyter kernel, as a student's would, with the course's environment:
   its data (`ml4p.course.data_env`), ml4p's quiet TensorFlow variables and GPU memory growth. By
   default in graded mode (`NBGRADER_EXECUTION=validate`, what `ml4p validate` sets: the long
   demonstrations that no grade depends on are skipped, as when grading); `--full` runs them too.
2. The demo's solutions are graded: for each assignment a scratch course gets two copies of its
   reference submission (`ml4p.grading.submissions.known_submissions`), graded by `ml4p autograde
   --jobs 2` (`autograde(..., jobs=2)`), so that two sandboxed kernels share the device.

A last cell appended to every notebook (the run and both graded copies; no nbgrader metadata, so no
grade depends on it) reports what TensorFlow sees inside that very kernel: the GPUs by name, the
logical devices, where an operation is placed, and `ml4p.device.describe()`. `--cpu-devices N` puts a
first cell before it that hides any GPU and splits the CPU into N logical devices
(`tf.config.set_logical_device_configuration`, as `ml4p.device.logical_cpus` does), so that the MNIST
notebook's `ml4p.device.strategy()` mirrors over them and the whole path runs without a GPU.

Prints (and `main` returns) the machine (`nvidia-smi`, TensorFlow, CPUs, the sandbox's device nodes and
address-space limit) and two Markdown tables; a line per notebook and grading on stderr as each ends.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import ml4p  # noqa: F401 - quiet TensorFlow's environment before anything imports it
from ml4p.course import assignment_names, create_course, data_env, materials_root

MARK = "ml4p-accelerator-benchmark"  # the tag of the cells this benchmark adds, and its probe's prefix
JOBS = 2  # gradings at once: two kernels share the device


# --- code that runs in the notebook's kernel (sent as its source text) ---------------------------------

def _split_devices(n):
    """Hide the GPUs and split the CPU into n logical devices, before TensorFlow initialises them."""
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])


def _accelerator_probe():
    """Print, on one line, what TensorFlow sees in this kernel."""
    import json

    import tensorflow as tf

    import ml4p.device

    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name)
        except Exception:  # noqa: BLE001 - a name is a nicety
            names.append(gpu.name)
    seen = {"tensorflow": tf.__version__, "built_with_cuda": tf.test.is_built_with_cuda(), "gpus": names,
            "visible_gpus": len(tf.config.get_visible_devices("GPU")),
            "logical_gpus": len(tf.config.list_logical_devices("GPU")),
            "logical_cpus": len(tf.config.list_logical_devices("CPU")),
            "placed": tf.reduce_sum(tf.ones((2, 2))).device, "strategy": ml4p.device.describe()}
    print("ml4p-accelerator-benchmark", json.dumps(seen))


def _cell(function, *args) -> nbformat.NotebookNode:
    """A code cell that defines `function` from its source here, calls it, and deletes it again."""
    source = f"{inspect.getsource(function)}\n\n{function.__name__}({', '.join(map(repr, args))})\ndel {function.__name__}\n"
    return nbformat.v4.new_code_cell(source, metadata={"tags": [MARK]})


def instrumented(nb, cpu_devices: int = 0):
    """A copy of `nb` with the probe as its last cell and, with `cpu_devices`, the device split as its first."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    if cpu_devices:
        nb.cells.insert(0, _cell(_split_devices, cpu_devices))
    nb.cells.append(_cell(_accelerator_probe))
    return nb


def _is_probe(cell) -> bool:
    return MARK in cell.get("metadata", {}).get("tags", []) and "_accelerator_probe()" in cell.source


def probe_result(nb) -> dict | str:
    """What the probe cell of an executed notebook printed, or why there is nothing."""
    cells = [c for c in nb.cells if _is_probe(c)]
    if not cells:
        return "no probe cell"
    for out in cells[-1].get("outputs", []):
        if out.get("output_type") == "stream":
            for line in out.get("text", "").splitlines():
                if line.startswith(MARK + " "):
                    return json.loads(line[len(MARK) + 1:])
        if out.get("output_type") == "error":
            return f"probe failed: {out.get('ename')}: {out.get('evalue')}"[:200]
    return "probe did not run"


def device_label(seen: dict | str) -> str:
    """"GPU: NVIDIA H100 80GB HBM3", "CPU (2 logical devices)", "CPU", or why it is not known."""
    if isinstance(seen, str):
        return f"not measured ({seen})"
    if seen["logical_gpus"]:
        names = sorted(set(seen["gpus"])) or ["unnamed"]
        count = f"{seen['logical_gpus']} × " if seen["logical_gpus"] > 1 else ""
        return f"GPU: {count}{', '.join(names)}"
    label = "CPU" if seen["logical_cpus"] <= 1 else f"CPU ({seen['logical_cpus']} logical devices)"
    if seen["gpus"] and not seen["visible_gpus"]:
        label += f"; {len(seen['gpus'])} GPU(s) hidden"
    elif seen["gpus"]:
        label += f"; {len(seen['gpus'])} GPU(s) found but not initialised"
    return label


def _placed(seen: dict | str) -> str:
    """Where the probe's operation ran: "GPU:0", "CPU:0"."""
    return seen["placed"].rsplit("device:", 1)[-1] if isinstance(seen, dict) else "?"


# --- the machine ----------------------------------------------------------------------------------------

def _tensorflow_version() -> str:
    for name in ("tensorflow", "tensorflow-cpu", "tensorflow_cpu", "tf-nightly", "tensorflow-gpu"):
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "TensorFlow not installed"


def machine() -> list[str]:
    """Markdown lines describing the machine: GPUs, TensorFlow, CPUs, and what the sandbox passes through."""
    from ml4p.grading import sandbox

    lines = []
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv"], capture_output=True,
                                 text=True, timeout=60)
            gpus = out.stdout.strip() if out.returncode == 0 else f"nvidia-smi failed: {out.stderr.strip()[:200]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            gpus = f"nvidia-smi failed: {exc}"
        lines.append("GPUs (`nvidia-smi --query-gpu=name,memory.total --format=csv`):\n\n    "
                     + gpus.replace("\n", "\n    ") + "\n")
    else:
        lines.append("GPUs: no `nvidia-smi` on this machine.")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines.append(f"Software: Python {platform.python_version()}, {_tensorflow_version()}; "
                 f"CPUs: {os.cpu_count()} ({cpus} usable by this process); {datetime.date.today().isoformat()}.")
    nodes = sandbox.accelerator_devices()
    try:
        isolation = "bubblewrap" if sandbox.isolation_available() else "**no bubblewrap** (isolation off)"
    except (RuntimeError, ValueError) as exc:
        isolation = f"unusable ({exc})"
    lines.append(f"Sandbox: {isolation}; accelerator device nodes it binds (`sandbox.accelerator_devices()`): "
                 f"{', '.join(map(str, nodes)) if nodes else 'none on this machine'}; "
                 f"kernel address-space limit (RLIMIT_AS) {sandbox.Limits.memory_mb} MB.")
    return lines


# --- 1. the solution notebooks --------------------------------------------------------------------------

@dataclass
class NotebookRun:
    assignment: str
    seconds: float
    seen: dict | str  # what the probe printed, or why nothing
    errors: list[str] = field(default_factory=list)  # "cell N: Ename: message", the probe's own cell left out

    @property
    def ok(self) -> bool:
        return not self.errors


def kernel_env(*, full: bool) -> dict[str, str]:
    """The environment of the notebook's kernel: this process's, the course's data and TensorFlow settings."""
    from ml4p.validate import VALIDATION_ENV

    env = {**os.environ, **ml4p.QUIET_TF_ENV, "TF_FORCE_GPU_ALLOW_GROWTH": "true", **data_env()}
    for key in VALIDATION_ENV:
        env.pop(key, None)
    return env if full else {**env, **VALIDATION_ENV}


def run_notebook(materials: Path, assignment: str, *, full: bool, cpu_devices: int, timeout: int) -> NotebookRun:
    """Run the source notebook of `assignment`, in a copy of its folder, with the probe last."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="ml4p-accel-") as tmp:
        folder = Path(tmp) / assignment
        shutil.copytree(materials / "assignments" / assignment, folder)
        nb = instrumented(nbformat.read(folder / f"{assignment}.ipynb", as_version=4), cpu_devices)
        client = NotebookClient(nb, timeout=timeout, allow_errors=True, interrupt_on_timeout=True, kernel_name="python3",
                                resources={"metadata": {"path": str(folder)}})
        errors = []
        start = time.monotonic()
        try:
            client.execute(env=kernel_env(full=full))
        except Exception as exc:  # noqa: BLE001 - a dead kernel: reported, the next notebook runs
            first = (str(exc).strip().splitlines() or [""])[0]
            errors.append(f"run stopped: {type(exc).__name__}: {first}"[:300])
        seconds = time.monotonic() - start
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not _is_probe(cell):
            errors += [f"cell {i + 1}: {o.ename}: {o.evalue}"[:300] for o in cell.get("outputs", [])
                       if o.output_type == "error"]
    return NotebookRun(assignment, seconds, probe_result(nb), errors)


# --- 2. the demo graded, two jobs sharing the device ----------------------------------------------------

@dataclass
class Grading:
    assignment: str
    seconds: float  # `autograde(..., jobs=2)` of both copies, nbgrader's recording included
    grades: list[tuple[str, float, float, float]]  # student, autograded score, autograded max, points by hand
    seen: list[dict | str]  # what each graded kernel's probe printed
    errors: list[str] = field(default_factory=list)

    @property
    def full_marks(self) -> bool:
        return (not self.errors and len(self.grades) == JOBS
                and all(score == top and top > 0 for _, score, top, _ in self.grades))


def _course_timeout(course: Path, timeout: int) -> None:
    """Let a cell of the graded notebooks run `timeout` seconds (the course's `SandboxedExecute.timeout`)."""
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.SandboxedExecute.timeout = {int(timeout)}  # accelerator benchmark\n")


def grade(materials: Path, assignment: str, root: Path, *, cpu_devices: int, timeout: int) -> Grading:
    """Two copies of the reference submission of `assignment`, graded two at a time in a scratch course."""
    from ml4p.grading.autograde import autograde, grades
    from ml4p.grading.submissions import known_submissions, submit
    from ml4p.release import release

    course = create_course(root / assignment, materials=materials, assignments=[assignment])
    _course_timeout(course, timeout)
    release(assignment, course=course, force=True)  # a scratch course: no due dates to wait for
    reference = instrumented(known_submissions(course, assignment, mistakes=False)["reference"][0], cpu_devices)
    students = [f"reference-{i + 1}" for i in range(JOBS)]
    for student in students:
        submit(course, student, assignment, reference)
    start = time.monotonic()
    done = autograde(assignment, course=course, jobs=JOBS, force=True, progress=False)
    seconds = time.monotonic() - start
    errors = [f"{d.student}: {d.error}"[:300] for d in done if not d.ok]
    rows = []
    for r in grades(course=course, assignment=assignment):
        automatic = [(s, m) for s, m in r.parts.values() if s is not None]  # None: a written answer, by hand
        rows.append((r.student, sum(s for s, _ in automatic), sum(m for _, m in automatic),
                     sum(m for s, m in r.parts.values() if s is None)))
    seen = []
    for student in students:
        path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
        seen.append(probe_result(nbformat.read(path, as_version=4)) if path.is_file() else "no autograded notebook")
    return Grading(assignment, seconds, rows, seen, errors)


# --- the tables -----------------------------------------------------------------------------------------

def _device_cell(seen: list[dict | str]) -> str:
    labels = "; ".join(sorted({device_label(s) for s in seen}))
    placed = sorted({_placed(s) for s in seen if isinstance(s, dict)})
    return labels + (f" (op on {', '.join(placed)})" if placed else "")


def notebook_table(runs: list[NotebookRun], *, full: bool) -> str:
    mode = "full" if full else "graded"
    lines = ["| notebook | mode | device seen by TensorFlow in the kernel | ml4p.device strategy | wall (s) "
             "| ran without errors | first error |",
             "| --- | --- | --- | --- | ---: | --- | --- |"]
    for r in runs:
        strategy = r.seen["strategy"] if isinstance(r.seen, dict) else "?"
        error = r.errors[0].replace("|", "\\|") if r.errors else ""
        lines.append(f"| {r.assignment} | {mode} | {_device_cell([r.seen])} | {strategy} | {r.seconds:.1f} "
                     f"| {'yes' if r.ok else 'NO'} | {error} |")
    return "\n".join(lines)


def grading_table(gradings: list[Grading]) -> str:
    lines = ["| assignment | submissions | wall (s) | grades (autograded score / max) | full marks "
             "| device seen by the graded kernels | errors |",
             "| --- | --- | ---: | --- | --- | --- | --- |"]
    for g in gradings:
        scores = ", ".join(f"{s:g} / {m:g}" for _, s, m, _ in g.grades) or "none"
        by_hand = max((h for *_, h in g.grades), default=0)
        scores += f" (+{by_hand:g} by hand)" if by_hand else ""
        errors = "; ".join(g.errors).replace("|", "\\|")
        lines.append(f"| {g.assignment} | {JOBS} × reference, --jobs {JOBS} | {g.seconds:.1f} | {scores} "
                     f"| {'yes' if g.full_marks else 'NO'} | {_device_cell(g.seen)} | {errors} |")
    return "\n".join(lines)


def _names(value: str | None, materials: Path) -> list[str]:
    known = assignment_names(materials)
    if not value:
        return known
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown assignment(s) {', '.join(unknown)} in {materials}: known are {', '.join(known)}")
    return names


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", help="comma-separated notebooks to run (default: every assignment)")
    parser.add_argument("--grade", help="comma-separated assignments to grade (default: those of --assignments)")
    parser.add_argument("--skip-notebooks", action="store_true", help="grade only")
    parser.add_argument("--skip-grading", action="store_true", help="run the notebooks only")
    parser.add_argument("--full", action="store_true",
                        help="run the notebooks' long demonstrations too (default: graded mode, which skips them)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may run (notebooks and grading)")
    parser.add_argument("--cpu-devices", type=int, default=0, metavar="N",
                        help="smoke mode: hide GPUs, split the CPU into N logical devices in every kernel")
    parser.add_argument("--materials", type=Path, help="folder with assignments/ autograder/ solutions/ "
                        "(default: this repository)")
    args = parser.parse_args(argv)
    if args.cpu_devices < 0:
        parser.error("--cpu-devices must be at least 1 (0: off)")
    materials = (args.materials or materials_root()).resolve()
    to_run = [] if args.skip_notebooks else _names(args.assignments, materials)
    to_grade = [] if args.skip_grading else _names(args.grade or args.assignments, materials)
    started = time.monotonic()
    runs = []
    for a in to_run:
        runs.append(run_notebook(materials, a, full=args.full, cpu_devices=args.cpu_devices, timeout=args.timeout))
        r = runs[-1]
        _say(f"notebook {a}: {r.seconds:.1f} s, {device_label(r.seen)}, {'ok' if r.ok else r.errors[0]}")
    gradings = []
    with tempfile.TemporaryDirectory(prefix="ml4p-accel-") as tmp:
        for a in to_grade:
            gradings.append(grade(materials, a, Path(tmp), cpu_devices=args.cpu_devices, timeout=args.timeout))
            g = gradings[-1]
            _say(f"graded {a}: {g.seconds:.1f} s, full marks {g.full_marks}, {_device_cell(g.seen)}")
    smoke = (f"; smoke mode: GPUs hidden, the CPU split into {args.cpu_devices} logical devices in every kernel"
             if args.cpu_devices else "")
    lines = ["## Accelerator run", "", *machine(), "",
             f"Total {time.monotonic() - started:.0f} s{smoke}.", ""]
    if runs:
        lines += ["### Solution notebooks (nbclient, a plain kernel)", "",
                  "Mode: " + ("full: every cell, the long demonstrations included." if args.full else
                              "graded: `NBGRADER_EXECUTION=validate`, the long demonstrations skipped as when "
                              "grading (`--full` runs them)."), "",
                  notebook_table(runs, full=args.full), ""]
    if gradings:
        lines += [f"### The demo graded, {JOBS} jobs sharing the device (`ml4p autograde --jobs {JOBS}`, "
                  "sandboxed kernels)", "", grading_table(gradings), ""]
    out = "\n".join(lines)
    print(out)
    return out


if __name__ == "__main__":
    main()
