"""CreateDBCluster, DescribeDBClusters, ModifyDBCluster and DeleteDBCluster: Aurora PostgreSQL clusters.

A cluster is its settings and its two endpoints; its compute is its members, DB instances created with
DBClusterIdentifier (cluster_members.py): the first is the writer, the others readers streaming from
it. The cluster reconciler allocates the cluster (writer) endpoint and the reader endpoint, which the
router points at the writer and spreads over the readers.
"""

from __future__ import annotations

from typing import Any

from kura.services.common import filters
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.rds import (
    catalogue,
    cluster_final,
    cluster_parameter_groups,
    cluster_views,
    errors,
    insights,
    instance_network,
    instances,
    shared,
    views,
)
from kura.services.rds import instance_validation as check
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

ENGINE = "aurora-postgresql"
DEFAULT_PORT = 5432
MAX_ACU = 256.0
# CreateDBCluster parameters of features Kura does not run; refused rather than silently ignored.
_UNSUPPORTED = {
    "ReplicationSourceIdentifier": "cross-Region Aurora read replicas",
    "GlobalClusterIdentifier": "Aurora global databases",
    "BacktrackWindow": "backtracking (Aurora MySQL only)",
    "ScalingConfiguration": "Aurora Serverless v1 (use ServerlessV2ScalingConfiguration)",
    "DBClusterInstanceClass": "Multi-AZ DB clusters (DBClusterInstanceClass)",
    "EnableGlobalWriteForwarding": "global write forwarding",
    "EnableLimitlessDatabase": "Aurora Limitless Database",
    "RdsCustomClusterConfiguration": "RDS Custom",
    "Domain": "Kerberos authentication (Domain)",
    "EnableHttpEndpoint": "the RDS Data API (EnableHttpEndpoint)",
    "EnableLocalWriteForwarding": "local write forwarding",
    "TagSpecifications": "tags for automated backups (TagSpecifications)",
}


def get(ctx: Ctx, ref: str) -> Resource:
    ident = ref.lower()
    if ref.startswith("arn:"):
        parsed = shared.parse_arn(ctx, ref)
        ident = parsed[1].lower() if parsed and parsed[0] == "cluster" else ""
    res = ctx.store.get(KIND_CLUSTER, ctx.region, ident) if ident else None
    if res is None:
        raise errors.fault("DBClusterNotFoundFault", f"DBCluster {ref} not found.")
    return res


def members(ctx: Ctx, cluster_id: str) -> list[Resource]:
    return [r for r in ctx.store.list(KIND_INSTANCE, ctx.region)
            if r.spec.get("DBClusterIdentifier") == cluster_id and r.spec.get("desired") != "deleted"]


AUTO_PAUSE_DEFAULT = 300
AUTO_PAUSE_RANGE = (300, 86_400)


def scaling(value: dict[str, Any] | None) -> dict[str, float] | None:
    """ServerlessV2ScalingConfiguration: capacities in 0.5-ACU steps, 0 ≤ Min ≤ Max ≤ 256, Max ≥ 1;
    with a minimum of 0, SecondsUntilAutoPause (300–86,400, default 300)."""
    if value is None:
        return None
    low, high = value.get("MinCapacity"), value.get("MaxCapacity")
    if low is None or high is None:
        raise errors.invalid("ServerlessV2ScalingConfiguration needs both MinCapacity and MaxCapacity.")
    low, high = float(low), float(high)
    for name, acu in (("MinCapacity", low), ("MaxCapacity", high)):
        if acu * 2 != int(acu * 2) or not 0 <= acu <= MAX_ACU:
            raise errors.invalid(f"{name} {acu:g} is not valid: capacities are multiples of 0.5 ACU from "
                                 f"0 to {MAX_ACU:g}.")
    if high < max(low, 1.0):
        raise errors.invalid(f"MaxCapacity {high:g} must be at least MinCapacity ({low:g}) and at least 1.")
    if low > 0:  # as on Aurora: only a minimum of 0 ACUs pauses, so the setting is dropped
        return {"MinCapacity": low, "MaxCapacity": high}
    pause = value.get("SecondsUntilAutoPause")
    pause = AUTO_PAUSE_DEFAULT if pause is None else int(pause)
    if not AUTO_PAUSE_RANGE[0] <= pause <= AUTO_PAUSE_RANGE[1]:
        raise errors.invalid(f"SecondsUntilAutoPause {pause} is not valid: specify a value between "
                             f"{AUTO_PAUSE_RANGE[0]} and {AUTO_PAUSE_RANGE[1]} seconds.")
    return {"MinCapacity": low, "MaxCapacity": high, "SecondsUntilAutoPause": pause}


def _group(ctx: Ctx, ref: str | None, major: str) -> str:
    """The DB cluster parameter group to use: of the cluster's family (default.aurora-postgresql<major>)."""
    if ref is None:
        return f"default.{ENGINE}{major}"
    name, family, _, _, _ = cluster_parameter_groups.find(ctx, ref)
    if family != f"{ENGINE}{major}":
        raise errors.combination(f"The DB cluster parameter group {name} is of family {family}: this "
                                 f"cluster needs one of family {ENGINE}{major}.")
    return name


def _settings(ctx: Ctx, ident: str, params: dict[str, Any]) -> dict[str, Any]:
    for name, what in _UNSUPPORTED.items():
        if params.get(name) not in (None, False, ""):
            raise errors.not_implemented(f"{what} ({name})")
    engine = params["Engine"]
    if engine != ENGINE:
        if engine in ("aurora-mysql", "aurora", "mysql"):
            raise errors.combination(f"kura does not run engine {engine}: its DB clusters are {ENGINE}.")
        if engine == "postgres":
            raise errors.not_implemented("Multi-AZ DB clusters (Engine postgres): create a Multi-AZ DB "
                                         "instance, or an aurora-postgresql DB cluster")
        raise errors.invalid(f"Invalid DB engine: {engine}")
    if params.get("EngineMode", "provisioned") != "provisioned":
        raise errors.not_implemented(f"EngineMode {params['EngineMode']} (Aurora Serverless v2 is "
                                     "provisioned mode with ServerlessV2ScalingConfiguration)")
    _, version = catalogue.resolve_version(ctx.store, params.get("EngineVersion"))
    major = version.split(".")[0]
    group = _group(ctx, params.get("DBClusterParameterGroupName"), major)
    port = params.get("Port", DEFAULT_PORT)
    check.port(port)
    if params.get("DatabaseName") is not None:
        check.db_name(params["DatabaseName"])
    retention = params.get("BackupRetentionPeriod", 1)
    if not 1 <= int(retention) <= 35:
        raise errors.invalid(f"Invalid backup retention period {retention}: an Aurora DB cluster keeps "
                             "backups from 1 to 35 days.")
    backup, maintenance = check.default_windows(ident)
    backup = params.get("PreferredBackupWindow") or backup
    check.backup_window(backup)
    maintenance = check.maintenance_window(params.get("PreferredMaintenanceWindow") or maintenance)
    place = instance_network.placement(ctx, {k: params.get(k) for k in ("DBSubnetGroupName",
                                                                        "VpcSecurityGroupIds")})
    return {**instances.encryption(ctx, params),
        "DBClusterIdentifier": ident, "Engine": ENGINE, "EngineVersion": version, "Port": port,
        "DatabaseName": params.get("DatabaseName"), "BackupRetentionPeriod": int(retention),
        "PreferredBackupWindow": backup, "PreferredMaintenanceWindow": maintenance,
        "DBSubnetGroupName": place["DBSubnetGroupName"], "VpcSecurityGroupIds": place["VpcSecurityGroupIds"],
        "AvailabilityZones": params.get("AvailabilityZones") or None,
        "EnableIAMDatabaseAuthentication": bool(params.get("EnableIAMDatabaseAuthentication")),
        "EnableCloudwatchLogsExports": check.log_exports(params.get("EnableCloudwatchLogsExports") or [],
                                                         version),
        "DeletionProtection": bool(params.get("DeletionProtection")),
        "CopyTagsToSnapshot": bool(params.get("CopyTagsToSnapshot")),
        "ServerlessV2ScalingConfiguration": scaling(params.get("ServerlessV2ScalingConfiguration")),
        **insights.settings(ctx, params),
        "DBClusterParameterGroupName": group,
        "CharacterSetName": params.get("CharacterSetName"),
    }


@operation("rds", "CreateDBCluster")
def create_db_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["DBClusterIdentifier"], "DBClusterIdentifier")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        if ctx.store.get(KIND_CLUSTER, ctx.region, ident) is not None:
            raise errors.fault("DBClusterAlreadyExistsFault", f"DB Cluster {ident} already exists")
        spec = _settings(ctx, ident, params)
        # last: a secret only once all checked out
        spec.update(instances.credentials(ctx, shared.arn(ctx, KIND_CLUSTER, ident), params, tags))
        spec.update({"Tags": tags, "DbClusterResourceId": "cluster-" + shared.new_resource_id()[3:],
                     "ClusterCreateTime": ctx.now(), "desired": "available"})
        res = ctx.store.create(KIND_CLUSTER, ctx.region, ident,
                               {k: v for k, v in spec.items() if v is not None})
        shared.record(ctx, KIND_CLUSTER, ident, "DB cluster created", "creation")
    return {"DBCluster": cluster_views.cluster(res, ctx.account, ctx.store)}


def _getters(ctx: Ctx) -> dict[str, filters.Getter]:
    return {
        "db-cluster-id": lambda r: [r.id, shared.arn(ctx, KIND_CLUSTER, r.id)],
        "db-cluster-resource-id": lambda r: r.spec.get("DbClusterResourceId"),
        "engine": lambda r: r.spec.get("Engine"),
        "db-instance-id": lambda r: [m.id for m in members(ctx, r.id)],
    }


@operation("rds", "DescribeDBClusters")
def describe_db_clusters(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("DBClusterIdentifier")
    found = [get(ctx, ref)] if ref else ctx.store.list(KIND_CLUSTER, ctx.region)
    found = filters.apply(found, params.get("Filters"), _getters(ctx))
    page, marker = rds_page(found, lambda r: r.id, params)
    shown = [cluster_views.cluster(r, ctx.account, ctx.store) for r in page]
    return shared.with_marker({"DBClusters": shown}, marker)


_MODIFIABLE_LATER = {
    "NewDBClusterIdentifier": "renaming a DB cluster", "Port": "changing a DB cluster's port",
    "EngineVersion": "upgrading a DB cluster", "DBInstanceParameterGroupName": "upgrading a DB cluster",
    "MasterUserPassword": "changing a DB cluster's master password",
    "ManageMasterUserPassword": "changing how a DB cluster's master password is managed",
    "RotateMasterUserPassword": "rotating a DB cluster's master password",
    "VpcSecurityGroupIds": "changing a DB cluster's security groups",
    "DBSubnetGroupName": "moving a DB cluster", "EngineMode": "changing the engine mode",
}


@operation("rds", "ModifyDBCluster")
def modify_db_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """Settings that are records for now (windows, retention, protection, log exports) and the Serverless
    v2 capacity range, which applies at once (ApplyImmediately or not, as on Aurora)."""
    for name, what in {**_UNSUPPORTED, **_MODIFIABLE_LATER}.items():
        if params.get(name) not in (None, False, ""):
            raise errors.not_implemented(f"{what} ({name})")
    with ctx.store.transaction():
        res = get(ctx, params["DBClusterIdentifier"])
        if res.spec.get("desired") == "deleted":
            raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {res.id} is being deleted.")
        spec = dict(res.spec)
        if "BackupRetentionPeriod" in params:
            retention = int(params["BackupRetentionPeriod"])
            if not 1 <= retention <= 35:
                raise errors.invalid(f"Invalid backup retention period {retention}: from 1 to 35 days.")
            spec["BackupRetentionPeriod"] = retention
        if params.get("PreferredBackupWindow"):
            check.backup_window(params["PreferredBackupWindow"])
            spec["PreferredBackupWindow"] = params["PreferredBackupWindow"]
        if params.get("PreferredMaintenanceWindow"):
            window = params["PreferredMaintenanceWindow"]
            spec["PreferredMaintenanceWindow"] = check.maintenance_window(window)
        for flag in ("DeletionProtection", "CopyTagsToSnapshot", "EnableIAMDatabaseAuthentication"):
            if params.get(flag) is not None:
                spec[flag] = bool(params[flag])
        logs = params.get("CloudwatchLogsExportConfiguration")
        if logs:
            kept = [t for t in spec.get("EnableCloudwatchLogsExports") or [] if t not in
                    (logs.get("DisableLogTypes") or [])]
            wanted = kept + [t for t in logs.get("EnableLogTypes") or [] if t not in kept]
            spec["EnableCloudwatchLogsExports"] = check.log_exports(wanted, str(spec["EngineVersion"]))
        if params.get("DBClusterParameterGroupName"):
            major = str(spec["EngineVersion"]).split(".")[0]
            spec["DBClusterParameterGroupName"] = _group(ctx, params["DBClusterParameterGroupName"], major)
        if params.get("ServerlessV2ScalingConfiguration") is not None:
            spec["ServerlessV2ScalingConfiguration"] = scaling(params["ServerlessV2ScalingConfiguration"])
        pi = insights.changed(ctx, spec, params)
        if pi is not None:  # the members' settings are the cluster's
            spec.update(pi)
            insights.pass_to_members(ctx, pi, members(ctx, res.id))
        res = ctx.store.update(res, spec=spec)
        shared.record(ctx, KIND_CLUSTER, res.id, "DB cluster modified", "configuration change")
    return {"DBCluster": cluster_views.cluster(res, ctx.account, ctx.store)}


@operation("rds", "DeleteDBCluster")
def delete_db_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = get(ctx, params["DBClusterIdentifier"])
        final = cluster_final.identifier(ctx, params)
        if res.spec.get("DeletionProtection"):
            raise errors.fault("InvalidParameterCombination", "Cannot delete protected Cluster, please "
                               "disable deletion protection and try again.")
        if params.get("DeleteDBInstances"):
            raise errors.not_implemented("deleting a DB cluster's instances with it (DeleteDBInstances): "
                                         "delete them first")
        if res.spec.get("desired") == "deleted":
            raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {res.id} is already being deleted.")
        if members(ctx, res.id):
            raise errors.fault("InvalidDBClusterStateFault", "Cluster cannot be deleted, it still contains "
                               "DB instances in non-deleting state.")
        if final is not None:  # the cluster reconciler keeps the storage until it is taken
            cluster_final.take(ctx, res, final)
        res = ctx.store.update(res, spec={**res.spec, "desired": "deleted", "final_snapshot": final})
        shared.record(ctx, KIND_CLUSTER, res.id, "DB cluster deleted", "deletion")
    return {"DBCluster": cluster_views.cluster(res, ctx.account, ctx.store)}


def _failover_target(ctx: Ctx, res: Resource, ref: str | None) -> Resource:
    """The reader asked for, else the reader of the best promotion tier (lowest, then by name)."""
    readers = [m for m in members(ctx, res.id) if m.id != res.spec.get("writer")]
    if ref:
        found = next((m for m in readers if m.id == ref.lower()), None)
        if found is None:
            raise errors.invalid(f"DB instance {ref} is not a reader of DB cluster {res.id}.")
        readers = [found]
    serving = [m for m in readers if views.instance_status(m.spec, m.status) == "available"]
    if not serving:
        raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {res.id} has no available reader to "
                           "fail over to.")
    return min(serving, key=lambda m: (int(m.spec.get("PromotionTier", 1)), m.id))


@operation("rds", "FailoverDBCluster")
def failover_db_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """The reconciler moves the writer role (cluster_failover): the answer shows `failing-over`."""
    with ctx.store.transaction():
        res = get(ctx, params["DBClusterIdentifier"])
        state = cluster_views.status(res, members(ctx, res.id))
        writer = ctx.store.get(KIND_INSTANCE, ctx.region, str(res.spec.get("writer") or ""))
        if state != "available" or writer is None or \
                views.instance_status(writer.spec, writer.status) not in ("available", "backing-up"):
            raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {res.id} is not available with a "
                               "writer: it can't fail over now.")
        target = _failover_target(ctx, res, params.get("TargetDBInstanceIdentifier"))
        seq = int(res.spec.get("failover_seq", 0)) + 1
        res = ctx.store.update(res, spec={**res.spec, "failover_seq": seq, "failover_target": target.id})
        shared.record(ctx, KIND_CLUSTER, res.id, f"Failover to DB instance {target.id} requested", "failover")
    return {"DBCluster": cluster_views.cluster(res, ctx.account, ctx.store)}


def _switch(ctx: Ctx, params: dict[str, Any], desired: str) -> dict[str, Any]:
    """StopDBCluster / StartDBCluster: the cluster and every DB instance of it get `desired`; their
    reconcilers stop or start the servers (the storage stays)."""
    stopping = desired == "stopped"
    need, verb = ("available", "stopped") if stopping else ("stopped", "started")
    with ctx.store.transaction():
        res = get(ctx, params["DBClusterIdentifier"])
        found = members(ctx, res.id)
        state = cluster_views.status(res, found)
        if state != need:
            raise errors.fault("InvalidDBClusterStateFault", f"DB cluster {res.id} is {state}, not {need}: "
                               f"it can't be {verb}.")
        busy = [m.id for m in found if stopping
                and views.instance_status(m.spec, m.status) not in ("available", "backing-up")]
        if busy:
            raise errors.fault("InvalidDBClusterStateFault", f"DB instance {busy[0]} of DB cluster {res.id} "
                               "is not available: the cluster can't be stopped now.")
        res = ctx.store.update(res, spec={**res.spec, "desired": desired})
        for member in found:
            ctx.store.update(member, spec={**member.spec, "desired": desired})
        shared.record(ctx, KIND_CLUSTER, res.id, f"DB cluster {'stop' if stopping else 'start'} requested",
                      "notification")
    return {"DBCluster": cluster_views.cluster(res, ctx.account, ctx.store)}


@operation("rds", "StopDBCluster")
def stop_db_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _switch(ctx, params, "stopped")


@operation("rds", "StartDBCluster")
def start_db_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _switch(ctx, params, "available")
