"""Smoke tests: each benchmark runs at tiny size (the grading ones on the toy assignment), so that none can rot."""
import importlib.util
import sys
from pathlib import Path

import pytest
from toy import A, write_materials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def test_hidden_checks_benchmark_prints_its_table(tmp_path):
    """Does the hidden-check timing run once and report the solution at full marks?"""
    import hidden_checks

    materials = write_materials(tmp_path / "materials")
    table = hidden_checks.main(["--assignment", A, "--repeat", "1", "--materials", str(materials)])
    row = table.splitlines()[-1]
    assert row.startswith(f"| {A} |") and row.endswith("| yes |")


def test_autograde_class_benchmark_prints_its_table(tmp_path):
    """Does the class benchmark run at two students, report every ratio with its target and full marks, and
    run.py turn it into its rows?"""
    import run

    materials = write_materials(tmp_path / "materials")
    rows, table = run.autograde_class_rows({"assignment": A, "students": 2, "memory_runs": 2, "repeat": 1,
                                            "materials": materials})
    lines = table.splitlines()
    assert len(lines) == 9 and "| True, True | | |" in lines[-1]
    memory = next(line for line in lines if line.startswith("| grader memory over 2 gradings: before / first"))
    assert all(float(mb) > 0 for mb in memory.split("|")[2].split("/"))
    assert len(rows) == 3
    assert rows[0].startswith(f"| one {A} submission graded by ml4p") and rows[2].startswith("| grader memory over 2")
    assert rows[1].startswith("| 2 submissions, ml4p autograde --jobs 2 |")
    for row in rows:  # a ratio, a target and a verdict each
        ratio, target, judged = (c.strip() for c in row.strip("|").split("|")[3:6])
        assert float(ratio) > 0 and target and judged.startswith(("met", "**missed** ("))


def test_hostile_memory_benchmark_prints_its_table():
    """Does the memory benchmark grade hostile submissions beside the good ones and report the grader's peak
    (workers and checks processes counted) against the good batch's, with a verdict?"""
    import hostile_memory
    import run

    rows, table = run.hostile_memory_rows({"jobs": 2, "only": ["print-50-mb", "returns-nan"]})
    assert "| the hostile suite, --jobs 2 | 4 |" in table
    peak, good, ratio = (c.strip() for c in rows[0].strip("|").split("|")[1:4])
    assert float(peak.split()[0]) >= float(good.split()[-2]) * 0.5 > 50  # MB: Python, nbgrader, a worker
    assert rows[0].rstrip(" |").endswith(("met", ")")) and float(ratio) > 0
    assert hostile_memory.TARGET_RATIO > 1


needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                               reason="JAX is for the benchmarks only: pip install -r benchmarks/requirements.txt")


@needs_jax
def test_metropolis_benchmark_prints_its_table():
    """Does the Metropolis comparison run both implementations at tiny size and report the ratio?"""
    import metropolis

    table = metropolis.main(["--chains", "16", "--n", "4", "--steps", "5", "--repeat", "1"])
    rows = [line for line in table.splitlines() if line.startswith(("| TensorFlow", "| JAX"))]
    assert len(rows) == 2
    for row in rows:
        acceptance = float(row.split("|")[6])
        assert 0 <= acceptance <= 1
    assert "JAX time / TensorFlow time: **" in table


@needs_jax
def test_mnist_benchmark_prints_its_table(monkeypatch):
    """Does the MNIST comparison train all three implementations briefly on the stand-in and report time and
    accuracy?"""
    import mnist_training

    monkeypatch.delenv("ML4P_MNIST", raising=False)
    monkeypatch.setenv("ML4P_DIGITS", "synthetic")
    table = mnist_training.main(["--epochs", "1", "--train-size", "512", "--test-size", "128", "--repeat", "1"])
    rows = [line for line in table.splitlines() if line.startswith(("| TensorFlow", "| JAX"))]
    assert len(rows) == 3 and "synthetic" in table
    for row in rows:
        loss, accuracy, ratio = row.split("|")[4:7]
        assert 0 < float(loss) < 5 and accuracy.strip().endswith("%") and float(ratio) > 0
    assert "TensorFlow time / JAX time: **" in table


@needs_jax
def test_run_prints_one_table_with_verdicts(monkeypatch):
    """Does `run.py --quick` put each comparison in one summary table, with its ratio, target and verdict?"""
    import run

    monkeypatch.delenv("ML4P_MNIST", raising=False)
    monkeypatch.setenv("ML4P_DIGITS", "synthetic")
    monkeypatch.setitem(run.QUICK, "metropolis", {"chains": 16, "n": 4, "dim": 2, "steps": 5, "repeat": 1})
    monkeypatch.setitem(run.QUICK, "mnist", {"epochs": 1, "batch_size": 128, "repeat": 1, "n_train": 512,
                                             "n_test": 128})
    out = run.main(["--quick", "--only", "metropolis", "--only", "mnist"])
    lines = out.splitlines()
    assert lines[0].startswith("Machine: ")
    header = lines.index("| benchmark | measured | compared with | ratio | target | verdict |")
    rows = lines[header + 2:header + 4]
    assert rows[0].startswith("| Coulomb gas Metropolis") and rows[1].startswith("| MNIST MLP")
    for row in rows:
        assert row.rstrip(" |").endswith(("met", ")"))
