"""The HA monitor of an Aurora cluster: one look at the writer and its readers per pass, one decision
(cluster_ha.decide, pure), one action.

Each pass of a cluster with readers (every PACE seconds, the Multi-AZ monitor's pace) looks at its writer
as the Multi-AZ monitor looks at a primary (ha.look: postmaster gone → dead at once; stopped or not
answering → dead after DEAD_AFTER seconds), its pg_stat_replication telling how each reader streams,
and at each reader's postmaster. Then:
- FAILOVER: the checkpointed unplanned failover of cluster_failover.py begins and is carried on;
- RESTART: the writer is handed back to its own reconciler (status `ha.in_sync` cleared; a stopped or
  hung postmaster fenced), which restarts it in place — while the readers are in sync it leaves a dead
  writer to this monitor (`holds`);
- SYNC: `synchronous_standby_names = 'ANY 1 (<readers>)'` on the writer (ALTER SYSTEM + reload), then
  confirmed: one named reader counts for commits and has everything flushed so far. `in_sync` is cleared
  *before* a named reader is dropped (acknowledged commits may be on it alone), so a failover never
  counts on readers that may miss one; dropping the last one is the degraded state (an event), left as
  soon as a reader streams again (another).

    status.ha = {"writer": id (whom the names apply to), "sync": [reader ids], "in_sync": bool}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import psycopg

from kura.control import steps
from kura.control.rds import cluster_failover, ha, nodes, routing
from kura.control.rds.cluster_ha import Action, Decision, Reader, Snapshot, answering, decide
from kura.control.rds.plan import RUNNING, Op
from kura.control.types import Outcome
from kura.engines.postgres import ha as pg_ha
from kura.engines.postgres.backup import BackupError
from kura.engines.postgres.types import NodeState
from kura.env import Env
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE, SOURCE_CLUSTER
from kura.store.types import Event, Resource

PACE = ha.PACE
CONFIRM_SECONDS = 1.0  # a pass waits this long at most for a named reader to confirm
DEGRADED = ("No reader DB instance is streaming: the writer goes on accepting writes without "
            "synchronous replication until a reader streams again")
SYNCED = "Reader DB instances are synchronous: each commit is acknowledged once any one of {} has it"

# Operations of a DB instance under which its postmaster keeps running: its death is still a death.
_LIVE_OPS = frozenset(str(op) for op in (
    Op.APPLY_PARAMETERS, Op.PENDING_REBOOT, Op.SET_PASSWORD, Op.MANAGE_PASSWORD, Op.UNMANAGE_PASSWORD,
    Op.GROW_STORAGE, Op.ROTATE_CERTIFICATE, Op.FENCE, Op.UNFENCE))

_lock = threading.Lock()
_missing: dict[tuple[str, str, str], float] = {}  # (region, cluster, reader) → first seen not answering


def _event(env: Env, res: Resource, message: str, *categories: str) -> None:
    env.store.add_event(Event(res.region, SOURCE_CLUSTER, res.id, message, categories,
                              extra={"arn": f"arn:aws:rds:{res.region}:{env.account}:cluster:{res.id}"}))


def _recorded(cluster: Resource, writer: str) -> tuple[tuple[str, ...], bool]:
    found = cluster.status.get("ha") or {}
    if found.get("writer") != writer:
        return (), False
    return tuple(found.get("sync") or ()), bool(found.get("in_sync"))


def _serves(member: Resource) -> bool:
    """Running (or meant to run), and not paused (Serverless v2)."""
    return member.spec.get("desired") not in ("deleted", "stopped") \
        and member.status.get("state") in RUNNING and not routing.paused(member)


def _writer(cluster: Resource, members: list[Resource]) -> Resource | None:
    """The cluster's writer when it serves as one, and no operation of its own stops its postmaster on
    purpose (a reboot, a class change, a restart in place)."""
    found = next((m for m in members if m.id == cluster.spec.get("writer")), None)
    if found is None or not _serves(found) or found.status.get("role") == "replica":
        return None
    op = (found.status.get("op") or {}).get("name")
    return found if op is None or op in _LIVE_OPS else None


def _readers(members: list[Resource], writer: Resource) -> list[Resource]:
    return [m for m in members if m.id != writer.id and _serves(m) and m.status.get("role") == "replica"]


def _watched(cluster: Resource, members: list[Resource]) -> tuple[Resource, list[Resource]] | None:
    if cluster.spec.get("desired") in ("deleted", "stopped") or cluster.status.get("failover"):
        return None
    writer = _writer(cluster, members)
    if writer is None:
        return None
    readers = _readers(members, writer)
    if not readers and not _recorded(cluster, writer.id)[0]:
        return None  # nothing to fail over to, nothing commits wait for: the writer's reconciler has it
    return writer, readers


def pace(cluster: Resource, members: list[Resource], idle: float) -> float:
    """When the cluster reconciler should look again: every PACE seconds while this monitor watches."""
    return PACE if _watched(cluster, members) is not None else idle


def holds(env: Env, res: Resource) -> bool:
    """Whether `res` is a cluster writer whose death is this monitor's to handle (its readers are in
    sync): its own reconciler then does not restart it in place."""
    ident = res.spec.get("DBClusterIdentifier")
    cluster = env.store.get(KIND_CLUSTER, res.region, str(ident)) if ident else None
    if cluster is None or cluster.spec.get("writer") != res.id:
        return False
    names, in_sync = _recorded(cluster, res.id)
    return in_sync and bool(names)


def _reader(env: Env, cluster: Resource, res: Resource, streams: Mapping[str, pg_ha.Standby],
            now: float) -> Reader:
    node = nodes.node_for(env, res)
    running = node is not None and nodes.liveness(node) is NodeState.RUNNING
    stream = streams.get(res.id)
    key = (cluster.region, cluster.id, res.id)
    with _lock:
        if answering(stream):
            _missing.pop(key, None)
            missing = 0.0
        else:
            missing = now - _missing.setdefault(key, now)
    return Reader(res.id, int(res.spec.get("PromotionTier", 1)), running, stream, missing)


def look(env: Env, cluster: Resource, members: list[Resource]) -> tuple[Snapshot, Resource] | None:
    """One snapshot of the cluster's writer and readers (None: nothing to watch now)."""
    found = _watched(cluster, members)
    if found is None:
        return None
    writer, readers = found
    seen = ha.look(env, writer)
    fresh = env.store.get(KIND_INSTANCE, writer.region, writer.id)
    if fresh is None or _writer(cluster, [fresh]) is None:
        return None  # an operation of its own began meanwhile (a reboot stops the postmaster)
    now = env.clock.monotonic()
    with _lock:  # readers gone from the cluster are forgotten
        for key in [k for k in _missing if k[:2] == (cluster.region, cluster.id)
                    and k[2] not in {r.id for r in readers}]:
            del _missing[key]
    names, in_sync = _recorded(cluster, writer.id)
    snapshot = Snapshot(cluster.id, writer.id, seen.primary_dead, seen.why,
                        tuple(_reader(env, cluster, r, seen.streams, now) for r in readers), names, in_sync)
    return snapshot, fresh


def cycle(env: Env, res: Resource, members: list[Resource]) -> Outcome | None:
    """One HA pass: an Outcome when it acted, None when there was nothing to do."""
    found = look(env, res, members)
    if found is None:
        return None
    seen, writer = found
    chosen = decide(seen)
    if chosen.action is Action.FAILOVER:
        ha.forget(writer)
        started = cluster_failover.begin_unplanned(env, res, writer.id, seen.why, seen.names)
        return cluster_failover.run(env, started)
    if chosen.action is Action.RESTART:
        return _restart(env, res, writer, seen, chosen)
    if chosen.action is Action.SYNC:
        try:
            return _sync(env, res, writer, seen, chosen)
        except (psycopg.Error, BackupError) as exc:  # the writer went away meanwhile: the next look sees
            return Outcome(f"{chosen.reason}: not applied ({exc})", requeue_after=PACE)
    return None


def _restart(env: Env, res: Resource, writer: Resource, seen: Snapshot, chosen: Decision) -> Outcome | None:
    """The writer goes back to its own reconciler, which restarts a postmaster that is gone: a stopped or
    hung one is fenced first (that reconciler only sees a postmaster that is gone)."""
    node = nodes.node_for(env, writer) if seen.why != ha.GONE else None
    fenced = node is not None and pg_ha.fence(node)
    if not seen.in_sync and not fenced:
        return None  # handed back already
    ha.forget(writer)
    if seen.in_sync:
        _record(env, res, writer.id, seen.names, False)
        _event(env, res, f"The writer DB instance {writer.id} failed ({seen.why}) and no synchronous reader "
               "can take over: it is restarted in place", "availability", "failure")
    return Outcome(chosen.reason, requeue_after=PACE)


def _record(env: Env, res: Resource, writer: str, names: tuple[str, ...], in_sync: bool) -> None:
    def change(status: dict[str, Any]) -> dict[str, Any]:
        status["ha"] = {"writer": writer, "sync": list(names), "in_sync": in_sync}
        return status

    steps.patch_status(env.store, res, change)


def _sync(env: Env, res: Resource, writer: Resource, seen: Snapshot, chosen: Decision) -> Outcome:
    """Commits wait for any one of `chosen.names` from now on; confirmed once one of them has all."""
    node = nodes.node_for(env, writer)
    if node is None:
        return Outcome(f"DB cluster {res.id}: writer {writer.id} has no engine", requeue_after=PACE)
    old, new = seen.names, chosen.names
    kept = seen.in_sync and bool(old) and set(old) <= set(new)  # the readers that had it all stay named
    if seen.in_sync and not kept:
        _record(env, res, writer.id, old, False)  # first: a failover must not count on them any more
    if new != old:
        pg_ha.set_standby_names(node, pg_ha.quorum(new))
        _record(env, res, writer.id, new, kept)
        if not new:
            _event(env, res, DEGRADED, "availability", "failure")
        elif not old:
            _event(env, res, SYNCED.format(", ".join(new)), "availability")
    if not new or kept:
        return Outcome(chosen.reason, requeue_after=PACE)
    mark = pg_ha.flushed(node)
    deadline = time.monotonic() + CONFIRM_SECONDS
    while not pg_ha.synced_past(node, new, mark):
        if time.monotonic() > deadline:
            return Outcome(f"{chosen.reason} (not confirmed yet)", requeue_after=PACE)
        time.sleep(0.02)
    _record(env, res, writer.id, new, True)
    return Outcome(chosen.reason, requeue_after=PACE)
