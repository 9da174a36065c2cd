"""CreateReplicationGroup, DescribeReplicationGroups and DeleteReplicationGroup (cluster mode disabled).

A replication group is one node group ("0001") of member cache clusters "<group>-001", "-002", …: the
first is the primary, the others replicas. The handler writes the group and every member as desired
state and answers `creating`; the replication-group reconciler allocates the endpoints and decides the
roles, the cache-cluster reconciler starts each redis-server.
"""

from __future__ import annotations

from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.elasticache import (
    clusters,
    errors,
    settings,
    shared,
    subnet_groups,
    views,
)
from kura.services.elasticache.cluster_lifecycle import check_snapshot_name
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

MAX_CLUSTERS = 6  # a primary and at most 5 replicas
# Group settings every member carries (its own copy, so the cluster reconciler needs no group lookup).
MEMBER_KEYS = ("CacheNodeType", "Engine", "EngineVersion", "CacheParameterGroupName", "CacheSubnetGroupName",
               "SecurityGroupIds", "Port", "PreferredMaintenanceWindow", "SnapshotWindow",
               "TransitEncryptionEnabled", "AtRestEncryptionEnabled", "KmsKeyId", "NotificationTopicArn",
               "AutoMinorVersionUpgrade")


def member_id(group: str, number: int) -> str:
    return f"{group}-{number:03d}"


def _refuse(params: dict[str, Any]) -> None:
    settings.refuse_unsupported(params)
    configs = params.get("NodeGroupConfiguration") or []
    if int(params.get("NumNodeGroups") or 1) > 1 or len(configs) > 1 \
            or params.get("ClusterMode") in ("enabled", "compatible"):
        raise errors.not_supported("cluster mode (sharded replication groups, NumNodeGroups > 1)")
    if params.get("PrimaryClusterId"):
        raise errors.not_supported("creating a replication group from an existing cache cluster "
                                   "(PrimaryClusterId)")
    if params.get("GlobalReplicationGroupId"):
        raise errors.not_supported("global datastores (GlobalReplicationGroupId)")
    if params.get("DataTieringEnabled"):
        raise errors.not_supported("data tiering")
    if params.get("UserGroupIds"):
        raise errors.not_supported("RBAC user groups (UserGroupIds): use AuthToken")


def _count(params: dict[str, Any]) -> int:
    """NumCacheClusters, else ReplicasPerNodeGroup (or NodeGroupConfiguration ReplicaCount) + 1."""
    configs = params.get("NodeGroupConfiguration") or [{}]
    replicas = params.get("ReplicasPerNodeGroup", configs[0].get("ReplicaCount"))
    count = params.get("NumCacheClusters")
    if count is not None and replicas is not None and int(count) != int(replicas) + 1:
        raise errors.combination(f"NumCacheClusters {count} and ReplicasPerNodeGroup {replicas} disagree.")
    if count is None:
        count = int(replicas) + 1 if replicas is not None else 1
    if not 1 <= int(count) <= MAX_CLUSTERS:
        raise errors.invalid(f"Invalid NumCacheClusters {count}: a replication group has 1 to "
                             f"{MAX_CLUSTERS} cache clusters (a primary and up to 5 replicas).")
    return int(count)


def check_failover(count: int, failover: bool, multi_az: bool) -> None:
    if failover and count < 2:
        raise errors.combination("Automatic failover needs at least 2 cache clusters (a primary and a "
                                 "replica) in the replication group.")
    if multi_az and not failover:
        raise errors.combination("MultiAZEnabled needs AutomaticFailoverEnabled.")


def _zones(params: dict[str, Any], count: int) -> list[str | None]:
    configs = params.get("NodeGroupConfiguration") or [{}]
    zones: list[str | None] = list(params.get("PreferredCacheClusterAZs") or [])
    if not zones and configs[0].get("PrimaryAvailabilityZone"):
        zones = [configs[0]["PrimaryAvailabilityZone"], *(configs[0].get("ReplicaAvailabilityZones") or [])]
    if zones and len(zones) != count:
        raise errors.combination(f"PreferredCacheClusterAZs lists {len(zones)} zones for {count} cache "
                                 "clusters.")
    return zones or [None] * count


def group_spec(ctx: Ctx, ident: str, params: dict[str, Any], count: int) -> dict[str, Any]:
    failover = bool(params.get("AutomaticFailoverEnabled"))
    multi_az = bool(params.get("MultiAZEnabled"))
    check_failover(count, failover, multi_az)
    spec: dict[str, Any] = {"ReplicationGroupId": ident,
                            "ReplicationGroupDescription": params["ReplicationGroupDescription"],
                            "NumCacheClusters": count, "AutomaticFailoverEnabled": failover,
                            "MultiAZEnabled": multi_az, **settings.engine(ctx, params)}
    placed = subnet_groups.placement(ctx, {k: params.get(k) for k in ("CacheSubnetGroupName",
                                                                      "SecurityGroupIds")})
    spec.update({k: placed[k] for k in ("CacheSubnetGroupName", "SecurityGroupIds")})
    spec.update(settings.operations(ident, params))
    spec.update(settings.security(ctx, shared.arn(ctx, KIND_REPLICATION_GROUP, ident), params))
    spec.update(settings.restore_source(ctx, params))
    spec.update({"Tags": tagging.normalize(params.get("Tags")), "ReplicationGroupCreateTime": ctx.now(),
                 "PendingModifiedValues": {}, "desired": "available", "failover_seq": 0,
                 "failover_target": None, "final_snapshot": None})
    return {k: v for k, v in spec.items() if v is not None}


def create_member(ctx: Ctx, group: dict[str, Any], ident: str, role: str, zone: str | None) -> Resource:
    """One member cache cluster with the group's settings; the primary restores the group's snapshot."""
    if ctx.store.get(KIND_CACHE_CLUSTER, ctx.region, ident) is not None:
        raise errors.fault("CacheClusterAlreadyExists", f"Cache cluster {ident} already exists.")
    params = {k: group[k] for k in MEMBER_KEYS if group.get(k) is not None}
    params["PreferredAvailabilityZone"] = zone
    if role == "primary" and group.get("SnapshotName"):
        params["SnapshotName"] = group["SnapshotName"]
    spec = clusters.spec_of(ctx, ident, params, dict(group.get("Tags") or {}))
    spec.update(ReplicationGroupId=group["ReplicationGroupId"], role=role,
                SnapshotRetentionLimit=0)  # the group takes the automatic snapshots
    return ctx.store.create(KIND_CACHE_CLUSTER, ctx.region, ident, spec)


@operation("elasticache", "CreateReplicationGroup")
def create_replication_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["ReplicationGroupId"], "ReplicationGroupId")
    _refuse(params)
    count = _count(params)
    zones = _zones(params, count)
    with ctx.store.transaction():
        if ctx.store.get(KIND_REPLICATION_GROUP, ctx.region, ident) is not None:
            raise errors.fault("ReplicationGroupAlreadyExists", f"Replication group {ident} already exists.")
        spec = group_spec(ctx, ident, params, count)
        spec["members"] = [member_id(ident, n) for n in range(1, count + 1)]
        for number, (member, zone) in enumerate(zip(spec["members"], zones, strict=True), start=1):
            create_member(ctx, spec, member, "primary" if number == 1 else "replica", zone)
        res = ctx.store.create(KIND_REPLICATION_GROUP, ctx.region, ident, spec)
        shared.record(ctx, KIND_REPLICATION_GROUP, ident, "Replication group creation requested", "creation")
    return {"ReplicationGroup": views.replication_group(res, ctx.account, ctx.store)}


@operation("elasticache", "DescribeReplicationGroups")
def describe_replication_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("ReplicationGroupId")
    found = [shared.get_group(ctx, ref)] if ref else ctx.store.list(KIND_REPLICATION_GROUP, ctx.region)
    page, marker = rds_page(found, lambda r: r.id, params)
    items = [views.replication_group(r, ctx.account, ctx.store) for r in page]
    return shared.with_marker({"ReplicationGroups": items}, marker)


def _detach_primary(ctx: Ctx, res: Resource) -> list[str]:
    """RetainPrimaryCluster: the primary leaves the group as a standalone cache cluster."""
    primary_id = str(res.status.get("primary") or (res.spec.get("members") or [""])[0])
    primary = ctx.store.get(KIND_CACHE_CLUSTER, ctx.region, primary_id)
    if primary is not None:
        spec = {k: v for k, v in primary.spec.items() if k not in ("ReplicationGroupId", "role")}
        ctx.store.update(primary, spec={**spec, "SnapshotRetentionLimit": res.spec.get(
            "SnapshotRetentionLimit", 0)})
    return [m for m in res.spec.get("members") or [] if m != primary_id]


@operation("elasticache", "DeleteReplicationGroup")
def delete_replication_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_group(ctx, params["ReplicationGroupId"])
        state = views.group_status(res.spec, res.status, views.members_of(ctx.store, res))
        if state in ("deleting", "creating"):
            raise errors.group_state(f"Replication group {res.id} is {state}: it can't be deleted now.")
        final = check_snapshot_name(ctx, params.get("FinalSnapshotIdentifier"))
        members = list(res.spec.get("members") or [])
        if params.get("RetainPrimaryCluster"):
            members = _detach_primary(ctx, res)
        if final is None:  # with a final snapshot the reconciler deletes the members after taking it
            for member in [m for m in views.members_of(ctx.store, res) if m.id in members]:
                ctx.store.update(member, spec={**member.spec, "desired": "deleted", "final_snapshot": None})
        res = ctx.store.update(res, spec={**res.spec, "members": members, "desired": "deleted",
                                          "final_snapshot": final})
        shared.record(ctx, KIND_REPLICATION_GROUP, res.id, "Replication group deletion requested", "deletion")
    return {"ReplicationGroup": views.replication_group(res, ctx.account, ctx.store)}
