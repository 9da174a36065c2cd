"""Reading a process tree's CPU and memory from /proc every second, cheaply.

Opening /proc/<pid>/stat costs about ten times what re-reading an open one does, so the files of each
process stay open (`pread` regenerates their content); a descriptor whose process died answers ESRCH
and is dropped — it never reads a later process that got the same pid.

CPU of a tree: the root's utime + stime + cutime + cstime (with the children it reaped: exited backends
keep counting) plus each live child's run time. Memory: each process's private resident pages (statm resident
minus shared) plus the largest shared resident set among them (the shared buffers they touched,
counted once).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
_SCHEDSTAT = os.path.exists("/proc/self/schedstat")


@dataclass(frozen=True, slots=True)
class TreeUsage:
    cpu_seconds: float
    memory_bytes: int
    processes: int
    stopped: bool  # the root is stopped (SIGSTOP): it will not answer


class _Files:
    """A process's open CPU file and statm. The root's CPU file is `stat` (its state and the time of
    the children it reaped); a child's is `schedstat` when the kernel has it (its run time in ns, and
    cheaper for the kernel to write than `stat`)."""

    __slots__ = ("cpu", "root", "schedstat", "statm")

    def __init__(self, pid: int, root: bool) -> None:
        self.root = root
        self.schedstat = not root and _SCHEDSTAT
        name = "schedstat" if self.schedstat else "stat"
        self.cpu = os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.statm = os.open(f"/proc/{pid}/statm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.close(self.cpu)
            raise

    def close(self) -> None:
        os.close(self.cpu)
        os.close(self.statm)


class ProcReader:
    """Open /proc files of the processes read lately (one reader per collector thread)."""

    def __init__(self) -> None:
        self._open: dict[int, _Files] = {}
        self._touched: set[int] = set()

    def _files(self, pid: int, root: bool) -> _Files | None:
        self._touched.add(pid)
        found = self._open.get(pid)
        if found is None or found.root != root:  # opened in the other role: open again
            if found is not None:
                self._drop(pid)
            try:
                found = self._open[pid] = _Files(pid, root)
            except OSError:
                return None
        return found

    def _drop(self, pid: int) -> None:
        found = self._open.pop(pid, None)
        if found is not None:
            found.close()

    def _read(self, pid: int, root: bool) -> tuple[bytes, bytes, _Files] | None:
        files = self._files(pid, root)
        if files is None:
            return None
        try:
            return os.pread(files.cpu, 2048, 0), os.pread(files.statm, 256, 0), files
        except OSError:  # ESRCH: it exited since
            self._drop(pid)
            return None

    def tree(self, root: int) -> TreeUsage | None:
        """CPU seconds and memory of `root` and its children; None when `root` is gone."""
        found = self._read(root, True)
        if found is None:
            return None
        stat, statm, _ = found
        fields = stat[stat.rindex(b")") + 2:].split(maxsplit=15)  # state … cstime
        if fields[0] in (b"Z", b"X", b"x"):  # dead, not reaped yet
            return None
        cpu = sum(int(f) for f in fields[11:15]) / TICK  # utime, stime, cutime, cstime
        pages = statm.split()
        private, shared, count = (int(pages[1]) - int(pages[2])) * PAGE, int(pages[2]) * PAGE, 1
        for pid in children(root):
            found = self._read(pid, False)
            if found is None:
                continue
            raw, statm, files = found
            if files.schedstat:
                cpu += int(raw.split(maxsplit=1)[0]) / 1e9
            else:
                more = raw[raw.rindex(b")") + 2:].split(maxsplit=13)
                cpu += (int(more[11]) + int(more[12])) / TICK
            pages = statm.split()
            private += (int(pages[1]) - int(pages[2])) * PAGE
            shared = max(shared, int(pages[2]) * PAGE)
            count += 1
        return TreeUsage(cpu, private + shared, count, fields[0] in (b"T", b"t"))

    def sweep(self) -> None:
        """Close the files of the processes not read since the last sweep (exited, or their instance
        no longer measured)."""
        for pid in [p for p in self._open if p not in self._touched]:
            self._drop(pid)
        self._touched = set()

    def close(self) -> None:
        for pid in list(self._open):
            self._drop(pid)


def children(pid: int) -> list[int]:
    """Direct children, from the kernel's list (CONFIG_PROC_CHILDREN); [] when it keeps none."""
    try:
        fd = os.open(f"/proc/{pid}/task/{pid}/children", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        return [int(x) for x in os.read(fd, 65536).split()]
    except (OSError, ValueError):
        return []
    finally:
        os.close(fd)


def host_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1
