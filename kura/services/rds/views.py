"""Stored DB instances → the DBInstance shape. DBInstanceStatus is derived from spec and status."""

from __future__ import annotations

from typing import Any

from kura.services.common import tags as tagging
from kura.services.rds import catalogue, group_views, insights, master_secret
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_CLUSTER, KIND_INSTANCE, KIND_SUBNET_GROUP
from kura.store.types import Resource, Store

# Spec fields whose value the engine must change: while status.applied differs, the instance is
# "modifying" (only fields the reconciler reports in `applied` are compared).
APPLIED_KEYS = ("DBInstanceClass", "AllocatedStorage", "StorageType", "Iops", "StorageThroughput", "Port",
                "VpcSecurityGroupIds", "CACertificateIdentifier", "DBParameterGroupName", "MultiAZ",
                "PubliclyAccessible", "MaxAllocatedStorage")
# Route 53 zones of RDS endpoints, per region (what clients see in Endpoint.HostedZoneId).
HOSTED_ZONES = {"us-east-1": "Z2R2ITUGPM61AM", "us-west-2": "Z1PVIF0B656C1W", "eu-west-1": "Z29XKXDKYMONMX",
                "ap-northeast-1": "Z24O6O9L7SGTNB", "eu-central-1": "Z1RLNUO7B9Q6NB"}
# Spec keys copied into the view as they are, when set.
_PLAIN = ("DBInstanceClass", "Engine", "MasterUsername", "DBName", "AllocatedStorage",
          "PreferredBackupWindow", "BackupRetentionPeriod", "AvailabilityZone",
          "PreferredMaintenanceWindow", "MultiAZ",
          "AutoMinorVersionUpgrade", "LicenseModel", "Iops", "StorageThroughput", "CharacterSetName",
          "PubliclyAccessible", "StorageType", "StorageEncrypted", "KmsKeyId", "DbiResourceId",
          "CACertificateIdentifier", "CopyTagsToSnapshot", "MonitoringInterval", "MonitoringRoleArn",
          "DeletionProtection",
          "MaxAllocatedStorage", "NetworkType", "InstanceCreateTime")


def instance_status(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """What RDS would show: the wish in the spec that the control plane has not carried out yet,
    else the last phase the control plane reached."""
    state = status.get("state")
    desired = spec.get("desired", "available")
    if desired == "deleted":
        return "deleting"
    if not state:
        return "creating"
    if state in ("creating", "deleting", "failed"):
        return str(state)
    if int(spec.get("reboot_seq", 0)) > int(status.get("reboot_seq", 0)):
        return "rebooting"
    if desired == "stopped":
        return "stopped" if state == "stopped" else "stopping"
    if state in ("stopped", "stopping"):
        return "starting"
    if int(spec.get("password_seq", 0)) > int(status.get("password_seq", 0)):
        return "resetting-master-credentials"
    if state == "available" and (is_modifying(spec, status) or is_promoting(spec, status)):
        return "modifying"
    return str(state)


def replica_source(spec: dict[str, Any], status: dict[str, Any]) -> str | None:
    """The DB instance a read replica follows; None for an instance that is not, or no longer, a
    replica: PromoteReadReplica removes the source from the spec, and the reconciler promotes a replica
    whose source was deleted on its own (status.role "primary")."""
    source = spec.get("ReadReplicaSourceDBInstanceIdentifier")
    if not source or status.get("role") == "primary":
        return None
    return str(source)


def is_promoting(spec: dict[str, Any], status: dict[str, Any]) -> bool:
    """PromoteReadReplica was asked for and the reconciler has not promoted the replica yet."""
    return status.get("role") == "replica" and not spec.get("ReadReplicaSourceDBInstanceIdentifier")


def replicas_of(store: Store, res: Resource) -> list[Resource]:
    """The read replicas following `res` (not those of an earlier instance of the same name)."""
    dbi = res.spec.get("DbiResourceId")
    return [r for r in store.list(KIND_INSTANCE, res.region)
            if replica_source(r.spec, r.status) == res.id
            and r.spec.get("ReadReplicaSourceDbiResourceId") in (None, dbi)]


def is_modifying(spec: dict[str, Any], status: dict[str, Any]) -> bool:
    applied = status.get("applied") or {}
    for key in APPLIED_KEYS:
        if key not in applied:
            continue
        if key == "AllocatedStorage":  # autoscaling may have grown it past the spec
            if int(spec.get(key) or 0) > int(applied[key] or 0):
                return True
        elif applied[key] != spec.get(key):
            return True
    return False


def allocated_storage(spec: dict[str, Any], status: dict[str, Any]) -> int:
    """The user's AllocatedStorage, or more once storage autoscaling grew it."""
    applied = (status.get("applied") or {}).get("AllocatedStorage") or 0
    return max(int(spec.get("AllocatedStorage") or 0), int(applied))


def _pending(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec.get("PendingModifiedValues") or {})
    if int(spec.get("password_seq", 0)) > int(status.get("password_seq", 0)):
        out["MasterUserPassword"] = "****"
    return out


def _backups(store: Store, res: Resource, state: str) -> dict[str, Any]:
    """What the automated backup adds: the latest restorable time, and `backing-up` while a base
    backup of an available instance runs — from creation until the first one is done, as on RDS."""
    if int(res.spec.get("BackupRetentionPeriod") or 0) < 1 or not res.spec.get("DbiResourceId"):
        return {}
    ab = store.get(KIND_AUTOMATED_BACKUP, res.region, str(res.spec["DbiResourceId"]))
    if ab is None:
        return {}
    out: dict[str, Any] = {}
    if ab.status.get("latest") is not None:
        out["LatestRestorableTime"] = ab.status["latest"]
    first = ab.spec.get("desired", "active") == "active" and not ab.status.get("backups")
    if state == "available" and (ab.status.get("taking") or first):
        out["DBInstanceStatus"] = "backing-up"
    return out


def _subnet_group(store: Store, res: Resource, account: str) -> dict[str, Any] | None:
    name = res.spec.get("DBSubnetGroupName")
    group = store.get(KIND_SUBNET_GROUP, res.region, name) if name else None
    return group_views.subnet_group(group, account, store) if group else None


def _endpoint(res: Resource) -> dict[str, Any] | None:
    address, port = res.status.get("address"), res.status.get("port")
    if not address or not port:
        return None
    return {"Address": address, "Port": int(port),
            "HostedZoneId": HOSTED_ZONES.get(res.region, "Z2R2ITUGPM61AM")}


def _secondary_zone(spec: dict[str, Any], group: dict[str, Any] | None) -> str | None:
    if not spec.get("MultiAZ") or group is None:
        return None
    zones = sorted({s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]})
    return next((z for z in zones if z != spec.get("AvailabilityZone")), None)


def instance(res: Resource, account: str, store: Store) -> dict[str, Any]:
    assert res.kind == KIND_INSTANCE
    spec, status = res.spec, res.status
    out: dict[str, Any] = {"DBInstanceIdentifier": res.id}
    out.update({k: spec[k] for k in _PLAIN if spec.get(k) is not None})
    out["DBInstanceStatus"] = instance_status(spec, status)
    out.update(_backups(store, res, out["DBInstanceStatus"]))
    out["AllocatedStorage"] = allocated_storage(spec, status)
    out["EngineVersion"] = status.get("engine_version") or spec.get("EngineVersion")
    endpoint = _endpoint(res)
    if endpoint:
        out["Endpoint"] = endpoint
    out["DBSecurityGroups"] = []
    out["VpcSecurityGroups"] = [{"VpcSecurityGroupId": g, "Status": "active"}
                                for g in spec.get("VpcSecurityGroupIds") or []]
    out["DBParameterGroups"] = [{"DBParameterGroupName": spec["DBParameterGroupName"],
                                 "ParameterApplyStatus": status.get("parameter_apply_status", "in-sync")}]
    group = _subnet_group(store, res, account)
    if group:
        out["DBSubnetGroup"] = group
    secondary = _secondary_zone(spec, group)
    if secondary:
        out["SecondaryAvailabilityZone"] = secondary
        if (status.get("ha") or {}).get("primary") == "2":  # after a failover the zones trade places
            out["AvailabilityZone"] = secondary
            out["SecondaryAvailabilityZone"] = spec.get("AvailabilityZone")
    out["PendingModifiedValues"] = _pending(spec, status)
    out.update(_fixed(res, account, spec, status))
    out.update(_replication(res, store))
    secret = master_secret.view(spec)
    if secret:
        out["MasterUserSecret"] = secret
    out["TagList"] = tagging.as_list(dict(spec.get("Tags") or {}))
    if spec.get("DBClusterIdentifier"):
        _as_cluster_member(out, spec, store, res.region)
    return out


def _as_cluster_member(out: dict[str, Any], spec: dict[str, Any], store: Store, region: str) -> None:
    """An Aurora DB instance: the cluster's engine, storage and backups; a reader is no read replica."""
    for key in ("ReadReplicaSourceDBInstanceIdentifier", "LatestRestorableTime", "MaxAllocatedStorage",
                "Iops", "StorageThroughput"):
        out.pop(key, None)
    infos = [i for i in out.pop("StatusInfos", []) if i.get("StatusType") != "read replication"]
    if infos:
        out["StatusInfos"] = infos
    out["ReadReplicaDBInstanceIdentifiers"] = []
    cluster = store.get(KIND_CLUSTER, region, str(spec["DBClusterIdentifier"]))
    out.update({"DBClusterIdentifier": spec["DBClusterIdentifier"], "Engine": "aurora-postgresql",
                "PromotionTier": int(spec.get("PromotionTier", 1)), "AllocatedStorage": 1,
                "StorageType": "aurora", "MultiAZ": False})
    for group in out.get("DBParameterGroups") or []:  # the engine's defaults, under Aurora's name
        name = str(group["DBParameterGroupName"])
        if name.startswith("default.postgres"):
            group["DBParameterGroupName"] = name.replace("postgres", "aurora-postgresql")
    if cluster is not None:
        out["BackupRetentionPeriod"] = cluster.spec.get("BackupRetentionPeriod")
        out["EngineVersion"] = cluster.spec.get("EngineVersion")
        out["OptionGroupMemberships"] = []


def _fixed(res: Resource, account: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """Members that follow from the rest, and the ones Kura always answers the same way."""
    major = str(spec.get("EngineVersion", "")).split(".")[0]
    out: dict[str, Any] = {
        "ReadReplicaDBClusterIdentifiers": [],
        "OptionGroupMemberships": [{"OptionGroupName": f"default:postgres-{major}", "Status": "in-sync"}],
        "DbInstancePort": 0,
        "DomainMemberships": [],
        "DBInstanceArn": f"arn:aws:rds:{res.region}:{account}:db:{res.id}",
        "IAMDatabaseAuthenticationEnabled": bool(spec.get("EnableIAMDatabaseAuthentication")),
        "DatabaseInsightsMode": "standard",
        **insights.view(spec),
        "EnabledCloudwatchLogsExports": list(spec.get("EnableCloudwatchLogsExports") or []),
        "AssociatedRoles": [],
        "CustomerOwnedIpEnabled": False,
        "ActivityStreamStatus": "stopped",
        "BackupTarget": "region",
        "MultiTenant": False,
        "DedicatedLogVolume": False,
        "IsStorageConfigUpgradeAvailable": False,
        "EngineLifecycleSupport": "open-source-rds-extended-support-disabled",
        "DBInstanceAutomatedBackupsReplications": [],
        "CertificateDetails": _certificate(spec, status),
    }
    if spec.get("MonitoringInterval"):
        out["EnhancedMonitoringResourceArn"] = (
            f"arn:aws:logs:{res.region}:{account}:log-group:RDSOSMetrics:log-stream:{spec.get('DbiResourceId')}")
    return out


def _replication(res: Resource, store: Store) -> dict[str, Any]:
    """The replica's source and replication status (StatusInfos), and the replicas that follow it."""
    out: dict[str, Any] = {"ReadReplicaDBInstanceIdentifiers": sorted(r.id for r in replicas_of(store, res))}
    infos = list(res.status.get("status_infos") or [])
    source = replica_source(res.spec, res.status)
    if source is not None:
        out["ReadReplicaSourceDBInstanceIdentifier"] = source
        seen = res.status.get("replication") or {}  # "replicating" until the first measurement
        state = str(seen.get("state") or "replicating")
        info: dict[str, Any] = {"StatusType": "read replication", "Normal": state == "replicating",
                                "Status": state}
        if seen.get("error"):
            info["Message"] = str(seen["error"])
        infos.insert(0, info)
    if infos:
        out["StatusInfos"] = infos
    return out


def _certificate(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"CAIdentifier": spec.get("CACertificateIdentifier")}
    if status.get("certificate_valid_till"):
        out["ValidTill"] = status["certificate_valid_till"]
    return out


def family(spec: dict[str, Any]) -> str:
    major = int(str(spec["EngineVersion"]).split(".")[0])
    return catalogue.family_of(major, bool(spec.get("DBClusterIdentifier")))
