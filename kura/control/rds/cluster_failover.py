"""FailoverDBCluster: the writer role moves to a reader with no acknowledged commit lost.

Checkpointed in the cluster's status (`failover`: from, to, step), so that a Kura killed half-way goes
on where it stopped. While it runs the members' own reconcilers leave them alone, and the cluster
endpoint is held (new connections wait in the router). In order:
  hold      the cluster endpoint has no target;
  stop      the old writer shuts down cleanly — a clean shutdown sends every WAL record to the
            connected readers before the postmaster exits;
  catch-up  the target has replayed the old writer's shutdown checkpoint: it has every commit;
  promote   the target ends recovery;
  roles     the specs say who writes now: the target keeps the cluster's backups, the old writer and
            the other readers follow it (their reconcilers rewind or re-point them, `refollow`);
  release   the endpoint moves to the new writer as soon as it serves.
A target that cannot catch up in time gives the role back: the old writer starts again.
"""

from __future__ import annotations

import time
from typing import Any

from kura.control.rds import nodes, routing
from kura.control.types import Outcome, TemporaryError
from kura.engines.postgres import backup, replication
from kura.engines.postgres import ha as pg_ha
from kura.env import Env
from kura.services.rds import automated_backups
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE, SOURCE_CLUSTER
from kura.store.types import Event, Resource

CATCH_UP_SECONDS = 30.0
STEPS = ("hold", "stop", "catch-up", "promote", "roles", "release")
SOURCE = "ReadReplicaSourceDBInstanceIdentifier"
SOURCE_DBI = "ReadReplicaSourceDbiResourceId"


def in_progress(env: Env, member: Resource) -> bool:
    """Whether `member`'s cluster is failing over (its reconciler then waits)."""
    ident = member.spec.get("DBClusterIdentifier")
    cluster = env.store.get(KIND_CLUSTER, member.region, str(ident)) if ident else None
    return cluster is not None and bool(cluster.status.get("failover"))


def _event(env: Env, res: Resource, message: str) -> None:
    env.store.add_event(Event(res.region, SOURCE_CLUSTER, res.id, message, ("failover",),
                              extra={"arn": f"arn:aws:rds:{res.region}:{env.account}:cluster:{res.id}"}))


def _save(env: Env, res: Resource, **fields: Any) -> Resource:
    current = env.store.get(KIND_CLUSTER, res.region, res.id) or res
    return env.store.update(current, status={**current.status, **fields})


def _instance(env: Env, region: str, ident: str) -> Resource:
    found = env.store.get(KIND_INSTANCE, region, ident)
    if found is None:
        raise TemporaryError(f"DB instance {ident} is gone", 1.0)
    return found


def _node(env: Env, res: Resource) -> Any:
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


def run(env: Env, res: Resource) -> Outcome:
    """Carry the failover in `res.status.failover` on from its checkpoint to the end."""
    state = dict(res.status["failover"])
    old = _instance(env, res.region, str(state["from"]))
    new = _instance(env, res.region, str(state["to"]))
    while state["step"] < len(STEPS):
        step = STEPS[state["step"]]
        if step == "hold":
            res = _save(env, res, holding=True)
            routing.publish(env)
        elif step == "stop":
            _node(env, old).stop()
            state["checkpoint"] = pg_ha.last_checkpoint(_node(env, old))
        elif step == "catch-up" and not _caught_up(env, new, state.get("checkpoint")):
            _node(env, old).start()  # gives the role back: nothing was promoted
            res = _save(env, res, failover=None, holding=False)
            routing.publish(env)
            _event(env, res, f"Failover to DB instance {new.id} abandoned: it could not catch up with the "
                   f"writer in {CATCH_UP_SECONDS:g} s")
            return Outcome(f"DB cluster {res.id}: failover to {new.id} abandoned")
        elif step == "promote":
            replication.promote(_node(env, new))
            backup.wait_promoted(_node(env, new), 60)
        elif step == "roles":
            _roles(env, res, old, new)
        elif step == "release":
            res = _save(env, res, failover=None, holding=False)
            routing.publish(env)
            _event(env, res, f"Completed failover to DB instance: {new.id}")
            return Outcome(f"DB cluster {res.id} failed over from {old.id} to {new.id}", requeue_after=0.5)
        state["step"] += 1
        res = _save(env, res, failover=dict(state))
    return Outcome(f"DB cluster {res.id}: failover finished")


def _caught_up(env: Env, new: Resource, checkpoint: int | None) -> bool:
    """The target has replayed past the old writer's shutdown checkpoint (so it has every commit)."""
    if checkpoint is None:
        return False
    node = _node(env, new)
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        done = pg_ha.replayed(node)
        if done is not None and done > checkpoint:
            return True
        time.sleep(0.05)
    return False


def _roles(env: Env, res: Resource, old: Resource, new: Resource) -> None:
    """The specs after the switch, in one transaction: the target writes and keeps the cluster's backups;
    every other member follows it. The old writer is marked a replica that followed someone else, which
    its reconciler's refollow turns into a standby of the new writer (rewound if need be)."""
    cluster = env.store.get(KIND_CLUSTER, res.region, res.id) or res
    retention = int(cluster.spec.get("BackupRetentionPeriod") or 1)
    with env.store.transaction():
        env.store.update(cluster, spec={**cluster.spec, "writer": new.id})
        spec = {k: v for k, v in new.spec.items() if k not in (SOURCE, SOURCE_DBI)}
        promoted = env.store.update(new, spec={**spec, "BackupRetentionPeriod": retention})
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
                                                  "state": "available"})
