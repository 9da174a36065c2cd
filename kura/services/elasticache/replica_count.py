"""IncreaseReplicaCount and DecreaseReplicaCount (node group 0001 of a cluster-mode-disabled group).

Adding a replica writes a new member cache cluster ("<group>-00N", the next free number) with the
group's settings; removing one marks the member `deleted` and drops it from the group's members. The
primary is never removed.
"""

from __future__ import annotations

from typing import Any

from kura.services.elasticache import errors, replication_groups, shared, views
from kura.services.elasticache.group_lifecycle import NODE_GROUP, available
from kura.services.elasticache.records import KIND_REPLICATION_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

MAX_REPLICAS = replication_groups.MAX_CLUSTERS - 1


def _new_count(params: dict[str, Any]) -> int | None:
    if not params.get("ApplyImmediately"):
        raise errors.invalid("ApplyImmediately=false is not supported: replica count changes apply "
                             "immediately.")
    configs = params.get("ReplicaConfiguration") or []
    for config in configs:
        if config.get("NodeGroupId") != NODE_GROUP:
            raise errors.fault("NodeGroupNotFoundFault", f"Node group {config.get('NodeGroupId')} not found.")
    count = params.get("NewReplicaCount")
    if count is None and configs:
        count = configs[0].get("NewReplicaCount")
    return None if count is None else int(count)


def _primary(res: Resource) -> str:
    return str(res.status.get("primary") or (res.spec.get("members") or [""])[0])


def _next_ids(res: Resource, how_many: int) -> list[str]:
    suffixes = [str(m).rsplit("-", 1)[-1] for m in res.spec.get("members") or []]
    numbers = [int(s) for s in suffixes if s.isdigit()]
    start = max(numbers, default=0) + 1
    return [replication_groups.member_id(res.id, n) for n in range(start, start + how_many)]


@operation("elasticache", "IncreaseReplicaCount")
def increase_replica_count(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    count = _new_count(params)
    with ctx.store.transaction():
        res = shared.get_group(ctx, params["ReplicationGroupId"])
        members = available(ctx, res, "increase the replica count of")
        replicas = len(members) - 1
        if count is None or count <= replicas:
            raise errors.invalid(f"NewReplicaCount must be more than the current {replicas} replicas.")
        if count > MAX_REPLICAS:
            raise errors.fault("NodeQuotaForClusterExceeded", f"A node group has at most {MAX_REPLICAS} "
                                                              "replicas.")
        added = _next_ids(res, count - replicas)
        for ident in added:
            replication_groups.create_member(ctx, res.spec, ident, "replica", None)
        res = ctx.store.update(res, spec={**res.spec, "members": [*res.spec["members"], *added],
                                          "NumCacheClusters": count + 1})
        shared.record(ctx, KIND_REPLICATION_GROUP, res.id,
                      f"Replica count increase requested: {', '.join(added)}", "configuration change")
    return {"ReplicationGroup": views.replication_group(res, ctx.account, ctx.store)}


def _to_remove(res: Resource, params: dict[str, Any], count: int | None) -> list[str]:
    members = list(res.spec.get("members") or [])
    primary = _primary(res)
    named = [str(r).lower() for r in params.get("ReplicasToRemove") or []]
    if named and count is not None:
        raise errors.combination("Give either NewReplicaCount or ReplicasToRemove, not both.")
    for ident in named:
        if ident not in members:
            raise errors.cluster_not_found(ident)
        if ident == primary:
            raise errors.invalid(f"Cache cluster {ident} is the primary: it can't be removed as a replica.")
    if named:
        return named
    if count is None:
        raise errors.invalid("DecreaseReplicaCount needs NewReplicaCount or ReplicasToRemove.")
    replicas = [m for m in members if m != primary]
    if not 0 <= count < len(replicas):
        raise errors.invalid(f"NewReplicaCount must be less than the current {len(replicas)} replicas.")
    return replicas[count:]


@operation("elasticache", "DecreaseReplicaCount")
def decrease_replica_count(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    count = _new_count(params)
    with ctx.store.transaction():
        res = shared.get_group(ctx, params["ReplicationGroupId"])
        members = available(ctx, res, "decrease the replica count of")
        removed = _to_remove(res, params, count)
        left = len(members) - 1 - len(removed)
        if res.spec.get("AutomaticFailoverEnabled") and left < 1:
            raise errors.combination(f"Replication group {res.id} has automatic failover enabled: it needs "
                                     "at least 1 replica.")
        for member in members:
            if member.id in removed:
                ctx.store.update(member, spec={**member.spec, "desired": "deleted", "final_snapshot": None})
        kept = [m for m in res.spec["members"] if m not in removed]
        res = ctx.store.update(res, spec={**res.spec, "members": kept, "NumCacheClusters": len(kept)})
        shared.record(ctx, KIND_REPLICATION_GROUP, res.id,
                      f"Replica count decrease requested: {', '.join(removed)}", "configuration change")
    return {"ReplicationGroup": views.replication_group(res, ctx.account, ctx.store)}
