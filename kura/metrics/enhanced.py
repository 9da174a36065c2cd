"""The RDS Enhanced Monitoring document (one RDSOSMetrics log event) from two snapshots of an
instance's processes (kura.metrics.osmetrics) taken an interval apart.

Percentages are of the instance's share of the machine: its class's vCPUs and memory, as on RDS, where
the OS is the instance's own. Sizes are in kB, rates per second, as RDS writes them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kura.metrics import osmetrics
from kura.metrics.osmetrics import Snapshot

KB = 1024
_SECTOR = 512


@dataclass(frozen=True, slots=True)
class Instance:
    identifier: str
    resource_id: str
    engine: str
    vcpus: int
    memory_bytes: int
    data_dir: Path
    started: float  # the postmaster's start (epoch seconds)
    storage_total: int | None = None  # bytes allocated
    storage_used: int | None = None  # bytes, as the control plane last measured them


@dataclass(slots=True)
class Load:
    """Load averages of the instance's tasks (runnable + blocked), decayed as the kernel's are (from 0
    when monitoring starts, as after a boot)."""

    one: float = 0.0
    five: float = 0.0
    fifteen: float = 0.0

    def update(self, tasks: int, seconds: float) -> None:
        for name, span in (("one", 60.0), ("five", 300.0), ("fifteen", 900.0)):
            decay = math.exp(-seconds / span)
            setattr(self, name, getattr(self, name) * decay + tasks * (1 - decay))


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


def _uptime(seconds: float) -> str:
    days, rest = divmod(int(max(0.0, seconds)), 86400)
    return f"{days} days, {rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def _cpu(inst: Instance, old: Snapshot, new: Snapshot, dt: float) -> dict[str, float]:
    capacity = dt * osmetrics.HZ * inst.vcpus
    user = nice = system = wait = 0
    for pid, p in new.procs.items():
        before = old.procs.get(pid)
        if before is None or before.start_ticks != p.start_ticks:
            continue
        spent_user = p.user_ticks - before.user_ticks + p.children_user - before.children_user
        spent = p.cpu_ticks - before.cpu_ticks + p.children_ticks - before.children_ticks
        if p.nice > 0:
            nice += spent_user
        else:
            user += spent_user
        system += spent - spent_user
        wait += p.blkio_ticks - before.blkio_ticks
    host = {k: new.cpu.get(k, 0) - old.cpu.get(k, 0) for k in new.cpu}
    host_total = sum(v for k, v in host.items() if k not in ("guest", "guest_nice")) or 1
    out = {"user": _pct(user, capacity), "nice": _pct(nice, capacity), "system": _pct(system, capacity),
           "wait": _pct(wait, capacity),
           "irq": _pct(host.get("irq", 0) + host.get("softirq", 0), host_total),
           "steal": _pct(host.get("steal", 0), host_total), "guest": _pct(host.get("guest", 0), host_total)}
    busy = min(100.0, sum(out.values()))
    out["idle"] = round(100.0 - busy, 2)
    out["total"] = round(busy, 2)
    return out


def _memory(inst: Instance, snap: Snapshot) -> dict[str, int]:
    totals = {"Pss": 0, "Pss_Anon": 0, "Pss_File": 0, "Pss_Shmem": 0}
    tables = 0
    for pid in snap.procs:
        found = osmetrics.pss(pid)
        for key in totals:
            totals[key] += found.get(key, 0)
        tables += osmetrics.pagetables(pid)
    host = osmetrics.meminfo()
    total = inst.memory_bytes // KB
    return {"total": total, "free": max(0, total - totals["Pss"]), "active": totals["Pss_Anon"],
            "cached": totals["Pss_File"] + totals["Pss_Shmem"], "mapped": totals["Pss_File"],
            "pageTables": tables, "inactive": host.get("Inactive", 0), "buffers": host.get("Buffers", 0),
            "dirty": host.get("Dirty", 0), "writeback": host.get("Writeback", 0), "slab": host.get("Slab", 0),
            "hugePagesTotal": host.get("HugePages_Total", 0), "hugePagesFree": host.get("HugePages_Free", 0),
            "hugePagesRsvd": host.get("HugePages_Rsvd", 0), "hugePagesSurp": host.get("HugePages_Surp", 0),
            "hugePagesSize": host.get("Hugepagesize", 0)}


def _tasks(snap: Snapshot) -> dict[str, int]:
    states = [p.state for p in snap.procs.values()]
    return {"total": len(states), "running": states.count("R"), "blocked": states.count("D"),
            "stopped": sum(states.count(s) for s in ("T", "t")), "zombie": states.count("Z"),
            "sleeping": sum(states.count(s) for s in ("S", "I"))}


def _disk_io(old: Snapshot, new: Snapshot, dt: float) -> list[dict[str, Any]]:
    read = write = 0
    for pid, p in new.procs.items():
        before = old.procs.get(pid)
        if before is not None and p.read_bytes is not None and before.read_bytes is not None:
            read += p.read_bytes - before.read_bytes
            write += (p.write_bytes or 0) - (before.write_bytes or 0)
    out: dict[str, Any] = {"device": "rdsdev", "readKb": read // KB, "writeKb": write // KB,
                           "readKbPS": round(read / KB / dt, 2), "writeKbPS": round(write / KB / dt, 2)}
    if old.disk is not None and new.disk is not None:
        a, b = old.disk, new.disk
        reads, writes = b.reads - a.reads, b.writes - a.writes
        ios = reads + writes
        out |= {"readIOsPS": round(reads / dt, 2), "writeIOsPS": round(writes / dt, 2),
                "rrqmPS": round((b.read_merges - a.read_merges) / dt, 2),
                "wrqmPS": round((b.write_merges - a.write_merges) / dt, 2), "tps": round(ios / dt, 2),
                "await": round((b.read_ms - a.read_ms + b.write_ms - a.write_ms) / ios, 2) if ios else 0.0,
                "util": round(min(100.0, (b.busy_ms - a.busy_ms) / (dt * 10)), 2),
                "avgQueueLen": round((b.queue_ms - a.queue_ms) / (dt * 1000), 2),
                "avgReqSz": round((b.read_sectors - a.read_sectors + b.write_sectors - a.write_sectors)
                                  * _SECTOR / KB / ios, 2) if ios else 0.0}
    return [out]


def _file_sys(inst: Instance) -> list[dict[str, Any]]:
    try:
        vfs = os.statvfs(inst.data_dir)
        files, free_files = vfs.f_files, vfs.f_ffree
    except OSError:
        files = free_files = 0
    total = (inst.storage_total or 0) // KB
    used = (inst.storage_used or 0) // KB
    return [{"name": "rdsfilesys", "mountPoint": "/rdsdbdata", "total": total, "used": used,
             "usedPercent": _pct(used, total), "maxFiles": files, "usedFiles": files - free_files,
             "usedFilePercent": _pct(files - free_files, files)}]


def _network(old: Snapshot, new: Snapshot, dt: float) -> list[dict[str, Any]]:
    return [{"interface": name, "rx": round((rx - old.net[name][0]) / dt, 2),
             "tx": round((tx - old.net[name][1]) / dt, 2)}
            for name, (rx, tx) in sorted(new.net.items()) if name in old.net]


def _processes(inst: Instance, old: Snapshot, new: Snapshot, dt: float) -> list[dict[str, Any]]:
    out = []
    for pid, p in sorted(new.procs.items()):
        before = old.procs.get(pid)
        spent = p.cpu_ticks - before.cpu_ticks if before and before.start_ticks == p.start_ticks else 0
        out.append({"name": p.name, "id": pid, "parentID": p.ppid, "tgid": pid, "vss": p.vss // KB,
                    "rss": p.rss // KB, "memoryUsedPc": _pct(p.rss, inst.memory_bytes),
                    "cpuUsedPc": _pct(spent, dt * osmetrics.HZ * inst.vcpus), "vmlimit": "unlimited"})
    return out


def _swap(old: Snapshot, new: Snapshot, dt: float) -> dict[str, float]:
    host = osmetrics.meminfo()
    page_kb = osmetrics.PAGE // KB
    return {"total": host.get("SwapTotal", 0), "free": host.get("SwapFree", 0),
            "cached": host.get("SwapCached", 0),
            "in": round((new.vmstat.get("pswpin", 0) - old.vmstat.get("pswpin", 0)) * page_kb / dt, 2),
            "out": round((new.vmstat.get("pswpout", 0) - old.vmstat.get("pswpout", 0)) * page_kb / dt, 2)}


def document(inst: Instance, old: Snapshot, new: Snapshot, load: Load, now: float) -> dict[str, Any]:
    """The RDSOSMetrics event for the interval between `old` and `new` (taken at `now`)."""
    dt = max(1e-3, new.at - old.at)
    return {
        "engine": inst.engine, "instanceID": inst.identifier, "instanceResourceID": inst.resource_id,
        "timestamp": datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "version": 1.0,
        "uptime": _uptime(now - inst.started), "numVCPUs": inst.vcpus,
        "cpuUtilization": _cpu(inst, old, new, dt),
        "loadAverageMinute": {"one": round(load.one, 2), "five": round(load.five, 2),
                              "fifteen": round(load.fifteen, 2)},
        "memory": _memory(inst, new), "tasks": _tasks(new), "swap": _swap(old, new, dt),
        "network": _network(old, new, dt), "diskIO": _disk_io(old, new, dt), "fileSys": _file_sys(inst),
        "processList": _processes(inst, old, new, dt),
    }
