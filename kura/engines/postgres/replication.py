"""Streaming replication between PgNodes: a read replica is a clone of its source (pg_basebackup with
the WAL streamed in, through a physical slot of its own on the source) started as a hot standby that
streams from the source over the source's private socket; promotion ends recovery.
"""

from __future__ import annotations

import contextlib
import re
import shutil

import psycopg

from kura.engines import osuser
from kura.engines.postgres import pgproc
from kura.engines.postgres.backup import BackupError, without_source_settings
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.templates import SUPERUSER

_AUTO_CONF = "postgresql.auto.conf"
_MARK = "# kura: standby settings"


def slot_name(replica_id: str) -> str:
    """A physical slot name (lower case letters, digits, underscores) for a replica."""
    return "kura_replica_" + re.sub(r"[^a-z0-9_]", "_", replica_id.lower())[:50]


def source_conninfo(source: PgNode, application: str) -> str:
    pf = pgproc.read_pidfile(source.datadir)
    if pf is None or pf.port is None or not pgproc.is_live_postmaster(pf):
        raise BackupError(f"the source PostgreSQL in {source.datadir} is not running")
    return (f"host={pf.socket_dir} port={pf.port} user={SUPERUSER} application_name={application}")


def ensure_slot(source: PgNode, slot: str) -> None:
    source.execute("SELECT pg_create_physical_replication_slot(%s, true) WHERE NOT EXISTS "
                   "(SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)", (slot, slot))


def drop_slot(source: PgNode, slot: str) -> None:
    with contextlib.suppress(psycopg.Error, BackupError):
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                       "WHERE slot_name = %s AND NOT active", (slot,))


def clone(source: PgNode, replica: PgNode, application: str, slot: str) -> None:
    """Copy the running source into the replica's (absent) data directory, as the engine user, and make
    it a standby of the source."""
    shutil.rmtree(replica.datadir, ignore_errors=True)
    osuser.private_dir(replica.datadir, replica.run_as)  # empty, the engine user's: pg_basebackup fills it
    osuser.grant_traverse(replica.datadir, replica.run_as)
    conninfo = source_conninfo(source, application)
    done = osuser.run([replica.engine.tool("pg_basebackup"), "-D", replica.datadir, "-X", "stream",
                       "-c", "fast", "-S", slot, "--no-manifest", "-d", conninfo + " dbname=replication"],
                      replica.run_as, timeout=6 * 3600)
    if done.returncode != 0:
        raise BackupError(f"pg_basebackup from {source.datadir} failed: {done.stderr.strip()[-400:]}")
    follow(replica, conninfo, slot)


def follow(replica: PgNode, conninfo: str, slot: str) -> None:
    """Standby settings: stream from `conninfo` through `slot` (written to postgresql.auto.conf)."""
    auto = replica.datadir / _AUTO_CONF
    kept = without_source_settings(auto.read_text().partition(_MARK)[0] if auto.exists() else "")
    text = (kept if not kept or kept.endswith("\n") else kept + "\n") + "\n".join([
        _MARK, f"primary_conninfo = '{conninfo}'", f"primary_slot_name = '{slot}'", "hot_standby = on",
        "hot_standby_feedback = on"]) + "\n"
    auto.write_text(text)
    (replica.datadir / "standby.signal").write_text("")
    osuser.chown_tree(replica.datadir, replica.run_as)


def unfollow(node: PgNode) -> None:
    """Drop the standby settings of a stopped node (it would start as a primary)."""
    (node.datadir / "standby.signal").unlink(missing_ok=True)
    auto = node.datadir / _AUTO_CONF
    if auto.exists() and _MARK in auto.read_text():
        auto.write_text(auto.read_text().partition(_MARK)[0])
        osuser.chown_tree(auto, node.run_as)


def is_standby(node: PgNode) -> bool:
    return (node.datadir / "standby.signal").exists()


def promote(node: PgNode, timeout: int = 60) -> None:
    """End recovery (idempotent) and drop the standby settings, so a restart stays a primary."""
    if is_standby(node):
        node.execute("SELECT pg_promote(true, %s)", (timeout,))
    auto = node.datadir / _AUTO_CONF
    if auto.exists() and _MARK in auto.read_text():
        auto.write_text(auto.read_text().partition(_MARK)[0])
        osuser.chown_tree(auto, node.run_as)


def lag(source: PgNode, application: str) -> tuple[str | None, float | None]:
    """(walsender state, replay lag in seconds) of a replica as its source sees it; (None, None) when
    the replica is not connected."""
    rows = source.execute("SELECT state, COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8 "
                          "FROM pg_stat_replication WHERE application_name = %s", (application,))
    if not rows:
        return None, None
    return str(rows[0][0]), float(str(rows[0][1]))
