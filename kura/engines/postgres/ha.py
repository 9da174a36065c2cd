"""Multi-AZ and Aurora HA on PgNodes: synchronous standbys (one, or any one of a cluster's readers),
fencing a failed primary, rebuilding the old primary as a standby (pg_rewind, else a fresh copy), what
the primary says of its standbys and how much WAL a standby has.

The decisions are the control plane's; these are the engine-side actions it asks for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

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
    """A standby as its primary's pg_stat_replication shows it."""

    state: str  # "streaming", "catchup", "startup", …
    sync: bool  # sync_state 'sync' or 'quorum': commits wait for it (or for another of its quorum)
    behind_bytes: int  # primary's current WAL position minus the standby's flush position (-1: unknown)
    reply_age: float = 0.0  # seconds since the standby last reported its positions (-1: unknown)


_STANDBYS = ("SELECT application_name, state, sync_state IN ('sync', 'quorum'), "
             "COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn), -1)::bigint, "
             "COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - reply_time), -1)::float8 "
             "FROM pg_stat_replication")


def _rank(found: Standby) -> tuple[bool, bool, bool, int]:
    return found.state == "streaming", found.sync, found.behind_bytes >= 0, -found.behind_bytes


def standbys(primary: PgNode) -> dict[str, Standby]:
    """Every standby streaming from `primary`, by application_name (one query, which also proves that the
    primary answers). Of several walsenders with one name (a copy being made beside the standby), the one
    that streams best."""
    out: dict[str, Standby] = {}
    for name, state, sync, behind, age in primary.execute(_STANDBYS):
        found = Standby(str(state), bool(sync), int(str(behind)), float(str(age)))
        if str(name) not in out or _rank(found) > _rank(out[str(name)]):
            out[str(name)] = found
    return out


def standby_of(primary: PgNode, member: str) -> Standby | None:
    return standbys(primary).get(application(member))


def quorum(applications: Sequence[str], count: int = 1) -> str:
    """synchronous_standby_names for "any `count` of these standbys" ('' for none: asynchronous)."""
    if not applications:
        return ""
    return f"ANY {count} (" + ", ".join(f'"{name}"' for name in applications) + ")"


def set_sync(primary: PgNode, member: str | None) -> None:
    """Commits on `primary` wait for `member`'s flush (None: for nobody)."""
    set_standby_names(primary, f'"{application(member)}"' if member else "")


def set_standby_names(primary: PgNode, value: str) -> None:
    """synchronous_standby_names = `value` ('' resets it). ALTER SYSTEM + reload: the value survives
    restarts and Kura's own configuration files never carry it (copies of the primary drop it). Waiting
    commits are released at once when it is cleared."""
    with primary.connect() as conn:
        if not value:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
        else:
            conn.execute(sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(
                sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = conn.execute("SHOW synchronous_standby_names").fetchone()
            if row is not None and row[0] == value:
                return
            time.sleep(_POLL)
    raise BackupError(f"{primary} did not take synchronous_standby_names = {value!r}")


def flushed(primary: PgNode) -> int:
    """The primary's WAL flush position, as an integer LSN."""
    rows = primary.execute("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint")
    return int(str(rows[0][0]))


def synced_past(primary: PgNode, applications: Sequence[str], lsn: int) -> bool:
    """Whether one of `applications` counts for synchronous commits and has flushed WAL up to `lsn`."""
    rows = primary.execute(
        "SELECT 1 FROM pg_stat_replication WHERE application_name = ANY(%s) AND sync_state IN "
        "('sync', 'quorum') AND pg_wal_lsn_diff(flush_lsn, '0/0') >= %s", (list(applications), lsn))
    return bool(rows)


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


def received(node: PgNode) -> int | None:
    """How much WAL a standby has: the furthest of what it received (and flushed) and what it replayed,
    as an integer LSN; None when it cannot be asked."""
    with contextlib.suppress(psycopg.Error):
        rows = node.execute(
            "SELECT GREATEST(COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0'), 0), "
            "COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0))::bigint")
        if rows and rows[0][0] is not None:
            return int(str(rows[0][0]))
    return None


def receiving(node: PgNode) -> bool:
    """Whether a standby's WAL receiver still streams (False as well when it cannot be asked)."""
    with contextlib.suppress(psycopg.Error):
        return bool(node.execute("SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'"))
    return False
