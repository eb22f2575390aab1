"""All the benchmarks of the performance targets, one Markdown table.

    pip install -r benchmarks/requirements.txt
    ML4P_MNIST=/path/to/mnist.npz python benchmarks/run.py            # full size, ~25 minutes
    python benchmarks/run.py --quick                                  # small sizes, a few minutes

Runs, one after the other in this process: the Coulomb gas Metropolis
(`metropolis.py`), the MNIST training (`mnist_training.py`), the hidden checks'
time per assignment (`hidden_checks.py`), a class graded by ml4p
(`autograde_class.py`) and the grader's memory under the hostile suite
(`hostile_memory.py`); prints the machine, the date, one row per comparison
with its ratio, target and verdict, and then each benchmark's own table.
`--only NAME` (repeatable) runs a subset.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import verdict  # noqa: E402

import ml4p  # noqa: E402,F401 - quiet TensorFlow before it is imported

FULL = {
    "metropolis": {"chains": 8192, "n": 20, "dim": 2, "steps": 500, "repeat": 3},
    "mnist": {"epochs": 10, "batch_size": 128, "repeat": 2},
    "hidden_checks": ["--repeat", "3"],
    "autograde_class": {"students": 40, "memory_runs": 50},
    "hostile_memory": {"jobs": 2},
}
QUICK = {
    "metropolis": {"chains": 1024, "n": 20, "dim": 2, "steps": 50, "repeat": 1},
    "mnist": {"epochs": 1, "batch_size": 128, "repeat": 1, "n_train": 6000, "n_test": 2000},
    "hidden_checks": ["--repeat", "1"],
    "autograde_class": {"students": 2, "memory_runs": 2, "repeat": 1},
    "hostile_memory": {"jobs": 2},
}
NAMES = tuple(FULL)


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}"]
    for module in ("tensorflow", "jax"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            pass
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; {', '.join(versions)}"


def metropolis_rows(settings: dict) -> tuple[list[str], str]:
    import metropolis

    m = metropolis.measure(**settings)
    tf_row, jax_row = m["rows"]
    v = metropolis.verdicts(m)
    missed = []
    if not v["ratio_met"]:
        missed.append(f"JAX / TF by {metropolis.TARGET / v['ratio']:.2f}×")
    if not v["share_met"]:
        missed.append(f"share of the limit by {metropolis.LIMIT_TARGET / v['share']:.2f}×")
    row = (f"| Coulomb gas Metropolis, {m['chains']} chains × {m['n']} × {m['dim']}D × {m['steps']} steps, float64 "
           f"| TF solution {tf_row['seconds']:.2f} s ({v['share']:.1%} of the 1/sqrt limit) "
           f"| JAX {jax_row['seconds']:.2f} s ({metropolis.share(m, jax_row):.1%}) | JAX / TF = {v['ratio']:.2f} "
           f"| ≥ {metropolis.TARGET:g}, TF ≥ {metropolis.LIMIT_TARGET:.0%} of the limit "
           f"| {verdict(not missed, '; '.join(missed))} |")
    return [row], metropolis.table(m)


def mnist_rows(settings: dict) -> tuple[list[str], str]:
    import mnist_training as mt

    m = mt.measure(**settings)
    tf_row, jax_row = m["rows"][mt.SOLUTION], m["rows"][mt.JAX]
    ratio = tf_row["seconds"] / jax_row["seconds"]
    accuracy = min(tf_row["accuracy"])
    # The accuracy target is for the notebook's training: all of MNIST, 10 epochs.
    judged = m["data"] == "MNIST" and m["n_train"] == 60000 and m["epochs"] >= 10
    accurate = accuracy >= mt.REQUIRED_ACCURACY or not judged
    missed = []
    if ratio > mt.TARGET:
        missed.append(f"time by {ratio / mt.TARGET:.2f}×")
    if not accurate:
        missed.append(f"accuracy by {mt.REQUIRED_ACCURACY - accuracy:.2%}")
    row = (f"| MNIST MLP, {m['epochs']} epoch(s), batch {m['batch_size']}, {m['n_train']} images of {m['data']} "
           f"| TF solution {tf_row['seconds']:.1f} s, {accuracy:.2%} "
           f"| JAX {jax_row['seconds']:.1f} s, {min(jax_row['accuracy']):.2%} | TF / JAX = {ratio:.2f} "
           f"| ≤ {mt.TARGET:g} at ≥ {mt.REQUIRED_ACCURACY:.1%} "
           f"| {verdict(not missed, ', '.join(missed))}{'' if judged else ' (accuracy not judged at this size)'} |")
    return [row], mt.table(m)


def hidden_checks_rows(argv: list[str]) -> tuple[list[str], str]:
    import hidden_checks as hc

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int)
    repeat = parser.parse_args(argv).repeat
    from ml4p.course import assignment_names, materials_root

    results = [hc.measure(a, repeat) for a in assignment_names(materials_root())]
    rows = []
    for r in results:
        over = r["checks"] - hc.TARGET_SECONDS
        missed = f"by {over:.1f} s" if over > 0 else "the solution lost points"
        rows.append(f"| hidden checks of {r['assignment']} (solution, sandboxed kernel, median of {repeat}) "
                    f"| checks {r['checks']:.1f} s, full marks: {'yes' if r['full_marks'] else 'NO'} "
                    f"| kernel start + notebook {r['execute']:.1f} s | | ≤ {hc.TARGET_SECONDS:g} s "
                    f"| {verdict(over <= 0 and r['full_marks'], missed)} |")
    return rows, f"{hc.table(results)}\n\nWhere the checks' time goes:\n\n{hc.slowest(results, 4)}"


def autograde_class_rows(settings: dict) -> tuple[list[str], str]:
    import autograde_class as ac

    m = ac.measure(**settings)
    v = ac.verdicts(m)
    memory = m["memory"][1:]
    rows = [f"| one {m['assignment']} submission graded by ml4p (sandbox + hidden checks + gradebook) | {m['one']:.1f} s "
            f"| bare nbclient execution {m['bare']:.1f} s | {m['one_ratio']:.2f} | ≤ {ac.SUBMISSION_TARGET:g} "
            f"| {verdict(*v['one'])} |",
            f"| {m['students']} submissions, ml4p autograde --jobs 2 | {m['jobs2']:.1f} s "
            f"| plain nbgrader autograde (serial, no sandbox, no checks) {m['nbgrader']:.1f} s "
            f"| {m['jobs2_ratio']:.2f} | ≤ {ac.JOBS_TARGET:g}, every submission at full marks "
            f"| {verdict(*v['jobs2'])} |"]
    if memory:
        rows.append(f"| grader memory over {len(memory)} gradings, one at a time | last {memory[-1]:.0f} MB "
                    f"| first {memory[0]:.0f} MB | {memory[-1] / memory[0]:.2f} | last ≤ first + {ac.FLAT_MB:g} MB "
                    f"| {verdict(*v['memory'])} |")
    return rows, ac.table(m)


def hostile_memory_rows(settings: dict) -> tuple[list[str], str]:
    import hostile_memory as hm

    m = hm.measure(**settings)
    row = (f"| grader's peak memory (its workers and checks processes included) under the hostile suite, "
           f"{m['submissions']} submissions, --jobs {m['jobs']} | {m['peak']:.0f} MB "
           f"| the two good submissions alone {m['good_peak']:.0f} MB | {m['ratio']:.2f} | ≤ {hm.TARGET_RATIO:g} "
           f"| {hm.verdict(m)} |")
    return [row], hm.table(m)


RUNNERS = {"metropolis": metropolis_rows, "mnist": mnist_rows, "hidden_checks": hidden_checks_rows,
           "autograde_class": autograde_class_rows, "hostile_memory": hostile_memory_rows}


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that everything runs, not figures")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only this benchmark (repeatable)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    rows, details = [], []
    for name in args.only or NAMES:
        r, table = RUNNERS[name](settings[name])
        rows += r
        details.append(f"### {name}\n\n{table}\n")
    lines = [f"Machine: {machine()}; {datetime.date.today().isoformat()}"
             f"{' (--quick: small sizes, not the figures of record)' if args.quick else ''}.", "",
             "| benchmark | measured | compared with | ratio | target | verdict |",
             "| --- | --- | --- | ---: | --- | --- |", *rows, "", *details]
    out = "\n".join(lines)
    print(out)
    return out


if __name__ == "__main__":
    main()
