"""The `elasticache.replication-group` reconciler: roles, endpoints and the HA monitor.

The API creates the member cache clusters ("<group>-001", …); their reconciler starts each redis-server
with the role and addresses this reconciler decided (members.placement). This one allocates the
PrimaryEndpoint and ReaderEndpoint addresses (port 6379 each), names the first member primary, and
then, every HA_SECONDS with AutomaticFailoverEnabled, makes one decision per cycle:
- the primary is dead (process gone, or not answering for DEAD_AFTER seconds): promote the in-sync
  replica with the highest offset, move the primary endpoint to it, point the other replicas at it;
- TestFailover (spec failover_seq ahead): the same, planned: writes paused until the replica caught up;
- a member that is not the primary but runs as one (the old primary came back): make it a replica;
- the reader endpoint is on a member that died or on the primary while a replica lives: move it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from kura.control import maintenance
from kura.control.elasticache import common, ha, members, nodes, snapshot
from kura.control.registry import reconciler
from kura.control.types import Outcome
from kura.env import Env
from kura.net import addresses
from kura.services.elasticache.records import (
    KIND_CACHE_CLUSTER,
    KIND_REPLICATION_GROUP,
    KIND_SNAPSHOT,
    SOURCE_REPLICATION_GROUP,
)
from kura.store.types import Resource

log = logging.getLogger("kura.control.elasticache")

HA_SECONDS = 0.5
IDLE_SECONDS = 2.0
DEAD_AFTER = 1.5
# A replica whose link to the primary broke at most this long ago was in sync when the primary died.
RECENT_LINK_SECONDS = DEAD_AFTER + 4 * HA_SECONDS
_lock = threading.Lock()
# (region, group) → when (monotonic) the primary stopped answering
_down_since: dict[tuple[str, str], float] = {}


def _owner(env: Env, res: Resource, which: str) -> str:
    return f"{common.arn_of(env, res)}#{which}"


def _observe(env: Env, res: Resource) -> list[ha.Member]:
    found = []
    for ident in res.spec.get("members") or []:
        member = env.store.get(KIND_CACHE_CLUSTER, res.region, str(ident))
        if member is None or member.spec.get("desired") == "deleted":
            continue
        node = nodes.node_for(env, member)
        status = node.status() if node is not None and member.status.get("state") == "available" else None
        found.append(ha.Member(member, node, status))
    return found


def _allocate(env: Env, res: Resource) -> Outcome:
    port = int(res.spec.get("Port") or common.REDIS_PORT)
    primary = addresses.allocate(env.store, _owner(env, res, "primary"), port)
    reader = addresses.allocate(env.store, _owner(env, res, "reader"), port)
    ids = [str(m) for m in res.spec.get("members") or []]
    for ident in ids:  # the members' own addresses too, so that no replica waits for its primary's
        addresses.allocate(env.store, common.arn(env, KIND_CACHE_CLUSTER, res.region, ident), port)
    common.patch(env, res, {
        "state": "creating", "primary": ids[0] if ids else None,
        "reader_on": ids[1] if len(ids) > 1 else (ids[0] if ids else None),
        "primary_endpoint": {"address": primary.address, "port": primary.port},
        "reader_endpoint": {"address": reader.address, "port": reader.port},
        "failover_seq": int(res.spec.get("failover_seq") or 0), "in_sync": []})
    return Outcome(f"replication group {res.id}: endpoints {primary.address} / {reader.address}",
                   requeue_after=0.2)


def _delete(env: Env, res: Resource) -> Outcome:
    if res.status.get("state") != "deleting":
        res = common.patch(env, res, {"state": "deleting"})
    name = res.spec.get("final_snapshot")
    if name and not res.status.get("final_snapshot_taken"):
        _final_snapshot(env, res, str(name))
    left = [env.store.get(KIND_CACHE_CLUSTER, res.region, str(m)) for m in res.spec.get("members") or []]
    for member in left:
        if member is not None and member.spec.get("desired") != "deleted":
            env.store.update(member, spec={**member.spec, "desired": "deleted", "final_snapshot": None})
    if any(m is not None for m in left):
        return Outcome(f"replication group {res.id}: waiting for its members to be deleted",
                       requeue_after=0.5)
    for which in ("primary", "reader"):
        addresses.release(env.store, _owner(env, res, which))
    current = env.store.get(res.kind, res.region, res.id)
    if current is not None:
        env.store.delete(current)
    common.event(env, res, "Replication group deleted", "deletion")
    return Outcome(f"replication group {res.id} deleted")


def _final_snapshot(env: Env, res: Resource, name: str) -> None:
    primary = env.store.get(KIND_CACHE_CLUSTER, res.region, members.primary_of(res))
    node = nodes.node_for(env, primary) if primary is not None else None
    if primary is not None and node is not None and nodes.alive(node.status()) \
            and env.store.get(KIND_SNAPSHOT, res.region, name) is None:
        fields = snapshot.take(env, primary, node, name, res.spec.get("KmsKeyId"))
        spec = {"SnapshotName": name, "SnapshotSource": "manual", "ReplicationGroupId": res.id,
                **{k: res.spec.get(k) for k in ("CacheNodeType", "EngineVersion", "KmsKeyId")}}
        env.store.create(KIND_SNAPSHOT, res.region, name, spec, fields)
    common.patch(env, res, {"final_snapshot_taken": True})


def _failover(env: Env, res: Resource, found: list[ha.Member], old: ha.Member | None,
              planned: bool) -> Outcome:
    in_sync = [str(i) for i in res.status.get("in_sync") or []]
    candidates = [m for m in found if old is None or m.id != old.id]
    if planned and old is not None and old.alive:
        target = res.spec.get("failover_target")  # ModifyReplicationGroup --primary-cluster-id
        if target:
            return _failover_to(env, res, found, old, str(target))
        best = ha.elect(candidates, [m.id for m in candidates])
        if best is None:
            return _no_candidate(env, res, planned)
        ha.pause_writes(old, 5000)
        ha.wait_caught_up(old, best)
    else:
        best = ha.elect(candidates, in_sync, recent=RECENT_LINK_SECONDS)
        if best is None:
            return _no_candidate(env, res, planned)
    return _promote(env, res, found, old, best, planned)


def _failover_to(env: Env, res: Resource, found: list[ha.Member], old: ha.Member, target: str) -> Outcome:
    """PrimaryClusterId: promote exactly `target`, if it is a live replica in sync with the primary (its
    replication link up) and catches up while writes are paused; else the change fails with an event."""
    if target == old.id:
        common.patch(env, res, {"failover_seq": int(res.spec.get("failover_seq") or 0)})
        return Outcome(f"replication group {res.id}: {target} is already the primary", requeue_after=0.0)
    chosen = next((m for m in found if m.id == target), None)
    if chosen is None or not chosen.alive or chosen.status is None or not chosen.status.master_link_up:
        common.event(env, res, f"Failed to make {target} the primary: it is not a replica in sync with "
                     f"the primary {old.id}", "failure")
        common.patch(env, res, {"failover_seq": int(res.spec.get("failover_seq") or 0)})
        return Outcome(f"replication group {res.id}: {target} is not in sync", requeue_after=HA_SECONDS)
    ha.pause_writes(old, 5000)
    if not ha.wait_caught_up(old, chosen):
        ha.unpause(old)
        common.event(env, res, f"Failed to make {target} the primary: it did not catch up with the "
                     f"primary {old.id} in {ha.SYNC_TIMEOUT:.0f} s", "failure")
        common.patch(env, res, {"failover_seq": int(res.spec.get("failover_seq") or 0)})
        return Outcome(f"replication group {res.id}: {target} did not catch up", requeue_after=HA_SECONDS)
    return _promote(env, res, found, old, chosen, True)


def _auth_applied(env: Env, res: Resource, found: list[ha.Member]) -> str | None:
    """Record status.auth_token_seq once every member's node carries the group's AuthToken change."""
    wanted = int(res.spec.get("auth_token_seq") or 0)
    if wanted <= int(res.status.get("auth_token_seq") or 0):
        return None
    ids = [str(m) for m in res.spec.get("members") or []]
    if len(found) < len(ids) or any(int(m.res.status.get("auth_token_seq") or 0) < wanted for m in found):
        return None
    common.patch(env, res, {"auth_token_seq": wanted})
    strategy = res.spec.get("auth_token_strategy") or "ROTATE"
    common.event(env, res, f"AuthToken updated on every node (strategy {strategy})", "configuration change")
    return f"AuthToken change {wanted} ({strategy}) applied"


def _no_candidate(env: Env, res: Resource, planned: bool) -> Outcome:
    fields: dict[str, Any] = {"failover_seq": int(res.spec.get("failover_seq") or 0)} if planned else {}
    if planned or res.status.get("failover_blocked") is not True:
        common.event(env, res, "Failover failed: no replica was in sync with the primary", "failure")
        fields["failover_blocked"] = not planned
    common.patch(env, res, fields)
    return Outcome(f"replication group {res.id}: no in-sync replica to promote", requeue_after=HA_SECONDS)


def _promote(env: Env, res: Resource, found: list[ha.Member], old: ha.Member | None, best: ha.Member,
             planned: bool) -> Outcome:
    assert best.node is not None
    best.node.promote()
    status = {**res.status, "primary": best.id, "last_failover": env.clock.now(), "failover_blocked": False,
              "reader_on": ha.reader_for(res, [m for m in found if m.id != (old.id if old else "")], best.id)}
    if planned:
        status["failover_seq"] = int(res.spec.get("failover_seq") or 0)
    after = dataclasses.replace(res, status=status)
    drop = ha.endpoint_addresses(res)
    if old is not None:
        ha.rebind(env, after, old, drop=drop)  # a live old primary lets go of the endpoint first
    ha.rebind(env, after, best, drop=drop)
    for member in found:
        if member.id != best.id and member.node is not None and member.alive:
            member.node.replicaof(best.address, best.port)
            if member is not old:
                ha.rebind(env, after, member, drop=drop)
    if old is not None:
        ha.unpause(old)
    common.patch(env, res, {k: status[k] for k in ("primary", "last_failover", "failover_blocked",
                                                   "reader_on", "failover_seq") if k in status})
    for member in found:
        role = "primary" if member.id == best.id else "replica"
        common.patch(env, member.res, {"role": role})
    old_id = old.id if old else members.primary_of(res)
    common.event(env, res, f"Failover from master node {old_id} to replica node {best.id} completed",
                 "failover")
    with _lock:
        _down_since.pop((res.region, res.id), None)
    return Outcome(f"replication group {res.id}: failover from {old_id} to {best.id} completed",
                   requeue_after=HA_SECONDS)


def _primary_dead(env: Env, res: Resource, primary: ha.Member | None) -> bool:
    """Gone at once; not answering for DEAD_AFTER seconds (measured on env.clock)."""
    key = (res.region, res.id)
    if primary is not None and primary.alive:
        with _lock:
            _down_since.pop(key, None)
        return False
    if primary is None or primary.gone:
        return True
    now = env.clock.monotonic()
    with _lock:
        since = _down_since.setdefault(key, now)
    return now - since >= DEAD_AFTER


def _tend(env: Env, res: Resource, found: list[ha.Member], primary: ha.Member) -> str | None:
    """With a live primary: record who is in sync, demote stray primaries, place the reader endpoint."""
    in_sync = sorted(m.id for m in found if m.id != primary.id and m.alive and m.status is not None
                     and m.status.master_link_up)
    fields: dict[str, Any] = {"in_sync": in_sync} if in_sync != res.status.get("in_sync") else {}
    did = None
    for member in found:
        if member.id != primary.id and member.alive and member.node is not None \
                and member.status is not None and member.status.role == "master":
            member.node.replicaof(primary.address, primary.port)
            common.patch(env, member.res, {"role": "replica"})
            common.event(env, res, f"Cache node {member.id} rejoined as a replica of {primary.id}",
                         "notification")
            did = f"{member.id} made a replica of {primary.id}"
    reader = ha.reader_for(res, found, primary.id)
    if reader != res.status.get("reader_on"):
        fields["reader_on"] = reader
        after = dataclasses.replace(res, status={**res.status, **fields})
        drop = ha.endpoint_addresses(res)
        for member in sorted(found, key=lambda m: m.id != res.status.get("reader_on")):
            ha.rebind(env, after, member, drop=drop)  # the old holder first: it lets go of the address
        did = did or f"reader endpoint moved to {reader}"
    if fields:
        common.patch(env, res, fields)
    return did


def _cycle(env: Env, res: Resource) -> Outcome:
    found = _observe(env, res)
    primary_id = members.primary_of(res)
    primary = next((m for m in found if m.id == primary_id), None)
    wants_test = int(res.spec.get("failover_seq") or 0) > int(res.status.get("failover_seq") or 0)
    auto = bool(res.spec.get("AutomaticFailoverEnabled"))
    pace = HA_SECONDS if auto or wants_test else IDLE_SECONDS
    if _primary_dead(env, res, primary):
        if auto and len(found) > 1:
            return _failover(env, res, found, primary, planned=False)
        return Outcome(f"replication group {res.id}: primary {primary_id} is down", requeue_after=pace)
    assert primary is not None
    if wants_test:
        target = res.spec.get("failover_target")
        common.event(env, res, f"Primary change to {target} requested" if target
                     else "Test Failover API called for node group 0001", "failover")
        return _failover(env, res, found, primary, planned=True)
    did = _tend(env, res, found, primary) or _auth_applied(env, res, found) or _maintenance(env, res)
    if did:
        return Outcome(f"replication group {res.id}: {did}", requeue_after=pace)
    snapshot.schedule(env, res)
    return Outcome(f"replication group {res.id} is available (primary {primary_id})", requeue_after=pace)


def _maintenance(env: Env, res: Resource) -> str | None:
    """In the maintenance window, the group's deferred node type / engine version reach its members
    (whose reconcilers then apply them), in one transaction with the group's own record."""
    pending = dict(res.spec.get("PendingModifiedValues") or {})
    with env.store.transaction():
        if maintenance.apply_due(env, res, SOURCE_REPLICATION_GROUP) is None:
            return None
        for ident in res.spec.get("members") or []:
            member = env.store.get(KIND_CACHE_CLUSTER, res.region, str(ident))
            if member is not None:
                env.store.update(member, spec={**member.spec, **pending, "PendingModifiedValues": {}})
    return "pending modifications applied in the maintenance window"


def _creating(env: Env, res: Resource) -> Outcome:
    states = []
    for ident in res.spec.get("members") or []:
        member = env.store.get(KIND_CACHE_CLUSTER, res.region, str(ident))
        states.append(member.status.get("state") if member is not None else None)
    if states and all(s == "available" for s in states):
        common.patch(env, res, {"state": "available"})
        common.event(env, res, "Replication group created", "creation")
        return Outcome(f"replication group {res.id} is available", requeue_after=0.0)
    return Outcome(f"replication group {res.id}: members {states}", requeue_after=0.2)


@reconciler
class ReplicationGroupReconciler:
    kind = KIND_REPLICATION_GROUP
    source_type = SOURCE_REPLICATION_GROUP

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        if res.spec.get("desired") == "deleted":
            return _delete(env, res)
        if not res.status.get("primary_endpoint"):
            return _allocate(env, res)
        if res.status.get("state") == "creating":
            return _creating(env, res)
        return _cycle(env, res)
