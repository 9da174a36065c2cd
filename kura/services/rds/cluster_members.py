"""DB instances of an Aurora DB cluster: CreateDBInstance with DBClusterIdentifier, and what deleting
one means for its cluster.

The first member is the writer: a PostgreSQL primary made from the cluster's settings (engine version,
master user and password, database, backups, encryption, network). Every later member is a reader: a
hot standby cloned from the writer and streaming from it. The cluster's storage outlives its members:
the writer's continuous backup is kept when it is deleted, and the next writer is restored from it.
"""

from __future__ import annotations

import base64
from typing import Any

from kura.services.common import tags as tagging
from kura.services.rds import classes, errors, insights, instances, master_secret, shared, views
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE
from kura.services.registry import Ctx
from kura.store.types import Resource

CLUSTER = "DBClusterIdentifier"
# What an Aurora DB instance takes from its cluster: naming it on the instance is refused, as on RDS.
_FROM_CLUSTER = {
    "MasterUsername": "master user name", "MasterUserPassword": "master user password",
    "ManageMasterUserPassword": "master user password", "AllocatedStorage": "storage",
    "StorageType": "storage", "Iops": "storage", "MaxAllocatedStorage": "storage",
    "BackupRetentionPeriod": "backup retention period", "PreferredBackupWindow": "backup window",
    "DBName": "database name", "StorageEncrypted": "storage encryption", "KmsKeyId": "storage encryption",
    "VpcSecurityGroupIds": "VPC security groups", "Port": "port", "MultiAZ": "Multi-AZ (add readers)",
    "EnableIAMDatabaseAuthentication": "IAM database authentication",
    "EnableCloudwatchLogsExports": "log exports", "DeletionProtection": "deletion protection",
}
# The storage a member's PostgreSQL may fill: Aurora's volume grows by itself (to 128 TiB).
STORAGE_GIB = 65536


def _check(ctx: Ctx, params: dict[str, Any], cluster: Resource) -> None:
    for name, what in _FROM_CLUSTER.items():
        if params.get(name) not in (None, False, [], ""):
            raise errors.combination(f"The requested DB Instance will be a member of a DB Cluster. Set the "
                                     f"{what} for the DB Cluster ({name} is not for its DB instances).")
    if params["Engine"] != cluster.spec["Engine"]:
        raise errors.combination(f"The engine of DB instance {params['DBInstanceIdentifier']} must be "
                                 f"that of DB cluster {cluster.id}: {cluster.spec['Engine']}.")
    if params.get("DBSubnetGroupName") not in (None, cluster.spec["DBSubnetGroupName"]):
        raise errors.combination("The DB subnet group of a cluster's DB instance must be the cluster's.")
    if cluster.spec.get("desired") == "deleted":
        raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {cluster.id} is being deleted.")
    if (cluster.spec.get("storage") or {}).get("volume") and not cluster.status.get("volume"):
        raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {cluster.id} is being created (its "
                           "clone is being copied): add DB instances once it is available.")
    if params["DBInstanceClass"] == classes.SERVERLESS and not cluster.spec.get(
            "ServerlessV2ScalingConfiguration"):
        raise errors.combination(f"The db.serverless DB instance class needs a DB cluster with "
                                 f"ServerlessV2ScalingConfiguration: DB cluster {cluster.id} has none.")
    tier = params.get("PromotionTier", 1)
    if not 0 <= int(tier) <= 15:
        raise errors.invalid(f"Invalid PromotionTier {tier}: from 0 to 15.")


def check_modify(params: dict[str, Any]) -> None:
    """ModifyDBInstance of a cluster's DB instance: what belongs to the cluster is changed there."""
    for name, what in _FROM_CLUSTER.items():
        if name not in ("MultiAZ",) and params.get(name) not in (None, [], ""):
            raise errors.combination(f"The {what} of an Aurora DB instance is its DB cluster's: modify the "
                                     f"DB cluster ({name} is not for its DB instances).")


def _base(cluster: Resource, params: dict[str, Any]) -> dict[str, Any]:
    """The request with the cluster's values: what instances.settings builds a member's spec from."""
    spec = cluster.spec
    merged = {k: spec.get(k) for k in (
        "EngineVersion", "Port", "DBSubnetGroupName", "VpcSecurityGroupIds", "PreferredBackupWindow",
        "PreferredMaintenanceWindow", "StorageEncrypted", "KmsKeyId", "EnableIAMDatabaseAuthentication",
        "EnableCloudwatchLogsExports", "CopyTagsToSnapshot", *insights.KEYS)}
    merged.update({k: v for k, v in params.items() if v is not None and k != "PromotionTier"})
    merged.update({"Engine": "postgres", "DBName": spec.get("DatabaseName"), "AllocatedStorage": STORAGE_GIB,
                   "StorageType": "gp3", "BackupRetentionPeriod": spec.get("BackupRetentionPeriod")})
    return {k: v for k, v in merged.items() if v is not None}


def _password(ctx: Ctx, cluster: Resource, ident: str) -> dict[str, Any]:
    """The cluster's master password, sealed again for the writer (or its managed secret, shared)."""
    spec = cluster.spec
    if spec.get("ManageMasterUserPassword"):
        return {"ManageMasterUserPassword": True, "MasterUserSecretArn": spec["MasterUserSecretArn"],
                "MasterUserSecretKmsKeyId": spec.get("MasterUserSecretKmsKeyId")}
    blob = base64.b64decode(str(spec["master_password_sealed"]))
    password = ctx.env.master_key.unseal(blob, aad=shared.arn(ctx, KIND_CLUSTER, cluster.id).encode())
    sealed = master_secret.seal(ctx, shared.arn(ctx, KIND_INSTANCE, ident), password.decode())
    return {"ManageMasterUserPassword": False, "master_password_sealed": sealed}


def create(ctx: Ctx, params: dict[str, Any]) -> Resource:
    """CreateDBInstance into a cluster (the caller's transaction)."""
    ident = shared.check_identifier(params["DBInstanceIdentifier"], "DBInstanceIdentifier")
    cluster = ctx.store.get(KIND_CLUSTER, ctx.region, str(params[CLUSTER]).lower())
    if cluster is None:
        raise errors.fault("DBClusterNotFoundFault", f"DBCluster {params[CLUSTER]} not found.")
    _check(ctx, params, cluster)
    instances.check_new(ctx, ident)
    tags = tagging.normalize(params.get("Tags"))
    member = {CLUSTER: cluster.id, "PromotionTier": int(params.get("PromotionTier", 1))}
    writer = cluster.spec.get("writer")
    current = ctx.store.get(KIND_INSTANCE, ctx.region, writer) if writer else None
    if current is not None and current.spec.get("desired") != "deleted":
        state = views.instance_status(current.spec, current.status)
        if state not in ("available", "backing-up"):
            raise errors.fault("InvalidDBClusterStateFault", f"The writer of DB cluster {cluster.id} "
                               f"({current.id}) is {state}: add readers once it is available.")
        source = {"ReadReplicaSourceDBInstanceIdentifier": current.id,
                  "ReadReplicaSourceDbiResourceId": current.spec.get("DbiResourceId"), **member}
        params = {**_base(cluster, params), "BackupRetentionPeriod": 0, CLUSTER: cluster.id}
        res = instances.insert_copy(ctx, ident, params, tags, str(cluster.spec["MasterUsername"]), source,
                                    f"Reader of DB cluster {cluster.id} created", "creation")
        return res
    spec = instances.settings(ctx, ident, _base(cluster, params), tags)
    spec.update(member)
    spec["MasterUsername"] = cluster.spec["MasterUsername"]
    storage = cluster.spec.get("storage")
    if storage:  # the cluster's volume: its last writer's continuous backup, or what it was restored from
        spec["restore_from"] = {k: v for k, v in dict(storage).items() if k != "owned"}
    else:
        spec.update(_password(ctx, cluster, ident))
    ctx.store.update(cluster, spec={**cluster.spec, "writer": ident})
    return instances.insert(ctx, spec, f"Writer of DB cluster {cluster.id} created", "creation")


def on_delete(ctx: Ctx, res: Resource) -> dict[str, Any]:
    """Deleting a cluster's DB instance: never a final snapshot (the cluster keeps its storage); the
    writer only once it has no readers, its continuous backup kept as the cluster's volume."""
    cluster = ctx.store.get(KIND_CLUSTER, ctx.region, str(res.spec[CLUSTER]))
    final = {"skip": True, "identifier": None, "delete_automated_backups": False}
    if cluster is None or cluster.spec.get("writer") != res.id:
        return final
    readers = [r for r in ctx.store.list(KIND_INSTANCE, ctx.region)
               if r.spec.get(CLUSTER) == cluster.id and r.id != res.id and r.spec.get("desired") != "deleted"]
    if readers:
        raise errors.fault("InvalidDBClusterStateFault", f"DB instance {res.id} is the writer of DB cluster "
                           f"{cluster.id}: delete its readers ({', '.join(r.id for r in readers)}) first.")
    spec = {k: v for k, v in cluster.spec.items() if k != "writer"}
    # owned: the cluster deletes this backup with itself (a restore's source backup is another's)
    spec["storage"] = {"automated_backup": res.spec.get("DbiResourceId"), "time": None, "owned": True}
    ctx.store.update(cluster, spec=spec)
    return final
