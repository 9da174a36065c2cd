"""Physical backups of a PgNode with PostgreSQL's own tools.

- `Streamer`: pg_receivewal, detached (it outlives Kura, like the postmaster), streaming WAL through
  the physical slot `kura_backup` with --synchronous, so what it reports flushed is on disk;
- `base_backup`: pg_basebackup as a tar on stdout with the WAL fetched in, so one file restores alone
  (a snapshot) or is the start of a point-in-time restore (an automated backup);
- `unpack` / `prepare_recovery` / `finish_recovery`: a base backup into a new data directory, WAL
  staged beside it, recovery to a target time with hot_standby off: PostgreSQL then does not compare
  max_connections & co. with the source's, so a smaller class than the source's can restore.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from kura.engines import osuser
from kura.engines.osuser import OsUser
from kura.engines.postgres import pgproc
from kura.engines.postgres.errors import PgError, StartError
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.templates import SUPERUSER
from kura.engines.postgres.types import PgEngine

SLOT = "kura_backup"
APPLICATION = "kura_backup"
RESTORE_WAL = "kura_restore_wal"  # in the new data directory: the WAL recovery reads
_AUTO_CONF = "postgresql.auto.conf"
_MARK = "# kura: recovery settings, removed once recovery is over"
_START_LSN = re.compile(r"write-ahead log start point: ([0-9A-F]+/[0-9A-F]+) on timeline (\d+)")
_END_LSN = re.compile(r"write-ahead log end point: ([0-9A-F]+/[0-9A-F]+)")
SEGMENT = re.compile(r"^[0-9A-F]{24}$")


class BackupError(PgError):
    """A backup tool failed; the message carries what it said."""


class TargetNotReached(PgError):
    """Recovery ran out of WAL before the target time: no commit after it was found."""


@dataclass(frozen=True, slots=True)
class BaseBackup:
    start_lsn: str
    end_lsn: str
    timeline: int
    size: int


def lsn_int(lsn: str) -> int:
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def segment_of(lsn: str, timeline: int, seg_size: int = 16 * 1024 * 1024) -> str:
    """The WAL file name holding `lsn` (default 16 MiB segments)."""
    n = lsn_int(lsn) // seg_size
    per = 0x100000000 // seg_size
    return f"{timeline:08X}{n // per:08X}{n % per:08X}"


def conninfo(datadir: Path) -> str:
    """Kura's own replication connection over the node's private socket."""
    pf = pgproc.read_pidfile(datadir)
    if pf is None or pf.port is None or not pgproc.is_live_postmaster(pf):
        raise BackupError(f"PostgreSQL in {datadir} is not running")
    return (f"host={pf.socket_dir} port={pf.port} user={SUPERUSER} dbname=replication "
            f"application_name={APPLICATION}")


class Streamer:
    """pg_receivewal into `stream_dir`; its pid and log live beside that directory."""

    def __init__(self, engine: PgEngine, stream_dir: Path) -> None:
        self.engine = engine
        self.dir = stream_dir
        self.pidfile = stream_dir.with_name(stream_dir.name + ".pid")
        self.log = stream_dir.with_name(stream_dir.name + ".log")

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        mine = any(part.endswith(b"pg_receivewal") for part in cmd[:1]) and str(self.dir).encode() in cmd
        return pid if mine and pgproc.alive(pid) else None

    def start(self, datadir: Path) -> int:
        """Start streaming from the node in `datadir` (no-op when it already streams)."""
        running = self.pid()
        if running is not None:
            return running
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # --status-interval=1: a completed segment's end is reported within a second even when no more
        # WAL follows (the default, 10 s, holds the restorable time back after a segment switch)
        script = ('"$0" -D "$1" --slot="$2" --synchronous --status-interval=1 --no-loop -d "$3" '
                  '</dev/null >>"$4" 2>&1 & echo $!')
        done = osuser.run(["/bin/sh", "-c", script, self.engine.tool("pg_receivewal"), self.dir, SLOT,
                           conninfo(datadir), self.log], None, timeout=30, new_session=True)
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise BackupError(f"cannot launch pg_receivewal: {done.stderr.strip()}")
        pid = int(done.stdout.strip())
        self.pidfile.write_text(f"{pid}\n")
        return pid

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pgproc.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if pgproc.alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def wait_exit(self, timeout: float) -> bool:
        """Wait for pg_receivewal to end by itself (it does when the server shuts down)."""
        deadline = time.monotonic() + timeout
        while self.pid() is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    def files(self) -> list[Path]:
        """Complete segments (and .history files) received, oldest first; not the .partial."""
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir()
                      if SEGMENT.match(p.name) or p.name.endswith(".history"))

    def partial(self) -> Path | None:
        found = sorted(self.dir.glob("*.partial")) if self.dir.is_dir() else []
        return found[-1] if found else None


def _pump(cmd: list[str], sink: Callable[[bytes], None]) -> tuple[int, str, int]:
    """Run `cmd`, handing its stdout to `sink` as it comes; (exit code, what it said on stderr, bytes)."""
    size = 0
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty stderr cannot block stdout
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                env=osuser.BASE_ENV)
        assert proc.stdout is not None
        try:
            while chunk := proc.stdout.read(1024 * 1024):
                sink(chunk)
                size += len(chunk)
        finally:
            proc.stdout.close()
            code = proc.wait()
        err.seek(0)
        return code, err.read().decode(errors="replace"), size


def base_backup(engine: PgEngine, datadir: Path, sink: Callable[[bytes], None]) -> BaseBackup:
    """Stream a base backup (tar, WAL fetched in, with its manifest) of the running node into `sink`."""
    code, said, size = _pump([str(engine.tool("pg_basebackup")), "-D", "-", "-F", "t", "-X", "fetch", "-c",
                              "fast", "-v", "-d", conninfo(datadir)], sink)
    start, end = _START_LSN.search(said), _END_LSN.search(said)
    if code != 0 or start is None or end is None:
        tail = " | ".join(said.strip().splitlines()[-3:])
        raise BackupError(f"pg_basebackup failed (exit {code}): {tail}")
    return BaseBackup(start.group(1), end.group(1), int(start.group(2)), size)


def cold_backup(engine: PgEngine, datadir: Path, sink: Callable[[bytes], None]) -> BaseBackup:
    """A tar of a stopped node's data directory (what a snapshot of a stopped instance is): consistent
    because nothing runs; no replication slots (a restore must not inherit one that pins WAL)."""
    control = osuser.run([engine.tool("pg_controldata"), datadir], None, timeout=30)
    found = dict(line.split(":", 1) for line in control.stdout.splitlines() if ":" in line)
    lsn = found.get("Latest checkpoint location", "").strip()
    timeline = found.get("Latest checkpoint's TimeLineID", "").strip()
    if control.returncode != 0 or not lsn or not timeline.isdigit():
        raise BackupError(f"pg_controldata failed: {control.stderr.strip()[:300]}")
    code, said, size = _pump(["tar", "-c", "-f", "-", "-C", str(datadir), "--exclude=./postmaster.pid",
                              "--exclude=./postmaster.opts", "--exclude=./pg_replslot/*", "."], sink)
    if code != 0:
        raise BackupError(f"tar of {datadir} failed (exit {code}): {said.strip()[:300]}")
    return BaseBackup(lsn, lsn, int(timeline), size)


def unpack(chunks: Iterable[bytes] | Path, datadir: Path, run_as: OsUser | None) -> None:
    """Extract a base backup's tar into an empty `datadir` (owned by the engine user, 0700): from a
    plain tar file directly, else from the chunks (a sealed file being opened) through a pipe."""
    datadir.mkdir(parents=True, exist_ok=True)
    datadir.chmod(0o700)
    if isinstance(chunks, Path):
        done = subprocess.run(["tar", "-x", "-f", str(chunks), "-C", str(datadir)], capture_output=True,
                              text=True, env=osuser.BASE_ENV, check=False)
        if done.returncode != 0:
            raise BackupError(f"the base backup could not be unpacked: {done.stderr.strip()[:300]}")
        osuser.chown_tree(datadir, run_as)
        return
    proc = subprocess.Popen(["tar", "-x", "-f", "-", "-C", str(datadir)], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=osuser.BASE_ENV)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)
    except BrokenPipeError:
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        said = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
    if code != 0:
        raise BackupError(f"the base backup could not be unpacked: {said.strip()[:300]}")
    osuser.chown_tree(datadir, run_as)


def verify(engine: PgEngine, datadir: Path) -> None:
    """pg_verifybackup against the manifest the backup carries (checksums of every file, and the WAL).
    A cold copy of a stopped instance has none: its integrity rests on the sealing (encrypted) and on
    PostgreSQL's own page and WAL checksums."""
    if not (datadir / "backup_manifest").exists():
        return
    done = osuser.run([engine.tool("pg_verifybackup"), "-q", datadir], None, timeout=3600)
    if done.returncode != 0:
        raise BackupError(f"the base backup does not verify: {(done.stderr or done.stdout).strip()[:400]}")


def prepare_recovery(datadir: Path, target_time: str | None, run_as: OsUser | None) -> None:
    """recovery.signal and the settings recovery needs; WAL is read from `RESTORE_WAL` in the data
    directory. No target: replay all there is (the latest restorable time)."""
    lines = [_MARK, f"restore_command = 'cp \"{RESTORE_WAL}/%f\" \"%p\"'", "hot_standby = off",
             "archive_mode = off", "recovery_target_action = 'promote'",
             "recovery_target_timeline = 'latest'"]
    if target_time is not None:
        lines += [f"recovery_target_time = '{target_time}'", "recovery_target_inclusive = on"]
    auto = datadir / _AUTO_CONF
    kept = without_source_settings(_without_recovery(auto.read_text() if auto.exists() else ""))
    auto.write_text(kept + "\n".join(lines) + "\n")
    (datadir / "recovery.signal").write_text("")
    for name in ("standby.signal", "backup_manifest"):
        (datadir / name).unlink(missing_ok=True)
    osuser.chown_tree(datadir, run_as)


def _without_recovery(text: str) -> str:
    head, _, _ = text.partition(_MARK)
    return head if head.endswith("\n") or not head else head + "\n"


# Settings of the copied server's own that a copy must not keep: a Multi-AZ source names its standby
# (set by ALTER SYSTEM), and a copy that kept it would wait on every commit for a standby it has not.
_SOURCE_ONLY = ("synchronous_standby_names",)


def without_source_settings(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.split("=", 1)[0].strip() not in _SOURCE_ONLY)


def finish_recovery(datadir: Path) -> None:
    """Once promoted: drop the recovery settings and the staged WAL (a later restart must not replay)."""
    auto = datadir / _AUTO_CONF
    if auto.exists():
        auto.write_text(_without_recovery(auto.read_text()))
    wal = datadir / RESTORE_WAL
    if wal.is_dir():
        for entry in wal.iterdir():
            entry.unlink(missing_ok=True)
        wal.rmdir()


def wait_promoted(node: PgNode, timeout: float) -> None:
    """Until recovery is over and the node takes writes. The postmaster's `ready` in postmaster.pid can
    come before the end of a quick archive recovery with hot_standby off, so ask the server itself."""
    deadline = time.monotonic() + timeout
    while True:
        pf = pgproc.read_pidfile(node.datadir)
        if pf is None or not pgproc.is_live_postmaster(pf):
            raise StartError(f"PostgreSQL in {node.datadir} stopped during recovery: {node.log_tail()}")
        with contextlib.suppress(psycopg.OperationalError):
            if not node.execute("SELECT pg_is_in_recovery()")[0][0]:
                return
        if time.monotonic() > deadline:
            raise StartError(f"recovery of {node.datadir} did not finish in {timeout:.0f} s")
        time.sleep(0.05)


def recovery_in_progress(datadir: Path) -> bool:
    return (datadir / "recovery.signal").exists()


_REDO_DONE = re.compile(r"redo done at ([0-9A-F]+/[0-9A-F]+)")
_LAST_COMMIT = re.compile(r"last completed transaction was at log time (\S+ \S+)")


def redo_done(log_text: str) -> tuple[str, str | None] | None:
    """From a recovery's log: where replay ended, and the commit time of the last transaction replayed."""
    done = _REDO_DONE.findall(log_text)
    if not done:
        return None
    commits = _LAST_COMMIT.findall(log_text)
    return done[-1], commits[-1] if commits else None


def target_missed(log_text: str) -> bool:
    return "recovery ended before configured recovery target was reached" in log_text
