"""Measurements for RDS Enhanced Monitoring, read from /proc: one snapshot of an instance's processes
(the postmaster and its children) and of the host counters they run on.

What belongs to the instance is measured on its processes: CPU (user, nice, system; `wait` is the
time they spent blocked on I/O, from delay accounting), tasks by state, the process list, memory by
proportional set size (shared buffers counted once), and the bytes they read and wrote. What Linux
keeps only per host is the host's: the block device under the data directory (IOPS, latency,
utilisation), network interfaces, swap, irq/steal/guest CPU, slab, dirty and huge pages.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    name: str
    state: str
    cpu_ticks: int  # utime + stime
    user_ticks: int
    nice: int
    children_ticks: int  # the reaped children's user + system time (exited backends)
    children_user: int
    blkio_ticks: int  # delay accounting: time blocked on block I/O
    vss: int  # bytes
    rss: int  # bytes
    start_ticks: int
    read_bytes: int | None = None  # /proc/<pid>/io (None when not readable)
    write_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Disk:
    reads: int
    read_merges: int
    read_sectors: int
    read_ms: int
    writes: int
    write_merges: int
    write_sectors: int
    write_ms: int
    in_flight: int
    busy_ms: int
    queue_ms: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float  # monotonic seconds
    procs: dict[int, Proc]
    cpu: dict[str, int]  # host /proc/stat "cpu" line by field name
    disk: Disk | None
    net: dict[str, tuple[int, int]]  # interface → (rx bytes, tx bytes)
    vmstat: dict[str, int] = field(default_factory=dict)


def read_proc(pid: int) -> Proc | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    head, _, rest = raw.rpartition(")")
    f = rest.split()
    if len(f) < 40:
        return None
    name = cmdline.replace(b"\0", b" ").decode(errors="replace").strip() or head.partition("(")[2]
    proc = Proc(pid, int(f[1]), name, f[0], int(f[11]) + int(f[12]), int(f[11]), int(f[16]),
                int(f[13]) + int(f[14]), int(f[13]), int(f[39]), int(f[20]), int(f[21]) * PAGE, int(f[19]))
    io = _keyed(Path(f"/proc/{pid}/io"), ":")
    if io:
        proc = dataclasses.replace(proc, read_bytes=io.get("read_bytes"), write_bytes=io.get("write_bytes"))
    return proc


def _keyed(path: Path, sep: str) -> dict[str, int]:
    """`key<sep> value [kB]` lines → {key: value}; empty when the file cannot be read."""
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(sep)
        parts = value.split()
        if parts and parts[0].lstrip("-").isdigit():
            out[key.strip()] = int(parts[0])
    return out


def pss(pid: int) -> dict[str, int]:
    """Proportional set size by kind (kB): Pss, Pss_Anon, Pss_File, Pss_Shmem."""
    return _keyed(Path(f"/proc/{pid}/smaps_rollup"), ":")


def pagetables(pid: int) -> int:
    return _keyed(Path(f"/proc/{pid}/status"), ":").get("VmPTE", 0)


def meminfo() -> dict[str, int]:
    return _keyed(Path("/proc/meminfo"), ":")


_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


def _host_cpu() -> dict[str, int]:
    try:
        line = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return {}
    return {name: int(v) for name, v in zip(_CPU_FIELDS, line[1:], strict=False)}


def device_of(path: Path) -> str | None:
    """The block device name holding `path` (as /proc/diskstats names it), if it is a block device."""
    try:
        dev = os.stat(path).st_dev
        target = os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    except OSError:
        return None
    return os.path.basename(target) if os.path.exists(target) else None


def _disk(device: str | None) -> Disk | None:
    if device is None:
        return None
    try:
        lines = Path("/proc/diskstats").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if len(f) >= 14 and f[2] == device:
            return Disk(*(int(x) for x in f[3:14]))
    return None


def _net() -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    try:
        lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        f = rest.split()
        if len(f) >= 9:
            out[name.strip()] = (int(f[0]), int(f[8]))
    return out


def snapshot(pids: list[int], at: float, device: str | None) -> Snapshot:
    procs = {p.pid: p for p in (read_proc(pid) for pid in pids) if p is not None}
    vm = _keyed(Path("/proc/vmstat"), " ")
    return Snapshot(at, procs, _host_cpu(), _disk(device), _net(),
                    {k: vm.get(k, 0) for k in ("pswpin", "pswpout")})


def running(snap: Snapshot) -> int:
    """Tasks that count toward a load average: runnable or in uninterruptible sleep."""
    return sum(1 for p in snap.procs.values() if p.state in ("R", "D"))


def count_running(pids: list[int]) -> int:
    """running() without a snapshot: one read of /proc/<pid>/stat each (the per-second load sample)."""
    count = 0
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        count += state in ("R", "D")
    return count
