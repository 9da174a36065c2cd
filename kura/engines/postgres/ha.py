"""Multi-AZ on PgNodes: the synchronous standby's settings, fencing a failed primary, rebuilding the old
primary as a standby (pg_rewind, else a fresh copy), and what the primary says of its standby.

The decisions are the control plane's; these are the engine-side actions it asks for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

import psycopg

from kura.engines import osuser
from kura.engines.postgres import pgproc, replication
from kura.engines.postgres.backup import BackupError
from kura.engines.postgres.node import PgNode

_POLL = 0.01


def application(member: str) -> str:
    """The application_name (and slot name) a member streams with while it is the standby."""
    return f"kura_member_{member}"


@dataclass(frozen=True, slots=True)
class Standby:
    """The standby as its primary's pg_stat_replication shows it."""

    state: str  # "streaming", "catchup", "startup", …
    sync: bool  # sync_state = 'sync': commits wait for it
    behind_bytes: int  # primary's current WAL position minus the standby's flush position


def standby_of(primary: PgNode, member: str) -> Standby | None:
    rows = primary.execute(
        "SELECT state, sync_state = 'sync', COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn), "
        "-1)::bigint FROM pg_stat_replication WHERE application_name = %s", (application(member),))
    if not rows:
        return None
    state, sync, behind = rows[0]
    return Standby(str(state), bool(sync), int(str(behind)))


def set_sync(primary: PgNode, member: str | None) -> None:
    """Commits on `primary` wait for `member`'s flush (None: for nobody). ALTER SYSTEM + reload: the
    value survives restarts and Kura's own configuration files never carry it. Waiting commits are
    released at once when it is cleared."""
    with primary.connect() as conn:
        if member is None:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
        else:
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '\"{application(member)}\"'")
        conn.execute("SELECT pg_reload_conf()")
        want = "" if member is None else f'"{application(member)}"'
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = conn.execute("SHOW synchronous_standby_names").fetchone()
            if row is not None and row[0] == want:
                return
            time.sleep(_POLL)
    raise BackupError(f"{primary} did not take synchronous_standby_names = {want!r}")


def fence(node: PgNode, timeout: float = 10.0) -> bool:
    """Make sure no process of the postmaster serving `node` survives, at once: it is stopped first (a
    stopped postmaster cannot fork or restart children), its children killed, then itself. A postmaster
    already dead leaves backends that exit by themselves as they notice; they are waited for too.
    Returns whether there was a live postmaster."""
    pf = pgproc.read_pidfile(node.datadir)
    if pf is None or not pgproc.is_live_postmaster(pf):
        pgproc.remove_stale_locks(node.datadir, [node.socket_dir])
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pf.pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [k for k in pgproc.children(pf.pid) if pgproc.alive(k)]
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not kids:
            break
        time.sleep(_POLL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pf.pid, signal.SIGKILL)
    while pgproc.alive(pf.pid) and time.monotonic() < deadline:
        time.sleep(_POLL)
    pgproc.remove_stale_locks(node.datadir, [node.socket_dir])
    return True


def promote(node: PgNode) -> None:
    """Promote a standby and leave it waiting for no one (its old primary's standby setting, copied by
    pg_rewind or inherited, must not hold its commits)."""
    replication.promote(node)
    set_sync(node, None)


def rebuild(target: PgNode, source: PgNode, slot: str, application: str | None = None,
            fresh: bool = False) -> str:
    """Make `target` a standby of the running `source`, streaming through `slot` (and reporting as
    `application`, the slot's name by default): pg_rewind when the target has data (an old primary after
    a failover, a replica that got ahead of its source's new primary), else — or when `fresh` — a copy.
    Returns "rewound" or "copied"."""
    application = application or slot
    replication.ensure_slot(source, slot)
    conninfo = replication.source_conninfo(source, application)
    if target.exists() and not fresh:
        target.stop()
        # pg_rewind runs crash recovery in single-user mode first, which refuses standby settings
        replication.unfollow(target)
        done = osuser.run([target.engine.tool("pg_rewind"), "-D", target.datadir,
                           "--source-server", conninfo + " dbname=postgres"], target.run_as,
                          timeout=6 * 3600)
        if done.returncode == 0:
            replication.follow(target, conninfo, slot)
            return "rewound"
    target.stop()
    replication.clone(source, target, application, slot)
    return "copied"


def last_checkpoint(node: PgNode) -> int | None:
    """The stopped node's latest checkpoint location (pg_controldata), as an integer LSN."""
    done = osuser.run([node.engine.tool("pg_controldata"), "-D", node.datadir], node.run_as, timeout=30)
    for line in done.stdout.splitlines():
        if line.startswith("Latest checkpoint location:"):
            hi, lo = line.split(":", 1)[1].strip().split("/")
            return (int(hi, 16) << 32) | int(lo, 16)
    return None


def replayed(node: PgNode) -> int | None:
    """A running standby's replay position (None when it cannot be asked)."""
    with contextlib.suppress(psycopg.Error):
        rows = node.execute("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint")
        if rows and rows[0][0] is not None:
            return int(str(rows[0][0]))
    return None
