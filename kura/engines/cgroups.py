"""Control groups that hold one database's processes: a CPU quota and a memory limit that are really
enforced, and what the group used (CPU time, memory) for the scaler to decide on.

v2 (one unified hierarchy, `cpu.max` / `memory.max`) and v1 (separate `cpu`, `cpuacct` and `memory`
hierarchies, `cpu.cfs_quota_us` / `memory.limit_in_bytes`) are both supported. Where neither is
writable — no root, a read-only /sys/fs/cgroup, controllers not delegated — `support()` says why, and
callers go on without enforcement (and say so).

Every group Kura makes lives under one parent named for its home (`kura-<hash>`), so two Kuras on one
host never touch each other's groups, and a leftover empty group can be removed by name.
"""

from __future__ import annotations

import enum
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(os.environ.get("KURA_CGROUP_ROOT", "/sys/fs/cgroup"))
V1_CONTROLLERS = ("cpu", "cpuacct", "memory")
PERIOD_US = 100_000
UNLIMITED_V1 = str(1 << 62)


class Mode(enum.Enum):
    V2 = "v2"
    V1 = "v1"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Support:
    mode: Mode
    reason: str  # why there is no enforcement, or where the groups live

    @property
    def enforced(self) -> bool:
        return self.mode is not Mode.NONE


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_seconds: float  # cumulative CPU time of everything that ran in the group
    memory_bytes: int  # resident use without the reclaimable page cache (the working set)
    periods: int  # cumulative count of quota periods in which the group ran
    throttled: int  # of those, the periods in which the quota stopped it


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _v2_root() -> Path | None:
    for base in (ROOT, ROOT / "unified"):
        try:
            controllers = (base / "cgroup.controllers").read_text().split()
        except OSError:
            continue
        if {"cpu", "memory"} <= set(controllers) and _writable(base):
            return base
    return None


def support() -> Support:
    """Which cgroup version Kura may write here, or why none."""
    if os.geteuid() != 0:
        return Support(Mode.NONE, "Kura does not run as root: cgroups are not writable")
    if _v2_root() is not None:
        return Support(Mode.V2, f"cgroup v2 at {_v2_root()}")
    if all(_writable(ROOT / c) for c in V1_CONTROLLERS):
        return Support(Mode.V1, f"cgroup v1 at {ROOT}/{{cpu,cpuacct,memory}}")
    return Support(Mode.NONE, f"neither cgroup v2 with the cpu and memory controllers nor writable v1 "
                   f"cpu, cpuacct and memory hierarchies under {ROOT}")


def parent_name(home: Path) -> str:
    return "kura-" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]


def _read(path: Path) -> str:
    return path.read_text().strip()


def _stat(path: Path) -> dict[str, int]:
    out = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


class Group:
    """One database's group (the same name in each hierarchy under v1)."""

    def __init__(self, mode: Mode, parent: str, name: str) -> None:
        if mode is Mode.NONE:
            raise ValueError("no cgroup support")
        self.mode, self.parent, self.name = mode, parent, name

    def _dirs(self) -> dict[str, Path]:
        if self.mode is Mode.V2:
            base = _v2_root() or ROOT
            return {"all": base / self.parent / self.name}
        return {c: ROOT / c / self.parent / self.name for c in V1_CONTROLLERS}

    def ensure(self) -> None:
        if self.mode is Mode.V2:
            base = _v2_root() or ROOT
            parent = base / self.parent
            parent.mkdir(exist_ok=True)
            for level in (base, parent):  # the controllers must be enabled for the children
                wanted = {"cpu", "memory"} - set(_read(level / "cgroup.subtree_control").split())
                if wanted:
                    (level / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in wanted))
        for path in self._dirs().values():
            path.mkdir(parents=True, exist_ok=True)

    def exists(self) -> bool:
        return all(p.is_dir() for p in self._dirs().values())

    def pids(self) -> set[int]:
        path = next(iter(self._dirs().values())) / "cgroup.procs"
        try:
            return {int(x) for x in _read(path).split()}
        except (OSError, ValueError):
            return set()

    def attach(self, pids: list[int]) -> None:
        """Move these processes in (a process that exited meanwhile is skipped)."""
        for path in self._dirs().values():
            for pid in pids:
                try:
                    (path / "cgroup.procs").write_text(str(pid))
                except ProcessLookupError:
                    continue
                except OSError as exc:
                    if exc.errno != 3:  # ESRCH
                        raise

    def limit(self, cpus: float, memory: int) -> None:
        """At most `cpus` cores (a CFS quota per 100 ms) and `memory` bytes."""
        quota = max(1000, int(cpus * PERIOD_US))
        dirs = self._dirs()
        if self.mode is Mode.V2:
            (dirs["all"] / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            (dirs["all"] / "memory.max").write_text(str(memory))
            return
        (dirs["cpu"] / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
        (dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory))

    def limits(self) -> tuple[float, int]:
        """The enforced (cores, memory bytes), as the kernel reports them."""
        dirs = self._dirs()
        if self.mode is Mode.V2:
            quota, period = _read(dirs["all"] / "cpu.max").split()
            cores = float("inf") if quota == "max" else int(quota) / int(period)
            memory = _read(dirs["all"] / "memory.max")
            return cores, (1 << 62) if memory == "max" else int(memory)
        quota_us = int(_read(dirs["cpu"] / "cpu.cfs_quota_us"))
        cores = float("inf") if quota_us < 0 else quota_us / int(_read(dirs["cpu"] / "cpu.cfs_period_us"))
        return cores, int(_read(dirs["memory"] / "memory.limit_in_bytes"))

    def usage(self) -> Usage:
        dirs = self._dirs()
        if self.mode is Mode.V2:
            cpu = _stat(dirs["all"] / "cpu.stat")
            mem = _stat(dirs["all"] / "memory.stat")
            current = int(_read(dirs["all"] / "memory.current"))
            return Usage(cpu.get("usage_usec", 0) / 1e6, max(0, current - mem.get("inactive_file", 0)),
                         cpu.get("nr_periods", 0), cpu.get("nr_throttled", 0))
        used = int(_read(dirs["cpuacct"] / "cpuacct.usage")) / 1e9
        mem = _stat(dirs["memory"] / "memory.stat")
        current = int(_read(dirs["memory"] / "memory.usage_in_bytes"))
        cpu = _stat(dirs["cpu"] / "cpu.stat")
        return Usage(used, max(0, current - mem.get("total_inactive_file", 0)), cpu.get("nr_periods", 0),
                     cpu.get("nr_throttled", 0))

    def remove(self) -> bool:
        """Remove the (empty) group; False while processes are still in it."""
        removed = True
        for path in self._dirs().values():
            try:
                path.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                removed = False
        return removed


def remove_parent(mode: Mode, parent: str) -> None:
    """Remove what is left of a home's groups: the empty ones, then the parent if it is empty."""
    if mode is Mode.NONE:
        return
    if mode is Mode.V2:
        bases = [(_v2_root() or ROOT) / parent]
    else:
        bases = [ROOT / c / parent for c in V1_CONTROLLERS]
    for base in bases:
        if not base.is_dir():
            continue
        for child in base.iterdir():
            if child.is_dir():
                try:
                    child.rmdir()
                except OSError:
                    continue
        try:
            base.rmdir()
        except OSError:
            continue
