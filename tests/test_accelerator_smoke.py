"""Smoke test of benchmarks/accelerator.py without a GPU: every kernel on 2 logical CPU devices.

A real notebook (oscillator) runs in a plain kernel and the toy assignment's reference is graded twice,
two sandboxed kernels at once, so that the whole path of the GPU benchmark runs here.
"""
import shutil
import sys
from pathlib import Path

import pytest
from toy import A, write_materials

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def rows_after(out: str, header_start: str) -> list[list[str]]:
    """The cells of the Markdown table whose header starts with `header_start`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def test_device_labels_say_what_tensorflow_saw():
    """Does the probe's line become "GPU: <name>" on a GPU, and say so when a GPU was found but not usable?"""
    import accelerator
    import nbformat

    seen = {"tensorflow": "2.21.0", "built_with_cuda": True, "gpus": ["NVIDIA H100 80GB HBM3"], "visible_gpus": 1,
            "logical_gpus": 1, "logical_cpus": 1, "placed": "/job:localhost/replica:0/task:0/device:GPU:0",
            "strategy": "1 GPU"}
    nb = accelerator.instrumented(nbformat.v4.new_notebook())
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                   text=f"{accelerator.MARK} {accelerator.json.dumps(seen)}\n")]
    assert accelerator.probe_result(nb) == seen
    assert accelerator.device_label(seen) == "GPU: NVIDIA H100 80GB HBM3"
    assert accelerator._placed(seen) == "GPU:0"
    assert accelerator.device_label({**seen, "logical_gpus": 0}) == "CPU; 1 GPU(s) found but not initialised"
    assert accelerator.device_label({**seen, "logical_gpus": 0, "visible_gpus": 0, "logical_cpus": 2}) == \
        "CPU (2 logical devices); 1 GPU(s) hidden"
    nb.cells[-1].outputs = []
    assert accelerator.device_label(accelerator.probe_result(nb)) == "not measured (probe did not run)"


@pytest.mark.slow
def test_accelerator_benchmark_on_logical_cpu_devices(tmp_path):
    """Does a real notebook run without errors on the 2 logical CPU devices it was given, mirrored over by
    ml4p.device's strategy, and do two graded kernels at once see them too and give the reference full marks?"""
    import accelerator

    materials = write_materials(tmp_path / "materials")
    shutil.copytree(ROOT / "assignments" / "oscillator", materials / "assignments" / "oscillator")
    out = accelerator.main(["--materials", str(materials), "--assignments", "oscillator", "--grade", A,
                            "--cpu-devices", "2", "--timeout", "120"])
    assert "GPUs: " in out and "Sandbox: " in out and "2 logical devices in every kernel" in out
    (run,) = rows_after(out, "| notebook |")
    assert run[:4] == ["oscillator", "graded", "CPU (2 logical devices) (op on CPU:0)",
                       "2 logical CPUs (MirroredStrategy)"]
    assert float(run[4]) > 0 and run[5:] == ["yes", ""]
    (graded,) = rows_after(out, "| assignment | submissions |")
    assert graded[0] == A and graded[1] == "2 × reference, --jobs 2" and float(graded[2]) > 0
    assert graded[3:] == ["2 / 2, 2 / 2", "yes", "CPU (2 logical devices) (op on CPU:0)", ""]
