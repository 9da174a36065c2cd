"""Cluster failovers: the writer role moves to a reader with no acknowledged commit lost — asked for
(FailoverDBCluster) or because the writer died (cluster_monitor.py).

Checkpointed in the cluster's status (`failover`: from, to, step, unplanned), so that a Kura killed
half-way goes on where it stopped. While it runs the members' own reconcilers leave them alone, and the
cluster endpoint is held (new connections wait in the router).

FailoverDBCluster, in order:
  hold      the cluster endpoint has no target;
  stop      the old writer shuts down cleanly — a clean shutdown sends every WAL record to the
            connected readers before the postmaster exits;
  catch-up  the target has replayed the old writer's shutdown checkpoint: it has every commit;
  promote   the target ends recovery;
  roles     the specs say who writes now: the target keeps the cluster's backups, the old writer and
            the other readers follow it (their reconcilers rewind or re-point them, `refollow`);
  release   the endpoint moves to the new writer as soon as it serves.
A target that cannot catch up in time gives the role back: the old writer starts again.

When the writer died, two-phase as CloudNativePG does it:
  hold      as above;
  fence     no process of the old writer survives (a stopped or hung one is killed): it can never
            acknowledge a write again;
  drain     the readers' WAL receivers have stopped (for DRAIN_SECONDS at most): what each has is final;
  elect     the reader with the most WAL (cluster_ha.rank): commits waited for any one of the named
            readers, so it has every acknowledged one. With no named reader left running the failover is
            abandoned and the writer restarted in place, as a cluster without readers has it;
  promote, roles, release as above; the old writer comes back as a reader (rewound) once it can run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from kura.control.rds import cluster_ha, nodes, routing
from kura.control.rds.plan import RUNNING
from kura.control.types import Outcome, TemporaryError
from kura.engines.postgres import backup, replication
from kura.engines.postgres import ha as pg_ha
from kura.engines.postgres.errors import PgError
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.types import NodeState
from kura.env import Env
from kura.services.rds import automated_backups
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE, SOURCE_CLUSTER
from kura.store.types import Event, Resource

CATCH_UP_SECONDS = 30.0
DRAIN_SECONDS = 2.0
RETRY = 0.5  # seconds before a failed step is tried again (doubling while it keeps failing)
PLANNED = ("hold", "stop", "catch-up", "promote", "roles", "release")
UNPLANNED = ("hold", "fence", "drain", "elect", "promote", "roles", "release")
SOURCE = "ReadReplicaSourceDBInstanceIdentifier"
SOURCE_DBI = "ReadReplicaSourceDbiResourceId"


def in_progress(env: Env, member: Resource) -> bool:
    """Whether `member`'s cluster is failing over (its reconciler then waits)."""
    ident = member.spec.get("DBClusterIdentifier")
    cluster = env.store.get(KIND_CLUSTER, member.region, str(ident)) if ident else None
    return cluster is not None and bool(cluster.status.get("failover"))


def _event(env: Env, res: Resource, message: str, **extra: Any) -> None:
    env.store.add_event(Event(res.region, SOURCE_CLUSTER, res.id, message, ("failover",),
                              extra={"arn": f"arn:aws:rds:{res.region}:{env.account}:cluster:{res.id}",
                                     **extra}))


def _save(env: Env, res: Resource, **fields: Any) -> Resource:
    current = env.store.get(KIND_CLUSTER, res.region, res.id) or res
    return env.store.update(current, status={**current.status, **fields})


def _instance(env: Env, region: str, ident: str) -> Resource:
    found = env.store.get(KIND_INSTANCE, region, ident)
    if found is None:
        raise TemporaryError(f"DB instance {ident} is gone", 1.0)
    return found


def _node(env: Env, res: Resource) -> PgNode:
    node = nodes.node_for(env, res)
    if node is None:
        raise TemporaryError(f"DB instance {res.id} has no engine", 1.0)
    return node


def start(env: Env, res: Resource) -> Resource:
    """Record the failover asked for (spec failover_seq / failover_target) as begun."""
    target = str(res.spec["failover_target"])
    _event(env, res, f"Started cross AZ failover to DB instance: {target}")
    return _save(env, res, failover={"from": res.spec.get("writer"), "to": target, "step": 0},
                 failover_seq=int(res.spec.get("failover_seq", 0)))


def begin_unplanned(env: Env, res: Resource, writer: str, why: str, named: tuple[str, ...]) -> Resource:
    """Record a failover from the dead `writer` as begun; `named`: the readers commits waited for."""
    return _save(env, res, failover={"from": writer, "to": None, "step": 0, "unplanned": True, "why": why,
                                     "named": list(named)})


def run(env: Env, res: Resource) -> Outcome:
    """Carry the failover in `res.status.failover` on from its checkpoint to the end."""
    state = dict(res.status["failover"])
    names = UNPLANNED if state.get("unplanned") else PLANNED
    while state["step"] < len(names):
        step = names[state["step"]]
        try:
            ended = _STEPS[step](env, res, state)
        except (psycopg.Error, PgError) as exc:  # soon again from this step: the failover must go on
            raise TemporaryError(f"DB cluster {res.id}: failover step {step} failed: {exc}", RETRY) from exc
        if ended is not None:
            return ended
        state["step"] += 1
        res = _save(env, res, failover=dict(state))
    return Outcome(f"DB cluster {res.id}: failover finished")


def _hold(env: Env, res: Resource, state: dict[str, Any]) -> None:
    _save(env, res, holding=True)
    routing.publish(env)


def _stop(env: Env, res: Resource, state: dict[str, Any]) -> None:
    old = _node(env, _instance(env, res.region, str(state["from"])))
    old.stop()
    state["checkpoint"] = pg_ha.last_checkpoint(old)


def _catch_up(env: Env, res: Resource, state: dict[str, Any]) -> Outcome | None:
    """The target has replayed past the old writer's shutdown checkpoint (so it has every commit); else
    the old writer starts again (nothing was promoted) and the failover is abandoned."""
    new = _instance(env, res.region, str(state["to"]))
    checkpoint = state.get("checkpoint")
    if checkpoint is not None:
        node = _node(env, new)
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while time.monotonic() < deadline:
            done = pg_ha.replayed(node)
            if done is not None and done > checkpoint:
                return None
            time.sleep(0.05)
    _node(env, _instance(env, res.region, str(state["from"]))).start()
    res = _save(env, res, failover=None, holding=False)
    routing.publish(env)
    _event(env, res, f"Failover to DB instance {new.id} abandoned: it could not catch up with the writer "
           f"in {CATCH_UP_SECONDS:g} s")
    return Outcome(f"DB cluster {res.id}: failover to {new.id} abandoned")


def _fence(env: Env, res: Resource, state: dict[str, Any]) -> None:
    node = nodes.node_for(env, _instance(env, res.region, str(state["from"])))
    if node is not None:
        pg_ha.fence(node)


def _readers(env: Env, res: Resource, state: dict[str, Any]) -> list[tuple[Resource, PgNode]]:
    """The cluster's readers whose postmaster runs (the candidates)."""
    found = []
    for member in env.store.list(KIND_INSTANCE, res.region):
        if member.spec.get("DBClusterIdentifier") != res.id or member.id == state["from"] \
                or member.spec.get("desired") in ("deleted", "stopped") \
                or member.status.get("role") != "replica" or member.status.get("state") not in RUNNING:
            continue
        node = nodes.node_for(env, member)
        if node is not None and nodes.liveness(node) is NodeState.RUNNING:
            found.append((member, node))
    return found


def _drain(env: Env, res: Resource, state: dict[str, Any]) -> None:
    """The fenced writer sends nothing more: once the WAL receivers stopped, each reader's WAL is final."""
    found = _readers(env, res, state)
    deadline = time.monotonic() + DRAIN_SECONDS
    while any(pg_ha.receiving(node) for _, node in found) and time.monotonic() < deadline:
        time.sleep(0.02)


def _elect(env: Env, res: Resource, state: dict[str, Any]) -> Outcome | None:
    candidates = [cluster_ha.Candidate(member.id, got, int(member.spec.get("PromotionTier", 1)))
                  for member, node in _readers(env, res, state) if (got := pg_ha.received(node)) is not None]
    ranked = cluster_ha.rank(candidates)
    if not any(c.id in (state.get("named") or ()) for c in ranked):
        return _abandon(env, res, state)
    state["to"] = ranked[0].id
    state["ranking"] = [[c.id, c.received, c.tier] for c in ranked]
    _event(env, res, f"Started cross AZ failover to DB instance: {ranked[0].id}",
           reason=str(state.get("why") or ""))
    return None


def _abandon(env: Env, res: Resource, state: dict[str, Any]) -> Outcome:
    """No reader that commits waited for still runs: none is sure to have every acknowledged commit.
    The writer goes back to its own reconciler, which restarts it in place."""
    current = env.store.get(KIND_CLUSTER, res.region, res.id) or res
    ha = {**(current.status.get("ha") or {}), "in_sync": False}
    res = _save(env, res, failover=None, holding=False, ha=ha)
    routing.publish(env)
    _event(env, res, f"The writer DB instance {state['from']} failed and no reader is sure to have every "
           "commit: it is restarted in place")
    return Outcome(f"DB cluster {res.id}: no reader can take over from {state['from']}; restarted in place")


def _promote(env: Env, res: Resource, state: dict[str, Any]) -> None:
    node = _node(env, _instance(env, res.region, str(state["to"])))
    replication.promote(node)
    backup.wait_promoted(node, 60)


def _roles(env: Env, res: Resource, state: dict[str, Any]) -> None:
    """The specs after the switch, in one transaction: the target writes (a primary now) and keeps the
    cluster's backups; every other member follows it. The old writer is marked a replica that followed
    someone else, which its reconciler's refollow turns into a standby of the new writer (rewound if need
    be; at once if it died: `crashed`). Commits wait for no reader until the monitor names the readers
    streaming from the new writer."""
    cluster = env.store.get(KIND_CLUSTER, res.region, res.id) or res
    old, new = _instance(env, res.region, str(state["from"])), _instance(env, res.region, str(state["to"]))
    retention = int(cluster.spec.get("BackupRetentionPeriod") or 1)
    with env.store.transaction():
        cluster = env.store.update(cluster, spec={**cluster.spec, "writer": new.id})
        env.store.update(cluster, status={**cluster.status, "ha": {"writer": new.id, "sync": [],
                                                                   "in_sync": False}})
        spec = {k: v for k, v in new.spec.items() if k not in (SOURCE, SOURCE_DBI)}
        promoted = env.store.update(new, spec={**spec, "BackupRetentionPeriod": retention})
        promoted = env.store.update(promoted, status={**promoted.status, "role": "primary",
                                                      "replication": None})
        automated_backups.follow(env.store, env.account, promoted)
        follow = {SOURCE: new.id, SOURCE_DBI: new.spec.get("DbiResourceId")}
        for member in env.store.list(KIND_INSTANCE, res.region):
            if member.spec.get("DBClusterIdentifier") != res.id or member.id == new.id:
                continue
            if member.spec.get("desired") == "deleted":
                continue
            changed = env.store.update(member, spec={**member.spec, **follow, "BackupRetentionPeriod": 0})
            if member.id == old.id:
                automated_backups.retire(env.store, changed, delete=False)  # restorable until retention ends
                env.store.update(changed, status={**changed.status, "role": "replica", "replica_of": old.id,
                                                  "state": "available",
                                                  "crashed": bool(state.get("unplanned"))})


def _release(env: Env, res: Resource, state: dict[str, Any]) -> Outcome:
    res = _save(env, res, failover=None, holding=False)
    routing.publish(env)
    _event(env, res, f"Completed failover to DB instance: {state['to']}")
    return Outcome(f"DB cluster {res.id} failed over from {state['from']} to {state['to']}",
                   requeue_after=0.5)


_STEPS: dict[str, Callable[[Env, Resource, dict[str, Any]], Outcome | None]] = {
    "hold": _hold, "stop": _stop, "catch-up": _catch_up, "fence": _fence, "drain": _drain, "elect": _elect,
    "promote": _promote, "roles": _roles, "release": _release}
