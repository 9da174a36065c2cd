"""CreateSnapshot, DescribeSnapshots, CopySnapshot and DeleteSnapshot.

The handler writes the snapshot record (status empty: `creating`); the snapshot reconciler dumps the RDB
of the cache cluster, or of the replication group's current primary, and marks it `available`.
"""

from __future__ import annotations

from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.elasticache import errors, settings, shared, views
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP, KIND_SNAPSHOT
from kura.services.kms import internal as kms
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

MANUAL, AUTOMATED = "manual", "automated"
# DescribeSnapshots SnapshotSource: "user" / "system" on AWS (the snapshots themselves say manual/automated).
_SOURCE_FILTER = {"user": MANUAL, "system": AUTOMATED, MANUAL: MANUAL, AUTOMATED: AUTOMATED}
_FROM_SOURCE = ("CacheNodeType", "Engine", "EngineVersion", "CacheParameterGroupName", "CacheSubnetGroupName",
                "Port", "PreferredMaintenanceWindow", "SnapshotRetentionLimit", "SnapshotWindow",
                "AutoMinorVersionUpgrade", "PreferredAvailabilityZone", "KmsKeyId", "NumCacheClusters",
                "AutomaticFailoverEnabled", "ReplicationGroupDescription", "CacheClusterCreateTime")
_PLAIN = ("SnapshotName", "ReplicationGroupId", "ReplicationGroupDescription", "CacheClusterId",
          "SnapshotSource", "CacheNodeType", "Engine", "EngineVersion", "PreferredAvailabilityZone",
          "CacheClusterCreateTime", "PreferredMaintenanceWindow", "Port", "CacheParameterGroupName",
          "CacheSubnetGroupName", "AutoMinorVersionUpgrade", "SnapshotRetentionLimit", "SnapshotWindow",
          "KmsKeyId")


def snapshot_status(res: Resource) -> str:
    if res.spec.get("desired") == "deleted":
        return "deleting"
    return str(res.status.get("state") or "creating")


def _size(status: dict[str, Any]) -> str:
    return f"{float(status.get('size') or 0) / 1048576:.1f} MB"


def view(res: Resource, account: str) -> dict[str, Any]:
    spec, status = res.spec, res.status
    out: dict[str, Any] = {k: spec[k] for k in _PLAIN if spec.get(k) is not None}
    out["SnapshotName"] = res.id
    out["SnapshotStatus"] = snapshot_status(res)
    out["ARN"] = f"arn:aws:elasticache:{res.region}:{account}:snapshot:{res.id}"
    out["NumCacheNodes"] = 1
    out["DataTiering"] = "disabled"
    if spec.get("ReplicationGroupId"):
        out["NumNodeGroups"] = 1
        out["AutomaticFailover"] = "enabled" if spec.get("AutomaticFailoverEnabled") else "disabled"
    node: dict[str, Any] = {"CacheNodeId": "0001", "CacheSize": _size(status),
                            "CacheNodeCreateTime": spec.get("CacheClusterCreateTime")}
    if status.get("created"):
        node["SnapshotCreateTime"] = status["created"]
    cluster = spec.get("CacheClusterId") or status.get("cluster")
    if cluster:
        node["CacheClusterId"] = cluster
    if spec.get("ReplicationGroupId"):
        node["NodeGroupId"] = "0001"
    out["NodeSnapshots"] = [node]
    return {k: v for k, v in out.items() if v is not None}


def _source(ctx: Ctx, params: dict[str, Any]) -> tuple[str, Resource]:
    cluster_id, group_id = params.get("CacheClusterId"), params.get("ReplicationGroupId")
    if bool(cluster_id) == bool(group_id):
        raise errors.combination("Give exactly one of CacheClusterId and ReplicationGroupId.")
    if group_id:
        group = shared.get_group(ctx, group_id)
        state = views.group_status(group.spec, group.status, views.members_of(ctx.store, group))
        if state != "available":
            raise errors.group_state(f"Replication group {group.id} is {state}: it can't be snapshotted now.")
        return "ReplicationGroupId", group
    cluster = shared.get_cluster(ctx, str(cluster_id))
    state = views.cluster_status(cluster.spec, cluster.status)
    if state != "available":
        raise errors.cluster_state(f"Cache cluster {cluster.id} is {state}: it can't be snapshotted now.")
    return "CacheClusterId", cluster


def _new_name(ctx: Ctx, value: str, param: str) -> str:
    name = shared.check_identifier(value, param, max_len=255)
    if ctx.store.get(KIND_SNAPSHOT, ctx.region, name) is not None:
        raise errors.fault("SnapshotAlreadyExistsFault", f"Snapshot {name} already exists.")
    return name


def _clean(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v is not None}


def _kms(ctx: Ctx, key: str | None, current: Any) -> Any:
    if not key:
        return current
    try:
        return kms.resolve_key(ctx.env, ctx.region, key, default_alias=settings.KMS_ALIAS)
    except kms.KmsError as exc:
        raise errors.fault("InvalidKMSKeyFault", f"Invalid KmsKeyId: {exc.message}") from exc


@operation("elasticache", "CreateSnapshot")
def create_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        name = _new_name(ctx, params["SnapshotName"], "SnapshotName")
        key, source = _source(ctx, params)
        spec: dict[str, Any] = {k: source.spec.get(k) for k in _FROM_SOURCE}
        spec.update({"SnapshotName": name, "SnapshotSource": MANUAL, key: source.id, "Tags": tags,
                     "KmsKeyId": _kms(ctx, params.get("KmsKeyId"), source.spec.get("KmsKeyId"))})
        if key == "ReplicationGroupId":
            spec["CacheClusterCreateTime"] = source.spec.get("ReplicationGroupCreateTime")
        res = ctx.store.create(KIND_SNAPSHOT, ctx.region, name, _clean(spec))
        kind = KIND_CACHE_CLUSTER if key == "CacheClusterId" else KIND_REPLICATION_GROUP
        shared.record(ctx, kind, source.id, f"Snapshot {name} requested", "snapshot")
    return {"Snapshot": view(res, ctx.account)}


@operation("elasticache", "DescribeSnapshots")
def describe_snapshots(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("SnapshotName")
    found = [shared.get_snapshot(ctx, name)] if name else ctx.store.list(KIND_SNAPSHOT, ctx.region)
    if params.get("CacheClusterId"):
        ident = shared.get_cluster(ctx, params["CacheClusterId"]).id
        found = [s for s in found if ident in (s.spec.get("CacheClusterId"), s.status.get("cluster"))]
    if params.get("ReplicationGroupId"):
        ident = shared.get_group(ctx, params["ReplicationGroupId"]).id
        found = [s for s in found if s.spec.get("ReplicationGroupId") == ident]
    source = params.get("SnapshotSource")
    if source:
        if source not in _SOURCE_FILTER:
            raise errors.invalid(f"Invalid SnapshotSource {source}: use user or system.")
        found = [s for s in found if s.spec.get("SnapshotSource") == _SOURCE_FILTER[source]]
    page, marker = rds_page(found, lambda r: r.id, params)
    return shared.with_marker({"Snapshots": [view(r, ctx.account) for r in page]}, marker)


@operation("elasticache", "CopySnapshot")
def copy_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("TargetBucket"):
        raise errors.not_supported("exporting snapshots to S3 (TargetBucket)")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        source = shared.get_snapshot(ctx, params["SourceSnapshotName"])
        state = snapshot_status(source)
        if state != "available":
            raise errors.fault("InvalidSnapshotState", f"Snapshot {source.id} is {state}, not available.")
        name = _new_name(ctx, params["TargetSnapshotName"], "TargetSnapshotName")
        spec = {**source.spec, "SnapshotName": name, "SnapshotSource": MANUAL, "copy_of": source.id,
                "Tags": tags or dict(source.spec.get("Tags") or {}),
                "KmsKeyId": _kms(ctx, params.get("KmsKeyId"), source.spec.get("KmsKeyId"))}
        res = ctx.store.create(KIND_SNAPSHOT, ctx.region, name, _clean(spec))
        shared.record(ctx, KIND_SNAPSHOT, name, f"Copy of snapshot {source.id} requested", "snapshot")
    return {"Snapshot": view(res, ctx.account)}


@operation("elasticache", "DeleteSnapshot")
def delete_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_snapshot(ctx, params["SnapshotName"])
        if res.spec.get("SnapshotSource") != MANUAL:
            raise errors.fault("InvalidSnapshotState", f"Snapshot {res.id} is an automatic snapshot: "
                                                      "ElastiCache deletes it at the end of its retention.")
        state = snapshot_status(res)
        if state not in ("available", "failed"):
            raise errors.fault("InvalidSnapshotState", f"Snapshot {res.id} is {state}: it can't be deleted "
                                                      "now.")
        res = ctx.store.update(res, spec={**res.spec, "desired": "deleted"})
        shared.record(ctx, KIND_SNAPSHOT, res.id, "Snapshot deletion requested", "deletion")
    return {"Snapshot": view(res, ctx.account)}
