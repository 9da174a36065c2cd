"""DB cluster snapshots and cluster restores: CreateDBClusterSnapshot, DescribeDBClusterSnapshots,
DeleteDBClusterSnapshot, CopyDBClusterSnapshot, RestoreDBClusterFromSnapshot,
RestoreDBClusterToPointInTime (a full copy, or a clone: copy-on-write).

A cluster's data is its writer's: a cluster snapshot is a snapshot of the writer's PostgreSQL (the
snapshot machinery of DB instances, recorded with DBClusterIdentifier), and its automated snapshots
are the writer's base backups. A restored cluster, as on Aurora, starts with no DB instance: it keeps
where its data comes from as its storage, and its first writer is restored from it. A clone's storage
is a volume of its own, copied from the source's writer when the clone is made (cluster_volume).
"""

from __future__ import annotations

from typing import Any

from kura.services.common import filters
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.common.timestamps import epoch
from kura.services.rds import (
    cluster_views,
    clusters,
    errors,
    instance_network,
    shared,
    snapshots,
    views,
)
from kura.services.rds import instance_validation as check
from kura.services.rds import snapshot_views as sv
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_CLUSTER, KIND_INSTANCE, KIND_SNAPSHOT
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

CLUSTER = "DBClusterIdentifier"
# What a restored cluster takes from its source cluster (or, gone, from the snapshot).
_KEPT = ("Engine", "EngineVersion", "Port", "DatabaseName", "MasterUsername", "BackupRetentionPeriod",
         "PreferredBackupWindow", "PreferredMaintenanceWindow", "DBSubnetGroupName", "VpcSecurityGroupIds",
         "StorageEncrypted", "KmsKeyId", "EnableIAMDatabaseAuthentication", "EnableCloudwatchLogsExports",
         "ServerlessV2ScalingConfiguration", "DBClusterParameterGroupName", "CopyTagsToSnapshot")


def _writer(ctx: Ctx, cluster: Resource) -> Resource | None:
    ident = cluster.spec.get("writer")
    found = ctx.store.get(KIND_INSTANCE, ctx.region, str(ident)) if ident else None
    return found if found is not None and found.spec.get("desired") != "deleted" else None


def _of_cluster(ctx: Ctx, cluster_id: str | None) -> list[Resource]:
    """Manual cluster snapshots, and the automated ones: the base backups of the clusters' writers."""
    manual = [s for s in ctx.store.list(KIND_SNAPSHOT, ctx.region) if s.spec.get(CLUSTER)]
    owners = {}
    for res in ctx.store.list(KIND_CLUSTER, ctx.region):
        writer = _writer(ctx, res)
        if writer is not None and writer.spec.get("DbiResourceId"):
            owners[str(writer.spec["DbiResourceId"])] = res
    auto: list[Resource] = []
    for ab in ctx.store.list(KIND_AUTOMATED_BACKUP, ctx.region):
        owner = owners.get(ab.id)
        if owner is not None:
            auto.extend(Resource(s.kind, s.region, s.id, {**s.spec, CLUSTER: owner.id,
                                                          "DbClusterResourceId": owner.spec.get(
                                                              "DbClusterResourceId")},
                                 s.status, s.version, s.created_at, s.updated_at)
                        for s in sv.automated_snapshots(ab))
    found = manual + auto
    return [s for s in found if cluster_id is None or s.spec.get(CLUSTER) == cluster_id]


def view(res: Resource, account: str) -> dict[str, Any]:
    spec, base = res.spec, sv.snapshot(res, account)
    out = {
        "DBClusterSnapshotIdentifier": res.id, "DBClusterIdentifier": spec.get(CLUSTER),
        "Engine": "aurora-postgresql", "EngineMode": "provisioned", "AllocatedStorage": 1,
        "Status": base["Status"], "PercentProgress": base["PercentProgress"], "Port": spec.get("Port"),
        "VpcId": spec.get("VpcId"), "MasterUsername": spec.get("MasterUsername"),
        "EngineVersion": spec.get("EngineVersion"), "LicenseModel": "postgresql-license",
        "SnapshotType": spec.get("SnapshotType"), "StorageEncrypted": base["Encrypted"],
        "DBClusterSnapshotArn": f"arn:aws:rds:{res.region}:{account}:cluster-snapshot:{res.id}",
        "IAMDatabaseAuthenticationEnabled": base["IAMDatabaseAuthenticationEnabled"],
        "TagList": base["TagList"], "DbClusterResourceId": spec.get("DbClusterResourceId"),
        "StorageType": "aurora", "AvailabilityZones": [],
    }
    for key in ("SnapshotCreateTime", "KmsKeyId"):
        if base.get(key):
            out[key] = base[key]
    if spec.get("SourceDBClusterSnapshotArn"):  # CopyDBClusterSnapshot's
        out["SourceDBClusterSnapshotArn"] = spec["SourceDBClusterSnapshotArn"]
    return {k: v for k, v in out.items() if v is not None}


def _get(ctx: Ctx, ref: str) -> Resource:
    ident = ref.split(":cluster-snapshot:")[-1].lower() if ref.startswith("arn:") else ref.lower()
    found = next((s for s in _of_cluster(ctx, None) if s.id == ident), None)
    if found is None:
        raise errors.fault("DBClusterSnapshotNotFoundFault", f"DBClusterSnapshot {ref} not found.")
    return found


@operation("rds", "CreateDBClusterSnapshot")
def create_db_cluster_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        cluster = clusters.get(ctx, params[CLUSTER])
        ident = shared.check_identifier(params["DBClusterSnapshotIdentifier"], "DBClusterSnapshotIdentifier",
                                        255)
        if ctx.store.get(KIND_SNAPSHOT, ctx.region, ident) is not None:
            raise errors.fault("DBClusterSnapshotAlreadyExistsFault",
                               f"Cannot create the cluster snapshot because one with the identifier {ident} "
                               "already exists.")
        writer = _writer(ctx, cluster)
        state = views.instance_status(writer.spec, writer.status) if writer is not None else "missing"
        if writer is None or state not in ("available", "backing-up"):
            raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {cluster.id} can't be snapshotted "
                               f"now: its writer is {state}.")
        if not tags and cluster.spec.get("CopyTagsToSnapshot"):
            tags = dict(cluster.spec.get("Tags") or {})
        res = snapshots.take(ctx, writer, ident, tags)
        res = ctx.store.update(res, spec={**res.spec, CLUSTER: cluster.id,
                                          "DbClusterResourceId": cluster.spec.get("DbClusterResourceId")})
        shared.record(ctx, KIND_CLUSTER, cluster.id, f"Creating manual cluster snapshot {ident}", "backup")
    return {"DBClusterSnapshot": view(res, ctx.account)}


@operation("rds", "DescribeDBClusterSnapshots")
def describe_db_cluster_snapshots(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("DBClusterSnapshotIdentifier")
    cluster_id = params.get(CLUSTER)
    if cluster_id and cluster_id.startswith("arn:"):
        parsed = shared.parse_arn(ctx, cluster_id)
        cluster_id = parsed[1] if parsed and parsed[0] == "cluster" else cluster_id
    # a deleted cluster's snapshots too (its final snapshot): the cluster need not exist
    found = [_get(ctx, ref)] if ref else _of_cluster(ctx, cluster_id.lower() if cluster_id else None)
    wanted = params.get("SnapshotType")
    if wanted:
        found = [s for s in found if s.spec.get("SnapshotType") == wanted]
    found = filters.apply(found, params.get("Filters"), {
        "db-cluster-id": lambda r: r.spec.get(CLUSTER),
        "db-cluster-snapshot-id": lambda r: r.id,
        "snapshot-type": lambda r: r.spec.get("SnapshotType"),
        "engine": lambda r: "aurora-postgresql"})
    page, marker = rds_page(found, lambda r: r.id, params)
    return shared.with_marker({"DBClusterSnapshots": [view(r, ctx.account) for r in page]}, marker)


@operation("rds", "DeleteDBClusterSnapshot")
def delete_db_cluster_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _get(ctx, params["DBClusterSnapshotIdentifier"])
        if res.spec.get("SnapshotType") != sv.MANUAL:
            raise errors.fault("InvalidDBClusterSnapshotStateFault", f"Snapshot {res.id} is automated: it "
                               "goes with the cluster's backups.")
        if sv.snapshot_status(res) not in ("available", "failed"):
            raise errors.fault("InvalidDBClusterSnapshotStateFault",
                               f"Snapshot {res.id} is {sv.snapshot_status(res)}: it can't be deleted now.")
        res = ctx.store.update(res, spec={**res.spec, "desired": "deleted"})
        shared.record(ctx, KIND_SNAPSHOT, res.id, "Manual cluster snapshot deletion requested", "deletion")
    return {"DBClusterSnapshot": view(res, ctx.account)}


_NOT_COPIED = ("desired", "attributes", "copy_of", "requested", "Tags", "SourceDBClusterSnapshotArn",
               "cluster_storage")


@operation("rds", "CopyDBClusterSnapshot")
def copy_db_cluster_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """A manual copy of a cluster snapshot (manual or automated) under a new name, and a new key if asked;
    the snapshot reconciler copies (re-seals) its file."""
    if params.get("SourceRegion") or params.get("PreSignedUrl"):
        raise errors.not_implemented("copying DB cluster snapshots across regions")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        source = _get(ctx, params["SourceDBClusterSnapshotIdentifier"])
        if sv.snapshot_status(source) != "available":
            raise errors.fault("InvalidDBClusterSnapshotStateFault", f"Snapshot {source.id} is "
                               f"{sv.snapshot_status(source)}, not available: it can't be copied.")
        ident = shared.check_identifier(params["TargetDBClusterSnapshotIdentifier"],
                                        "TargetDBClusterSnapshotIdentifier")
        if ctx.store.get(KIND_SNAPSHOT, ctx.region, ident) is not None:
            raise errors.fault("DBClusterSnapshotAlreadyExistsFault", f"Cannot create the cluster snapshot "
                               f"because one with the identifier {ident} already exists.")
        snapshots.require_key(ctx, source.spec)  # the copy reads the source through its key
        spec = {k: v for k, v in source.spec.items() if k not in _NOT_COPIED}
        if params.get("KmsKeyId"):
            key = check.kms_key(ctx, params["KmsKeyId"], "alias/aws/rds")
            spec.update(StorageEncrypted=True, KmsKeyId=key)
        inherited = dict(source.spec.get("Tags") or {}) if params.get("CopyTags") else {}
        spec.update({"DBSnapshotIdentifier": ident, "SnapshotType": sv.MANUAL, "copy_of": source.id,
                     "SourceDBClusterSnapshotArn": view(source, ctx.account)["DBClusterSnapshotArn"],
                     "Tags": tagging.merged(inherited, tags), "requested": ctx.now(), "desired": "available"})
        res = ctx.store.create(KIND_SNAPSHOT, ctx.region, ident, spec, {"state": "creating", "progress": 0})
        shared.record(ctx, KIND_SNAPSHOT, ident, f"Copying cluster snapshot {source.id}", "creation")
    return {"DBClusterSnapshot": view(res, ctx.account)}


def _restored(ctx: Ctx, params: dict[str, Any], source: dict[str, Any], storage: dict[str, Any],
              message: str) -> dict[str, Any]:
    """A new cluster with `source`'s settings overridden by the request, whose storage is `storage`."""
    ident = shared.check_identifier(params[CLUSTER], CLUSTER)
    if ctx.store.get(KIND_CLUSTER, ctx.region, ident) is not None:
        raise errors.fault("DBClusterAlreadyExistsFault", f"DB Cluster {ident} already exists")
    for name in ("BacktrackWindow", "ScalingConfiguration", "DBClusterInstanceClass", "Domain",
                 "RdsCustomClusterConfiguration", "EngineMode"):
        if params.get(name) not in (None, "provisioned"):
            raise errors.not_implemented(f"{name} on restored DB clusters")
    spec = {k: source.get(k) for k in _KEPT}
    if params.get("DBSubnetGroupName") or params.get("VpcSecurityGroupIds"):
        place = instance_network.placement(ctx, {"DBSubnetGroupName": params.get("DBSubnetGroupName")
                                                 or source.get("DBSubnetGroupName"),
                                                 "VpcSecurityGroupIds": params.get("VpcSecurityGroupIds")})
        spec.update(DBSubnetGroupName=place["DBSubnetGroupName"],
                    VpcSecurityGroupIds=place["VpcSecurityGroupIds"])
    if params.get("KmsKeyId"):
        spec.update(StorageEncrypted=True, KmsKeyId=check.kms_key(ctx, params["KmsKeyId"], "alias/aws/rds"))
    if params.get("ServerlessV2ScalingConfiguration"):
        spec["ServerlessV2ScalingConfiguration"] = clusters.scaling(
            params["ServerlessV2ScalingConfiguration"])
    for flag in ("DeletionProtection", "CopyTagsToSnapshot", "EnableIAMDatabaseAuthentication"):
        if params.get(flag) is not None:
            spec[flag] = bool(params[flag])
    if params.get("Port"):
        check.port(params["Port"])
        spec["Port"] = params["Port"]
    spec.update({CLUSTER: ident, "Engine": clusters.ENGINE, "ManageMasterUserPassword": False,
                 "storage": storage, "Tags": tagging.normalize(params.get("Tags")),
                 "DbClusterResourceId": "cluster-" + shared.new_resource_id()[3:],
                 "ClusterCreateTime": ctx.now(), "desired": "available"})
    res = ctx.store.create(KIND_CLUSTER, ctx.region, ident, {k: v for k, v in spec.items() if v is not None})
    shared.record(ctx, KIND_CLUSTER, ident, message, "creation")
    return {"DBCluster": cluster_views.cluster(res, ctx.account, ctx.store)}


@operation("rds", "RestoreDBClusterFromSnapshot")
def restore_db_cluster_from_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params["Engine"] != clusters.ENGINE:
        raise errors.combination(f"A DB cluster snapshot restores as {clusters.ENGINE}, not "
                                 f"{params['Engine']}.")
    with ctx.store.transaction():
        snap = _get(ctx, params["SnapshotIdentifier"])
        if sv.snapshot_status(snap) != "available":
            raise errors.fault("InvalidDBClusterSnapshotStateFault",
                               f"Snapshot {snap.id} is {sv.snapshot_status(snap)}, not available.")
        snapshots.require_key(ctx, snap.spec)
        origin = ctx.store.get(KIND_CLUSTER, ctx.region, str(snap.spec.get(CLUSTER)))
        source = dict(origin.spec) if origin is not None else {
            **snap.spec, "DatabaseName": snap.spec.get("DBName"), "BackupRetentionPeriod": 1}
        if params.get("EngineVersion"):
            source["EngineVersion"] = params["EngineVersion"]
        storage = ({"snapshot": snap.id} if snap.spec.get("SnapshotType") == sv.MANUAL else
                   {"automated_backup": snap.spec.get("DbiResourceId"), "time": snap.status.get("created")})
        return _restored(ctx, params, source, storage, f"Restored from snapshot {snap.id}")


@operation("rds", "RestoreDBClusterToPointInTime")
def restore_db_cluster_to_point_in_time(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    kind = params.get("RestoreType", "full-copy")
    if kind not in ("full-copy", "copy-on-write"):
        raise errors.invalid(f"Invalid RestoreType {kind}: full-copy or copy-on-write.")
    latest = bool(params.get("UseLatestRestorableTime"))
    when = epoch(params.get("RestoreToTime"), "RestoreToTime")
    if kind == "copy-on-write" and when is not None:
        raise errors.combination("RestoreToTime can't be specified with RestoreType copy-on-write: a clone "
                                 "is of the source DB cluster as it is now (UseLatestRestorableTime).")
    if latest == (when is not None):
        raise errors.combination("Specify exactly one of RestoreToTime and UseLatestRestorableTime.")
    if not params.get("SourceDBClusterIdentifier"):
        raise errors.invalid("The parameter SourceDBClusterIdentifier must be provided and must not be "
                             "blank.")
    with ctx.store.transaction():
        source = clusters.get(ctx, params["SourceDBClusterIdentifier"])
        writer = _writer(ctx, source)
        if kind == "copy-on-write":
            return _clone(ctx, params, source, writer)
        dbi = writer.spec.get("DbiResourceId") if writer is not None else (
            (source.spec.get("storage") or {}).get("automated_backup"))
        ab = ctx.store.get(KIND_AUTOMATED_BACKUP, ctx.region, str(dbi)) if dbi else None
        if ab is None or ab.status.get("earliest") is None:
            raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {source.id} has no restorable time "
                               "yet: its writer's first backup is not done.")
        earliest, newest = float(ab.status["earliest"]), float(ab.status.get("latest") or 0)
        if when is not None and not earliest <= when <= newest:
            raise errors.fault("InvalidRestoreFault", f"The restore time is outside the restorable window of "
                               f"DB cluster {source.id}.")
        snapshots.require_key(ctx, source.spec)
        storage = {"automated_backup": ab.id, "time": when}
        return _restored(ctx, params, dict(source.spec), storage,
                         f"Restored from DB cluster {source.id} to a point in time")


def _clone(ctx: Ctx, params: dict[str, Any], source: Resource, writer: Resource | None) -> dict[str, Any]:
    """copy-on-write: as on Aurora, only of a cluster with a DB instance (its writer, running); the
    cluster reconciler copies the writer's data into the clone's volume (`creating` until then)."""
    state = views.instance_status(writer.spec, writer.status) if writer is not None else None
    if writer is None or state not in ("available", "backing-up", "modifying", "storage-full"):
        raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {source.id} can't be cloned now: "
                           + ("it has no DB instance." if writer is None else f"its writer is {state}."))
    ident = shared.check_identifier(params[CLUSTER], CLUSTER)
    storage = {"volume": ident, "clone_of": source.id, "source_instance": writer.id,
               "source_dbi": writer.spec.get("DbiResourceId")}
    return _restored(ctx, params, dict(source.spec), storage, f"Cloned from DB cluster {source.id}")
