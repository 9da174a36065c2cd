"""Postmaster liveness from `postmaster.pid` and /proc — never from `kill -0` alone.

A postmaster is started detached (its parent becomes PID 1) so that it outlives Kura. On hosts whose
PID 1 does not reap, a dead postmaster stays a zombie and `kill -0` still succeeds; PostgreSQL itself
then refuses to start ("lock file already exists"). So: a zombie is dead, and a pid is only our
postmaster if the process started when postmaster.pid says it did (pids get reused).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PIDFILE = "postmaster.pid"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_START_SLACK = 2.0  # seconds between fork and the pid file's timestamp, plus rounding


@dataclass(frozen=True, slots=True)
class PidFile:
    """postmaster.pid: pid, data dir, start time, port, first socket dir, listen address, shmem key,
    status ("starting" | "stopping" | "ready" | "standby", once the postmaster has written it)."""

    pid: int
    datadir: str
    start_time: int
    port: int | None
    socket_dir: str | None
    listen: str | None
    status: str | None


def read_pidfile(datadir: Path) -> PidFile | None:
    try:
        lines = (datadir / PIDFILE).read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    if len(lines) < 3 or not lines[0].strip().lstrip("-").isdigit():
        return None  # being written right now

    def line(i: int) -> str | None:
        return lines[i].strip() or None if len(lines) > i else None

    port = line(3)
    start = line(2)
    return PidFile(pid=abs(int(lines[0])), datadir=lines[1].strip(),
                   start_time=int(start) if start and start.isdigit() else 0,
                   port=int(port) if port and port.isdigit() else None,
                   socket_dir=line(4), listen=line(5), status=line(7))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2:].split()  # comm may hold spaces and parentheses


def proc_state(pid: int) -> str | None:
    """The one-letter state (R, S, D, Z, …), or None when there is no such process."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def alive(pid: int) -> bool:
    """A process that exists and is neither a zombie nor dead."""
    return proc_state(pid) not in (None, "Z", "X", "x")


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def start_epoch(pid: int) -> float | None:
    """When the process started (seconds since the epoch), from /proc/<pid>/stat field 22."""
    fields = _stat_fields(pid)
    if not fields or len(fields) < 20:
        return None
    return _boot_time() + int(fields[19]) / _CLK_TCK


def is_live_postmaster(pf: PidFile) -> bool:
    """The pid file's process is alive and is the one that wrote it (not a reused pid)."""
    if not alive(pf.pid):
        return False
    started = start_epoch(pf.pid)
    return started is not None and (pf.start_time == 0 or abs(started - pf.start_time) <= _START_SLACK)


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`: the kernel's list when it keeps one, else a scan of /proc."""
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return children(pid)


def client_backends(pid: int, ignore_user: str | None = None) -> int:
    """How many of the postmaster's children serve a client connection: their title ("postgres:
    [cluster_name:] user database client activity") names the client address, "host(port)" or
    "[local]". Auxiliary processes, WAL senders and the sessions of `ignore_user` are not counted."""
    count = 0
    for child in child_pids(pid):
        try:
            title = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        words = title.split()[1:]  # after "postgres:"
        if words and words[0].endswith(":"):
            words = words[1:]  # the cluster_name prefix
        if not words or "walsender" in words or not ("(" in title or "[local]" in title):
            continue
        if words[0] != ignore_user:
            count += 1
    return count


_TICK = os.sysconf("SC_CLK_TCK")


def tree_usage(pid: int) -> tuple[float, int]:
    """CPU seconds used by a postmaster and everything it ran (the exited backends it reaped count in
    its cumulative children's time), and the anonymous resident memory of it and its children: what
    is measured where no control group holds them."""
    cpu, memory = 0.0, 0
    for index, proc in enumerate([pid, *child_pids(pid)]):
        fields = _stat_fields(proc)
        if not fields or len(fields) < 15:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        if index == 0:
            ticks += int(fields[13]) + int(fields[14])  # the children it reaped
        cpu += ticks / _TICK
        try:
            status = Path(f"/proc/{proc}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("RssAnon:"):
                memory += int(line.split()[1]) * 1024
    return cpu, memory


def children(pid: int) -> list[int]:
    """Direct children of `pid` (the postmaster's backends and auxiliary processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and len(fields) > 1 and fields[1] == str(pid):
                found.append(int(entry.name))
    return found


def remove_stale_locks(datadir: Path, socket_dirs: list[Path]) -> list[Path]:
    """Delete postmaster.pid and socket lock files whose postmaster is gone (or a zombie).

    PostgreSQL checks those with kill(pid, 0), which a zombie passes, and would refuse to start.
    """
    removed = []
    candidates = [datadir / PIDFILE]
    candidates += [p for d in socket_dirs if d.is_dir() for p in d.glob(".s.PGSQL.*.lock")]
    for lock in candidates:
        pf = _read_lock(lock)
        if pf is not None and not is_live_postmaster(pf):
            lock.unlink(missing_ok=True)
            sock = lock.with_suffix("") if lock.suffix == ".lock" else None
            if sock is not None:
                sock.unlink(missing_ok=True)
            removed.append(lock)
    return removed


def _read_lock(lock: Path) -> PidFile | None:
    if lock.name == PIDFILE:
        return read_pidfile(lock.parent)
    try:
        lines = lock.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 3 or not lines[0].strip().lstrip("-").isdigit():
        return None
    start = lines[2].strip()
    return PidFile(abs(int(lines[0])), lines[1].strip(), int(start) if start.isdigit() else 0,
                   None, None, None, None)
