"""The cgroup adapter against file trees laid out as the kernel lays them out (v2 and v1): what it
writes for a capacity, what it reads back, and why it declines when nothing is writable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kura.engines import cgroups


def _v2(root: Path) -> None:
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")


def _v1(root: Path) -> None:
    for controller in cgroups.V1_CONTROLLERS:
        (root / controller).mkdir()


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cgroups, "ROOT", tmp_path)
    return tmp_path


@pytest.mark.skipif(os.geteuid() != 0, reason="support() needs root")
def test_v2_limits_and_usage(root: Path) -> None:
    _v2(root)
    assert cgroups.support().mode is cgroups.Mode.V2
    group = cgroups.Group(cgroups.Mode.V2, "kura-test", "db-1")
    (root / "kura-test").mkdir()  # the kernel makes a new group's control files; this tree cannot
    (root / "kura-test" / "cgroup.subtree_control").write_text("")
    group.ensure()
    assert (root / "cgroup.subtree_control").read_text() in ("+cpu +memory", "+memory +cpu")
    leaf = root / "kura-test" / "db-1"
    (leaf / "cgroup.procs").write_text("")
    group.limit(1.5, 3 << 30)
    assert (leaf / "cpu.max").read_text() == "150000 100000"
    assert group.limits() == (1.5, 3 << 30)
    (leaf / "cpu.stat").write_text("usage_usec 2500000\nnr_periods 40\nnr_throttled 10\n")
    (leaf / "memory.stat").write_text("anon 1000\ninactive_file 4096\n")
    (leaf / "memory.current").write_text("10240\n")
    assert group.usage() == cgroups.Usage(2.5, 10240 - 4096, 40, 10)


@pytest.mark.skipif(os.geteuid() != 0, reason="support() needs root")
def test_v1_limits_and_usage(root: Path) -> None:
    _v1(root)
    assert cgroups.support().mode is cgroups.Mode.V1
    group = cgroups.Group(cgroups.Mode.V1, "kura-test", "db-1")
    group.ensure()
    group.limit(0.25, 1 << 30)
    assert (root / "cpu" / "kura-test" / "db-1" / "cpu.cfs_quota_us").read_text() == "25000"
    assert group.limits() == (0.25, 1 << 30)
    (root / "cpuacct" / "kura-test" / "db-1" / "cpuacct.usage").write_text("3000000000\n")
    (root / "cpu" / "kura-test" / "db-1" / "cpu.stat").write_text("nr_periods 5\nnr_throttled 5\n")
    (root / "memory" / "kura-test" / "db-1" / "memory.stat").write_text("total_inactive_file 100\n")
    (root / "memory" / "kura-test" / "db-1" / "memory.usage_in_bytes").write_text("1100\n")
    assert group.usage() == cgroups.Usage(3.0, 1000, 5, 5)


def test_nothing_writable_says_why(root: Path) -> None:
    found = cgroups.support()
    assert found.mode is cgroups.Mode.NONE and not found.enforced and found.reason


def test_groups_of_two_homes_never_share_a_parent(tmp_path: Path) -> None:
    assert cgroups.parent_name(tmp_path / "a") != cgroups.parent_name(tmp_path / "b")
    assert cgroups.parent_name(tmp_path / "a").startswith("kura-")
