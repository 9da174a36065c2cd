"""Read replicas: the steps that make one (a clone of its source, streaming through a slot of its own),
promote one, measure its lag, and let go of its slot when it is deleted."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import psycopg

from kura.control import steps
from kura.control.rds import nodes
from kura.control.types import TemporaryError
from kura.engines.postgres import ha as pg_ha
from kura.engines.postgres import replication
from kura.engines.postgres.errors import StartError
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.types import NodeState
from kura.env import Env
from kura.services.rds.records import KIND_INSTANCE
from kura.store.types import Resource

if TYPE_CHECKING:
    from kura.control.rds.actions import Work

# Settings a hot standby needs at least as high as its source's (PostgreSQL refuses to run otherwise).
STANDBY_FLOOR = ("max_connections", "max_worker_processes", "max_wal_senders",
                 "max_prepared_transactions", "max_locks_per_transaction")


def source_of(env: Env, res: Resource) -> Resource | None:
    """The replica's source while it exists (the same instance: a re-created namesake is not it)."""
    ident = res.spec.get("ReadReplicaSourceDBInstanceIdentifier")
    if not ident:
        return None
    source = env.store.get(KIND_INSTANCE, res.region, str(ident))
    if source is None or source.spec.get("desired") == "deleted":
        return None
    wanted = res.spec.get("ReadReplicaSourceDbiResourceId")
    return source if not wanted or source.spec.get("DbiResourceId") == wanted else None


def _running_node(env: Env, res: Resource) -> PgNode | None:
    node = nodes.node_for(env, res)
    return node if node is not None and nodes.liveness(node) is NodeState.RUNNING else None


def clone(work: Work, ctx: steps.StepContext) -> None:
    env, res = work.env, ctx.res
    source = source_of(env, res)
    if source is None:
        raise TemporaryError(f"read replica {res.id}: its source is gone", 5.0)
    src = _running_node(env, source)
    if src is None:
        raise TemporaryError(f"read replica {res.id}: source {source.id} is not running", 2.0)
    slot = replication.slot_name(res.id)
    replication.ensure_slot(src, slot)
    replication.clone(src, work.node(res), res.id, slot)
    ctx.status.update(role="replica", replica_of=source.id, following=nodes.primary_member(source),
                      replication={"state": "replicating", "lag": None, "error": None,
                                   "measured_at": env.clock.now()})


def source_moved(env: Env, res: Resource) -> bool:
    """The source is a Multi-AZ instance that failed over since the replica last followed it, or another
    instance than the one the replica streams from (a DB cluster's new writer); and it runs."""
    source = source_of(env, res)
    if source is None:
        return False
    other = res.status.get("replica_of") not in (None, source.id)
    if not other and nodes.primary_member(source) == str(res.status.get("following") or "1"):
        return False
    return _running_node(env, source) is not None


def refollow(work: Work, ctx: steps.StepContext) -> None:
    """Stream from the source's new primary: through a slot made there, at once when the replica's WAL is
    a prefix of the new primary's; rewound (else copied again) when it got WAL the new primary never had —
    at once for a cluster's writer that died (status `crashed`), whose last WAL the readers may never have
    received."""
    from kura.control.rds.actions import configure

    env, res = work.env, ctx.res
    source = source_of(env, res)
    src = _running_node(env, source) if source is not None else None
    if source is None or src is None:
        raise TemporaryError(f"read replica {res.id}: the new primary of its source is not running", 1.0)
    slot = replication.slot_name(res.id)
    node = work.node(res)
    replication.ensure_slot(src, slot)
    node.stop()
    streaming = False
    how = "followed"
    if not res.status.get("crashed"):
        replication.follow(node, replication.source_conninfo(src, res.id), slot)
        try:
            node.start()
            streaming = _wait_streaming(src, res.id, 15.0)
        except StartError:
            streaming = False
    if not streaming:
        how = pg_ha.rebuild(node, src, slot, res.id)
        configure(work, ctx)
        node.start()
    ctx.status.update(following=nodes.primary_member(source), replica_of=source.id, crashed=None)
    ctx.data["how"] = how
    if res.spec.get("DBClusterIdentifier"):
        _drop_stale_slots(node)


def _drop_stale_slots(node: PgNode) -> None:
    """A cluster's old writer, now a reader, still holds its readers' slots: they would keep its WAL."""
    with contextlib.suppress(psycopg.Error):
        node.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE slot_name LIKE 'kura_replica_%' AND NOT active")


def _wait_streaming(src: PgNode, application: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replication.lag(src, application)[0] == "streaming":
            return True
        time.sleep(0.1)
    return False


def floor(env: Env, res: Resource, values: dict[str, str]) -> dict[str, str]:
    """A replica's settings raised to its source's where a standby needs that."""
    source = source_of(env, res)
    if source is None:
        return values
    theirs = (source.status.get("applied") or {}).get("parameters") or {}
    out = dict(values)
    for name in STANDBY_FLOOR:
        try:
            if name in theirs and int(str(theirs[name])) > int(str(out.get(name, 0))):
                out[name] = str(theirs[name])
        except ValueError:
            continue
    return out


def promote(work: Work, ctx: steps.StepContext) -> None:
    env, res = work.env, ctx.res
    replication.promote(work.node(res))
    _let_go(env, res)
    ctx.status.update(role="primary", replication=None)


def _let_go(env: Env, res: Resource) -> None:
    """Drop the replica's slot on its source (the walsender may take a moment to go)."""
    ident = res.spec.get("ReadReplicaSourceDBInstanceIdentifier") or res.status.get("replica_of")
    source = env.store.get(KIND_INSTANCE, res.region, str(ident)) if ident else None
    src = _running_node(env, source) if source is not None else None
    if src is None:
        return
    slot = replication.slot_name(res.id)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        replication.drop_slot(src, slot)
        if not src.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)):
            return
        time.sleep(0.1)


def release(work: Work, ctx: steps.StepContext) -> None:
    """Deleting a replica: its source keeps no slot for it."""
    if ctx.res.status.get("role") == "replica":
        _let_go(work.env, ctx.res)


def measure(env: Env, res: Resource) -> dict[str, Any] | None:
    """The replica's replication status as its source sees it; None when unchanged enough to skip."""
    source = source_of(env, res)
    src = _running_node(env, source) if source is not None else None
    if source is None or src is None:
        found: dict[str, Any] = {"state": "error", "lag": None,
                                 "error": "the source DB instance is not running"}
    else:
        state, lag = replication.lag(src, res.id)
        if state is None:
            found = {"state": "error", "lag": None, "error": f"not streaming from {source.id}"}
        else:
            found = {"state": "replicating" if state == "streaming" else state, "lag": round(lag or 0.0, 1),
                     "error": None}
    before = res.status.get("replication") or {}
    same = before.get("state") == found["state"] and before.get("error") == found["error"] and (
        found["lag"] is None or abs(float(before.get("lag") or 0) - found["lag"]) < 0.5)
    if same and env.clock.now() - float(before.get("measured_at") or 0) < 10:
        return None
    return {**found, "measured_at": env.clock.now()}
