"""Does each sandbox get a bounded share of CPU, memory and processes as a group?

Path discovery is tested on fake trees everywhere; the limits themselves only
where the real cgroups work (root, v1 or delegated v2).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ml4p.grading import cgroups
from ml4p.grading.cgroups import CgroupError, Layout, SandboxGroup, Share, find_layout

MB = 1 << 20
real_cgroups = pytest.mark.skipif(
    os.geteuid() != 0 or cgroups.unavailable_reason() != "",
    reason=f"cgroups unavailable: {cgroups.unavailable_reason() or 'not root'}",
)
_names = itertools.count()

V1_PROC = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct,cpu:/user.slice
0::/
"""


def fake_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# --- pure path decisions: fake /proc/self/cgroup and fake mount trees --------------------


def test_v1_groups_go_under_the_graders_own_cgroup_of_each_controller(tmp_path: Path) -> None:
    """v1: is each parent the grader's own cgroup in that controller's hierarchy?"""
    for d in ("pids", "memory/process_api/abc", "cpu/user.slice", "unified"):
        (tmp_path / d).mkdir(parents=True)
    layout = find_layout(V1_PROC, tmp_path)
    assert layout == Layout(1, {"cpu": tmp_path / "cpu/user.slice",
                                "memory": tmp_path / "memory/process_api/abc",
                                "pids": tmp_path / "pids"})  # fmt: skip


def test_v1_without_a_controller_or_own_directory_is_unavailable(tmp_path: Path) -> None:
    """v1: does a missing pids mount, or a missing own directory, give a reason?"""
    (tmp_path / "memory/process_api/abc").mkdir(parents=True)
    (tmp_path / "cpu/user.slice").mkdir(parents=True)
    assert "pids" in find_layout(V1_PROC, tmp_path)  # type: ignore[operator]
    (tmp_path / "pids").mkdir()
    (tmp_path / "memory/process_api/abc").rmdir()
    reason = find_layout(V1_PROC, tmp_path)
    assert isinstance(reason, str) and "memory:/process_api/abc" in reason


def test_paths_climbing_out_of_the_mount_are_refused(tmp_path: Path) -> None:
    """Is an own cgroup shown as /../x (outside our cgroup namespace) refused?"""
    for d in ("pids", "memory", "cpu", "x"):
        (tmp_path / d).mkdir()
    text = "3:pids:/\n2:memory:/../x\n1:cpu:/\n"
    assert isinstance(find_layout(text, tmp_path), str)


def test_v2_with_delegated_controllers_uses_the_own_directory(tmp_path: Path) -> None:
    """v2: with cpu, memory, pids in subtree_control, is the own directory the parent?"""
    fake_tree(tmp_path, {"cgroup.controllers": "cpuset cpu io memory pids",
                         "grader.slice/cgroup.controllers": "cpu memory pids io",
                         "grader.slice/cgroup.subtree_control": "cpu memory pids"})  # fmt: skip
    own = tmp_path / "grader.slice"
    layout = find_layout("0::/grader.slice\n", tmp_path)
    assert layout == Layout(2, {"cpu": own, "memory": own, "pids": own})


def test_v2_controllers_available_but_not_enabled_are_to_be_enabled(tmp_path: Path) -> None:
    """v2: are controllers listed in cgroup.controllers but not yet enabled marked to enable?"""
    fake_tree(tmp_path, {"cgroup.controllers": "cpu memory pids",
                         "g/cgroup.controllers": "cpu memory pids",
                         "g/cgroup.subtree_control": "memory"})  # fmt: skip
    layout = find_layout("0::/g\n", tmp_path)
    assert isinstance(layout, Layout) and layout.to_enable == ("cpu", "pids")


def test_v2_without_delegation_is_unavailable_with_a_reason(tmp_path: Path) -> None:
    """v2: with cpu and pids not delegated to the grader's cgroup, is the reason given?"""
    fake_tree(tmp_path, {"cgroup.controllers": "cpu memory pids",
                         "user@1000.service/cgroup.controllers": "memory",
                         "user@1000.service/cgroup.subtree_control": ""})  # fmt: skip
    reason = find_layout("0::/user@1000.service\n", tmp_path)
    assert isinstance(reason, str) and "cpu pids not delegated" in reason


def test_wrap_joins_before_exec_and_fails_closed(tmp_path: Path) -> None:
    """Does the wrapper write its own pid (kept by exec) to every file, and exit 97 if it can't?"""
    procs = [tmp_path / "it's one", tmp_path / "$(touch pwned)"]
    command = cgroups._join_command(procs, [sys.executable, "-c", "import os; print(os.getpid())"])
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert [p.read_text() for p in procs] == [out.stdout] * 2
    assert not (tmp_path / "pwned").exists()
    marker = tmp_path / "ran"
    command = cgroups._join_command([tmp_path / "gone/cgroup.procs"], ["touch", str(marker)])
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == cgroups.JOIN_FAILED and "cannot join" in result.stderr
    assert not marker.exists()


def test_mode_off_and_require(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does ML4P_CGROUPS=off disable groups, and =require turn unavailability into an error?"""
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "off")
    assert cgroups.unavailable_reason() == "ML4P_CGROUPS=off"
    assert cgroups.sandbox_group("x", Share(1, 64 * MB, 16)) is None
    monkeypatch.setattr(cgroups, "_probe", lambda: "no hierarchy (test)")
    monkeypatch.setenv(cgroups.CGROUPS_ENV, "require")
    with pytest.raises(CgroupError, match="no hierarchy"):
        cgroups.sandbox_group("x", Share(1, 64 * MB, 16))
    monkeypatch.delenv(cgroups.CGROUPS_ENV)
    assert cgroups.sandbox_group("x", Share(1, 64 * MB, 16)) is None


def test_names_are_validated() -> None:
    """Are names that could leave ml4p/ (.., slashes) refused before anything is created?"""
    for name in ("..", "a/b", "", "x y"):
        with pytest.raises(ValueError):
            SandboxGroup(name, Share(1, 64 * MB, 16))


# --- real cgroups ------------------------------------------------------------------------


@pytest.fixture
def group_factory():
    made: list[SandboxGroup] = []

    def make(share: Share) -> SandboxGroup:
        made.append(SandboxGroup(f"test-{os.getpid()}-{next(_names)}", share))
        return made[-1]

    yield make
    for group in made:
        group.close()
    layout = cgroups._layout()
    assert isinstance(layout, Layout)
    # only this process's test groups: other graders on the machine may have groups of their own meanwhile
    assert not [p for parent in layout.parents.values() for p in parent.glob(f"ml4p/test-{os.getpid()}-*")]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


BUSY = """
import os, time
end = time.time() + 3
children = []
for _ in range(2):
    if (pid := os.fork()) == 0:
        while time.time() < end:
            pass
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
"""


def cpu_seconds(popen: subprocess.Popen) -> float:
    """CPU seconds of a process that exits 0 and of its waited-for descendants."""
    _, status, usage = os.wait4(popen.pid, 0)
    popen.returncode = os.waitstatus_to_exitcode(status)
    assert popen.returncode == 0
    return usage.ru_utime + usage.ru_stime


@real_cgroups
def test_cpu_share_bounds_the_whole_group(group_factory) -> None:
    """Do 2 busy processes under cpus=0.2 get <= ~0.2 CPU s per wall s, far less than unbounded?

    Side by side, so both see the same load. Other suites may share the machine: free
    runs got 0.5 to 1.7 of its 2 cores, hence the low share and the modest ratio.
    """
    group = group_factory(Share(cpus=0.2, memory_bytes=256 * MB, pids=32))
    start = time.monotonic()
    bounded_run, free_run = subprocess.Popen(group.wrap(python(BUSY))), subprocess.Popen(python(BUSY))
    bounded, wall = cpu_seconds(bounded_run), time.monotonic() - start
    free = cpu_seconds(free_run)
    throttled = dict(line.split() for line in (group._dirs["cpu"] / "cpu.stat").read_text().splitlines())
    print(f"bounded {bounded:.2f} CPU s, free {free:.2f} CPU s, wall {wall:.2f} s, {throttled}")
    assert bounded <= 0.2 * wall * 1.3
    assert int(throttled["nr_throttled"]) > 0  # the share, not the load, held it back
    assert free >= 1.5 * bounded


@real_cgroups
def test_memory_share_kills_the_group_beyond_it(group_factory) -> None:
    """Is a process touching 400 MB under a 200 MB share SIGKILLed, while 50 MB runs fine?"""
    group = group_factory(Share(cpus=1, memory_bytes=200 * MB, pids=32))
    touch = "x = b'\\1' * ({} << 20); print(len(x) >> 20)"
    small = subprocess.run(group.wrap(python(touch.format(50))), capture_output=True, text=True)
    assert small.returncode == 0 and small.stdout == "50\n", small
    peak = group.memory_peak_bytes()
    assert peak is not None and 50 * MB < peak < 200 * MB
    big = subprocess.run(group.wrap(python(touch.format(400))), capture_output=True)
    assert big.returncode == -9, big
    assert group.memory_peak_bytes() <= 200 * MB  # type: ignore[operator]


START_40 = """
import threading, time
started = 0
for _ in range(40):
    try:
        threading.Thread(target=time.sleep, args=(1,), daemon=True).start()
        started += 1
    except RuntimeError:
        pass
print(started)
"""


@real_cgroups
def test_pids_share_bounds_threads_of_the_group(group_factory) -> None:
    """Under pids=16, do fewer than 16 of 40 threads start (all 40 without the group)?"""
    group = group_factory(Share(cpus=1, memory_bytes=256 * MB, pids=16))
    bounded = subprocess.run(group.wrap(python(START_40)), capture_output=True, text=True)
    free = subprocess.run(python(START_40), capture_output=True, text=True)
    assert 0 < int(bounded.stdout) < 16 and int(free.stdout) == 40, (bounded, free)


@real_cgroups
def test_close_kills_leftovers_and_removes_the_group(group_factory) -> None:
    """Does close() kill orphaned background processes, remove every directory, and stay idempotent?"""
    group = group_factory(Share(cpus=1, memory_bytes=256 * MB, pids=32))
    subprocess.run(group.wrap(["/bin/sh", "-c", "sleep 300 & sleep 300 & exit 0"]), check=True)
    left = group._tasks()
    assert len(left) == 2
    dirs = set(group._dirs.values())
    assert all(d.is_dir() for d in dirs)
    group.close()
    group.close()
    assert not [d for d in dirs if d.exists()]
    deadline = time.monotonic() + 5
    while (alive := [p for p in left if Path(f"/proc/{p}").exists()]) and time.monotonic() < deadline:
        time.sleep(0.05)  # killed orphans linger as zombies until init reaps them
    assert not [p for p in alive if "sleep" in Path(f"/proc/{p}/cmdline").read_text()
                and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]  # fmt: skip


@real_cgroups
def test_wrap_of_a_removed_group_refuses_to_run(group_factory, tmp_path: Path) -> None:
    """With its group gone, does the wrapped command exit 97 without running?"""
    group = group_factory(Share(cpus=1, memory_bytes=256 * MB, pids=32))
    inside = subprocess.run(group.wrap(["cat", "/proc/self/cgroup"]), capture_output=True, text=True)
    assert inside.stdout.count(f"/ml4p/{group.name}\n") == len(set(group._dirs.values()))
    group.close()
    marker = tmp_path / "ran"
    result = subprocess.run(group.wrap(["touch", str(marker)]), capture_output=True, text=True)
    assert result.returncode == 97 and "cannot join" in result.stderr
    assert not marker.exists()


@real_cgroups
def test_stale_groups_of_a_killed_grader_are_removed(group_factory) -> None:
    """Are the empty groups of a grader that died before cleaning up removed, while a group that
    still holds a task, or whose owner is alive, stays?"""
    dead = group_factory(Share(cpus=1, memory_bytes=256 * MB, pids=32))
    busy = group_factory(Share(cpus=1, memory_bytes=256 * MB, pids=32))
    living = group_factory(Share(cpus=1, memory_bytes=256 * MB, pids=32))
    sleeper = subprocess.Popen(busy.wrap(["sleep", "30"]))
    try:
        def joined_every_controller() -> bool:  # the wrapper joins one controller's directory at a time
            return all((d / "cgroup.procs").read_text().split() for d in set(busy._dirs.values()))

        deadline = time.monotonic() + 30  # a loaded machine may take seconds to start the wrapper
        while not joined_every_controller() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert joined_every_controller(), "the sleeper never joined its group"
        owners_gone = {dead.name, busy.name}
        removed = cgroups.remove_stale(f"test-{os.getpid()}-", lambda name: name not in owners_gone)
        assert removed == [dead.name] * len(set(dead._dirs.values()))
        assert not any(d.exists() for d in dead._dirs.values())
        assert all(d.exists() for d in [*busy._dirs.values(), *living._dirs.values()])
    finally:
        sleeper.kill()
        sleeper.wait()
