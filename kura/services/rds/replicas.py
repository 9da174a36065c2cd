"""CreateDBInstanceReadReplica and PromoteReadReplica.

A read replica is a CreateDBInstance whose defaults come from its source DB instance and whose data is
the source's, kept streaming: the spec is built by instances.settings and names the source
(ReadReplicaSourceDBInstanceIdentifier and its DbiResourceId), which the instance reconciler reads to
clone the source and follow it. As on RDS for PostgreSQL, a replica has no automated backups, and a
replica can itself be the source of another, down to three replicas in a chain.

PromoteReadReplica removes the source from the spec and turns backups on as asked; the reconciler then
promotes the standby (the instance shows `modifying` until it has).
"""

from __future__ import annotations

from typing import Any

from kura.services.common import tags as tagging
from kura.services.rds import automated_backups, errors, instances, shared, views
from kura.services.rds import instance_validation as check
from kura.services.rds import snapshot_views as sv
from kura.services.rds.records import KIND_INSTANCE
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

MAX_REPLICAS = 15  # read replicas of one source DB instance (RDS for PostgreSQL)
MAX_CHAIN = 3  # cascading: replicas in a chain below the source DB instance
SOURCE = "ReadReplicaSourceDBInstanceIdentifier"
SOURCE_DBI = "ReadReplicaSourceDbiResourceId"
# What a replica takes from its source unless the request says otherwise ("All other attributes
# (including DB security groups and DB parameter groups) are inherited from the source DB instance").
_INHERITED = ("DBInstanceClass", "Port", "AutoMinorVersionUpgrade", "DBParameterGroupName")
# Where the source lives, taken too unless the request names a DB subnet group.
_PLACEMENT = ("DBSubnetGroupName", "VpcSecurityGroupIds", "PubliclyAccessible")
_REFUSED = {
    "SourceDBClusterIdentifier": "read replicas of Multi-AZ DB clusters (SourceDBClusterIdentifier)",
    "SourceRegion": "cross-Region read replicas (SourceRegion)",
    "PreSignedUrl": "cross-Region read replicas (PreSignedUrl)",
    "ReplicaMode": "mounted replicas (ReplicaMode, Db2 and Oracle only)",
    "UseDefaultProcessorFeatures": "processor features (Oracle only)",
    "UpgradeStorageConfig": "storage file system upgrades (UpgradeStorageConfig)",
    "TagSpecifications": "tags for automated backups (TagSpecifications)",
}


def _refuse(params: dict[str, Any]) -> None:
    for name, what in _REFUSED.items():
        if params.get(name):
            raise errors.not_implemented(what)
    if params.get("DatabaseInsightsMode", "standard") != "standard":
        raise errors.not_implemented("Database Insights advanced mode (DatabaseInsightsMode)")
    if not params.get("SourceDBInstanceIdentifier"):
        raise errors.combination("SourceDBInstanceIdentifier is required to create a read replica.")


def _source(ctx: Ctx, ref: str) -> Resource:
    """The source DB instance by identifier or ARN; an RDS ARN of another Region is a cross-Region replica."""
    parts = ref.split(":")
    if ref.startswith("arn:") and len(parts) > 4 and parts[2] == "rds" and parts[3] != ctx.region:
        raise errors.not_implemented("cross-Region read replicas (a source in another Region)")
    return shared.get_instance(ctx, ref)


def _chain(ctx: Ctx, res: Resource) -> int:
    """How many replicas deep `res` is below the DB instance that is no replica (0 for that one)."""
    depth, seen = 0, {res.id}
    source = views.replica_source(res.spec, res.status)
    while source is not None and source not in seen:
        depth, upper = depth + 1, ctx.store.get(KIND_INSTANCE, ctx.region, source)
        seen.add(source)
        source = views.replica_source(upper.spec, upper.status) if upper is not None else None
    return depth


def _check_source(ctx: Ctx, src: Resource) -> None:
    if src.spec.get("DBClusterIdentifier"):
        raise errors.combination(f"DB instance {src.id} belongs to DB cluster "
                                 f"{src.spec['DBClusterIdentifier']}: add a reader to the cluster instead of "
                                 "a read replica.")
    state = views.instance_status(src.spec, src.status)
    if state != "available":
        raise errors.instance_state(f"DB instance {src.id} is not in available state (it is {state}): it "
                                    "can't be the source of a read replica now.")
    depth = _chain(ctx, src)
    if depth == 0 and int(src.spec.get("BackupRetentionPeriod") or 0) < 1:
        raise errors.instance_state("Automated backups are not enabled for this database instance. To enable "
                                    "automated backups, use ModifyDBInstance to set the backup retention "
                                    "period to a non-zero value.")
    if depth >= MAX_CHAIN:
        raise errors.combination(f"DB instance {src.id} is the last of a chain of {MAX_CHAIN} read replicas: "
                                 "a read replica can't be created from it.")
    if len(views.replicas_of(ctx.store, src)) >= MAX_REPLICAS:
        raise errors.combination(f"DB instance {src.id} already has {MAX_REPLICAS} read replicas, the most "
                                 "it can have.")


def _encryption(ctx: Ctx, src: Resource, key: str | None) -> dict[str, Any]:
    """An encrypted source makes an encrypted replica, under the source's key or the one asked for."""
    if not src.spec.get("StorageEncrypted"):
        if key:
            raise errors.combination("You can't create an encrypted read replica from an unencrypted DB "
                                     f"instance ({src.id}).")
        return {"StorageEncrypted": False}
    return {"StorageEncrypted": True, "KmsKeyId": check.kms_key(ctx, key, "alias/aws/rds") if key
            else src.spec.get("KmsKeyId")}


def _params(ctx: Ctx, params: dict[str, Any], src: Resource) -> dict[str, Any]:
    """The request with the source's values filled in: what instances.settings builds the spec from."""
    given = {k: v for k, v in params.items() if v is not None}
    spec = src.spec
    merged = {k: spec.get(k) for k in _INHERITED}
    if "DBSubnetGroupName" not in given:
        merged.update({k: spec.get(k) for k in _PLACEMENT})
    merged.update(given)
    size = views.allocated_storage(spec, src.status)
    merged.update(check.inherited_storage(spec, size, given, "read replica"))
    merged.update(_encryption(ctx, src, given.get("KmsKeyId")))
    merged.update({"Engine": "postgres", "EngineVersion": sv.instance_fields(ctx.store, src)["EngineVersion"],
                   "DBName": spec.get("DBName"), "BackupRetentionPeriod": 0})
    return {k: v for k, v in merged.items() if v is not None}


def keep_backups(ctx: Ctx, res: Resource, retention: int) -> None:
    """The source of read replicas keeps its automated backups (BackupRetentionPeriod can't be 0)."""
    if retention == 0 and views.replicas_of(ctx.store, res):
        raise errors.combination(f"BackupRetentionPeriod can't be 0: DB instance {res.id} is the source of "
                                 "read replicas.")


@operation("rds", "CreateDBInstanceReadReplica")
def create_db_instance_read_replica(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["DBInstanceIdentifier"], "DBInstanceIdentifier")
    _refuse(params)
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        src = _source(ctx, params["SourceDBInstanceIdentifier"])
        instances.check_new(ctx, ident)
        _check_source(ctx, src)
        source = {SOURCE: src.id, SOURCE_DBI: src.spec.get("DbiResourceId")}
        message = f"Read replica creation requested (source: DB instance {src.id})"
        res = instances.insert_copy(ctx, ident, _params(ctx, params, src), tags,
                                    str(src.spec["MasterUsername"]), source, message, "creation")
        shared.record(ctx, KIND_INSTANCE, src.id, f"Creating read replica {ident}", "read replica")
    return {"DBInstance": views.instance(res, ctx.account, ctx.store)}


@operation("rds", "PromoteReadReplica")
def promote_read_replica(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("TagSpecifications"):
        raise errors.not_implemented(_REFUSED["TagSpecifications"])
    with ctx.store.transaction():
        res = shared.get_instance(ctx, params["DBInstanceIdentifier"])
        if res.spec.get("DBClusterIdentifier"):
            raise errors.combination(f"DB instance {res.id} is a reader of DB cluster "
                                     f"{res.spec['DBClusterIdentifier']}: fail the cluster over to it "
                                     "instead.")
        if views.replica_source(res.spec, res.status) is None:
            raise errors.instance_state(f"DB instance {res.id} is not a read replica.")
        state = views.instance_status(res.spec, res.status)
        if state != "available":
            raise errors.instance_state(f"DB instance {res.id} is not in available state (it is {state}): it "
                                        "can't be promoted now.")
        retention = params.get("BackupRetentionPeriod")
        retention = 1 if retention is None else int(retention)  # RDS's default
        check.backup_retention(retention)
        keep_backups(ctx, res, retention)
        window = params.get("PreferredBackupWindow") or res.spec.get("PreferredBackupWindow")
        check.backup_window(str(window))
        spec = {k: v for k, v in res.spec.items() if k not in (SOURCE, SOURCE_DBI)}
        spec.update({"BackupRetentionPeriod": retention, "PreferredBackupWindow": window})
        res = ctx.store.update(res, spec=spec)
        automated_backups.follow(ctx.store, ctx.account, res)
        shared.record(ctx, KIND_INSTANCE, res.id, "Read replica promotion requested", "read replica")
    return {"DBInstance": views.instance(res, ctx.account, ctx.store)}
