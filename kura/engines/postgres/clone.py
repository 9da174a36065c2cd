"""A fast clone of a running node's data directory: PostgreSQL's online backup API around a file-by-file
copy that the kernel does.

`pg_backup_start` (an immediate checkpoint) → every file of the data directory copied as it is →
`pg_backup_stop` → the WAL from the backup's start to its end copied beside it, with the backup_label.
Recovery of the copy (prepare_recovery + a start) replays that WAL and makes it consistent, exactly as a
restore of a base backup does; a temporary replication slot of the copying session keeps the WAL from
being recycled meanwhile.

Each file is copied by the kernel, never through this process:
- FICLONE (a reflink) where the file system shares blocks between files (XFS, btrfs, bcachefs, OCFS2):
  the copy is instant and costs no disk until either side writes — the file system copies on write;
- else copy_file_range(2): an in-kernel copy (itself a reflink on file systems that can, NFS 4.2 and
  CIFS copy server-side); on ext4 a full copy, at the disk's speed, without the data passing through
  user space or over a socket as pg_basebackup's does;
- else read/write (a kernel without copy_file_range between these files).
Either way the copy is a separate set of files: what the clone writes never reaches the source, and
the reverse.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from kura.engines.osuser import OsUser
from kura.engines.postgres.backup import SEGMENT, BackupError
from kura.engines.postgres.node import PgNode

FICLONE = 0x40049409  # _IOW(0x94, 9, int): linux/fs.h
REFLINK, KERNEL, PLAIN = "reflink", "copy_file_range", "read-write"
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.EPERM, errno.ENOSYS}
_NO_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}
# As pg_basebackup: directories copied empty, files never copied (server-local state, or ours).
_EMPTY_DIRS = {"pg_wal", "pg_replslot", "pg_stat_tmp", "pg_dynshmem", "pg_notify", "pg_serial",
               "pg_snapshots", "pg_subtrans"}
_SKIPPED = {"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "backup_manifest",
            "standby.signal", "recovery.signal", "pg_internal.init", "current_logfiles"}
_START_SEGMENT = re.compile(r"START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)")
_WORKERS = 4  # files copied at once: the kernel does the work, the threads only wait on it


@dataclass(frozen=True, slots=True)
class CopyStats:
    files: int
    bytes: int
    by_method: dict[str, int]  # files per method (REFLINK, KERNEL, PLAIN)


@dataclass(frozen=True, slots=True)
class Clone:
    start_segment: str
    stop_lsn: str
    last_segment: str  # the last WAL segment copied: recovery must get at least this far
    stats: CopyStats

    @property
    def methods(self) -> str:
        return ", ".join(f"{n} by {m}" for m, n in sorted(self.stats.by_method.items()) if n) or "nothing"


def copy_file(src: Path, dst: Path) -> str:
    """Copy one file by the kernel (see the module's docstring); the method used."""
    with open(src, "rb") as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(os.fstat(fin.fileno()).st_mode))
        try:
            try:
                fcntl.ioctl(fd, FICLONE, fin.fileno())
                return REFLINK
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
            try:
                while os.copy_file_range(fin.fileno(), fd, 1 << 30):
                    pass
                return KERNEL
            except OSError as exc:
                if exc.errno not in _NO_RANGE:
                    raise
            fin.seek(0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            while chunk := fin.read(1 << 20):
                os.write(fd, chunk)
            return PLAIN
        finally:
            os.close(fd)


def _plan(src: Path, dst: Path, run_as: OsUser | None) -> list[tuple[Path, Path]]:
    """Make the directory tree under `dst` (owned by `run_as`) and list the files to copy."""
    files: list[tuple[Path, Path]] = []
    for root, dirs, names in os.walk(src):
        here = Path(root)
        rel = here.relative_to(src)
        target = dst / rel
        if rel != Path("."):
            target.mkdir(mode=stat.S_IMODE(here.stat().st_mode))
            _own(target, run_as)
        if rel == Path("pg_tblspc") and names:
            raise BackupError("tablespaces are not cloned: the data directory has some in pg_tblspc")
        if rel.parts and rel.parts[0] in _EMPTY_DIRS:
            dirs[:] = ["archive_status"] if rel == Path("pg_wal") and "archive_status" in dirs else []
            continue
        for name in names:
            if name not in _SKIPPED and not name.startswith("pgsql_tmp"):
                files.append((here / name, target / name))
    return files


def _own(path: Path, run_as: OsUser | None) -> None:
    if run_as is not None:
        os.chown(path, run_as.uid, run_as.gid, follow_symlinks=False)


def _copy_one(src: Path, dst: Path, run_as: OsUser | None) -> tuple[str, int] | None:
    try:
        method = copy_file(src, dst)
    except FileNotFoundError:  # dropped meanwhile (a table, a temporary file): recovery replays the drop
        with contextlib.suppress(FileNotFoundError):
            dst.unlink()
        return None
    _own(dst, run_as)
    return method, dst.stat().st_size


def copy_tree(src: Path, dst: Path, run_as: OsUser | None) -> CopyStats:
    """Copy a (live) data directory into the new directory `dst`, file by file, by the kernel."""
    dst.mkdir(mode=0o700, parents=True)
    _own(dst, run_as)
    work = _plan(src, dst, run_as)
    counts = {REFLINK: 0, KERNEL: 0, PLAIN: 0}
    total = copied = 0
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="kura-clone") as pool:
        for found in pool.map(lambda pair: _copy_one(pair[0], pair[1], run_as), work):
            if found is not None:
                counts[found[0]] += 1
                total += found[1]
                copied += 1
    return CopyStats(copied, total, counts)


def online_copy(source: PgNode, dest: Path, wal_dir: Path) -> Clone:
    """Clone the running `source` into the new directory `dest`; the WAL recovery needs goes into
    `wal_dir` (inside `dest`: what prepare_recovery's restore_command reads). Owned by the engine user."""
    if dest.exists():
        raise BackupError(f"{dest} exists: a clone goes into a new directory")
    slot = f"kura_clone_{secrets.token_hex(4)}"
    with source.connect() as conn:
        # temporary: dropped with this session; reserved now: the WAL from here on stays in pg_wal
        conn.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", (slot,))
        start_fn, stop_fn = (("pg_backup_start", "pg_backup_stop") if source.engine.major >= 15 else
                             ("pg_start_backup", "pg_stop_backup"))
        extra = ", false" if source.engine.major < 15 else ""  # before 15: non-exclusive explicitly
        conn.execute(f"SELECT {start_fn}(%s, true{extra})", (slot,))
        stats = copy_tree(source.datadir, dest, source.run_as)
        row = conn.execute(f"SELECT lsn, labelfile, spcmapfile FROM {stop_fn}(false{extra and ', false'})"
                           ).fetchone()
        assert row is not None
        stop_lsn, label, spcmap = str(row[0]), str(row[1]), str(row[2] or "")
        _wait_flushed(conn, stop_lsn)
        last = str(conn.execute("SELECT pg_walfile_name(%s::pg_lsn)", (stop_lsn,)).fetchone()[0])  # type: ignore[index]
        found = _START_SEGMENT.search(label)
        if found is None:
            raise BackupError(f"unexpected backup label: {label[:200]}")
        _copy_wal(source.datadir / "pg_wal", wal_dir, found.group(1), last, source.run_as)
    for name, text in (("backup_label", label), ("tablespace_map", spcmap)):
        if text:
            (dest / name).write_text(text)
            _own(dest / name, source.run_as)
    return Clone(found.group(1), stop_lsn, last, stats)


def _wait_flushed(conn: psycopg.Connection[Any], lsn: str, timeout: float = 30.0) -> None:
    """The backup's end is on disk in pg_wal (the segment switch pg_backup_stop writes flushes it)."""
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
        if row is not None and row[0]:
            return
        if time.monotonic() > deadline:
            raise BackupError(f"WAL up to {lsn} was not flushed in {timeout:.0f} s")
        time.sleep(0.01)


def _copy_wal(pg_wal: Path, dest: Path, first: str, last: str, run_as: OsUser | None) -> None:
    """Segments `first`..`last` (the temporary slot keeps them) and the timeline history files."""
    dest.mkdir(mode=0o700, exist_ok=True)
    _own(dest, run_as)
    for path in sorted(pg_wal.iterdir()):
        name = path.name
        wanted = name.endswith(".history") or (SEGMENT.match(name) is not None and first[8:] <= name[8:]
                                                <= last[8:] and name[:8] == last[:8])
        if wanted:
            copy_file(path, dest / name)
            _own(dest / name, run_as)
    if not (dest / last).exists():
        raise BackupError(f"WAL segment {last} is missing from {pg_wal}")
