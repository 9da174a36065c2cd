"""DeleteDBCluster's final DB cluster snapshot: its parameters' rules and its record.

A cluster is deleted once it has no DB instance, so its data is its storage: the continuous backup of
its last writer, what it was restored from (a snapshot, or an automated backup at a time), or a clone's
volume. The snapshot reconciler turns that into a snapshot that restores alone (a copy of the snapshot,
else the storage recovered and copied cold); the cluster reconciler keeps the storage until it is taken.
"""

from __future__ import annotations

from typing import Any

from kura.services.rds import errors, shared, snapshots
from kura.services.rds import snapshot_views as sv
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_SNAPSHOT
from kura.services.registry import Ctx
from kura.store.types import Resource

# What a restore of the snapshot takes when its cluster is gone (cluster_snapshots._KEPT).
_KEPT = ("EngineVersion", "Port", "MasterUsername", "PreferredBackupWindow", "PreferredMaintenanceWindow",
         "DBSubnetGroupName", "VpcSecurityGroupIds", "StorageEncrypted", "KmsKeyId",
         "EnableIAMDatabaseAuthentication", "EnableCloudwatchLogsExports", "ServerlessV2ScalingConfiguration",
         "DBClusterParameterGroupName", "CopyTagsToSnapshot", "DbClusterResourceId")


def identifier(ctx: Ctx, params: dict[str, Any]) -> str | None:
    """The final snapshot's identifier, None with SkipFinalSnapshot; the refusals RDS makes."""
    skip = bool(params.get("SkipFinalSnapshot"))
    name = params.get("FinalDBSnapshotIdentifier")
    if skip and name:
        raise errors.combination("You cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot.")
    if not skip and not name:
        raise errors.combination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is "
                                 "specified.")
    if skip:
        return None
    ident = shared.check_identifier(name, "FinalDBSnapshotIdentifier", 255)
    if ctx.store.get(KIND_SNAPSHOT, ctx.region, ident) is not None:
        raise errors.fault("DBClusterSnapshotAlreadyExistsFault",
                           f"Cannot create the cluster snapshot because one with the identifier {ident} "
                           "already exists.")
    return ident


def _source(ctx: Ctx, cluster: Resource) -> dict[str, Any]:
    """How the snapshot reconciler gets the cluster's data: copy_of (a snapshot) or cluster_storage."""
    storage = dict(cluster.spec.get("storage") or {})
    if storage.get("snapshot"):
        snap = ctx.store.get(KIND_SNAPSHOT, ctx.region, str(storage["snapshot"]))
        if snap is None or sv.snapshot_status(snap) != "available":
            raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {cluster.id} was restored from "
                               f"snapshot {storage['snapshot']}, which is no longer available: delete it "
                               "with SkipFinalSnapshot.")
        return {"copy_of": snap.id, "EngineVersion": snap.spec.get("EngineVersion")}
    if storage.get("volume") and not cluster.status.get("volume"):
        raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {cluster.id} is still being created.")
    if storage.get("automated_backup"):
        ab = ctx.store.get(KIND_AUTOMATED_BACKUP, ctx.region, str(storage["automated_backup"]))
        if ab is None or ab.spec.get("desired") == "deleted":
            raise errors.fault("InvalidDBClusterStateFault", f"The backups DB cluster {cluster.id} was "
                               "restored from are gone: delete it with SkipFinalSnapshot.")
        return {"cluster_storage": storage, "EngineVersion": ab.spec.get("EngineVersion")}
    if storage.get("volume"):
        return {"cluster_storage": storage}
    raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {cluster.id} holds no data yet (it never "
                       "had a DB instance): delete it with SkipFinalSnapshot.")


def take(ctx: Ctx, cluster: Resource, ident: str) -> Resource:
    """The final snapshot's record (`creating`), in the caller's transaction."""
    snapshots.require_key(ctx, cluster.spec)  # else the snapshot would fail and the data be gone
    spec = {k: cluster.spec.get(k) for k in _KEPT}
    source = _source(ctx, cluster)
    spec.update({**source, "EngineVersion": source.get("EngineVersion") or cluster.spec.get("EngineVersion")})
    tags = dict(cluster.spec.get("Tags") or {}) if cluster.spec.get("CopyTagsToSnapshot") else {}
    iam = bool(cluster.spec.get("EnableIAMDatabaseAuthentication"))
    spec.update({"DBSnapshotIdentifier": ident, "DBClusterIdentifier": cluster.id, "SnapshotType": sv.MANUAL,
                 "Engine": cluster.spec.get("Engine"), "DBName": cluster.spec.get("DatabaseName"),
                 "VpcId": sv.vpc_id(ctx.store, ctx.region, cluster.spec.get("DBSubnetGroupName")),
                 "IAMDatabaseAuthenticationEnabled": iam, "Tags": tags, "requested": ctx.now(),
                 "desired": "available"})
    res = ctx.store.create(KIND_SNAPSHOT, ctx.region, ident, {k: v for k, v in spec.items() if v is not None},
                           {"state": "creating", "progress": 0})
    shared.record(ctx, KIND_SNAPSHOT, ident, "Creating final cluster snapshot", "creation")
    return res
