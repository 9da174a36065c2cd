"""The DBCluster shape DescribeDBClusters and the cluster operations answer with."""

from __future__ import annotations

from typing import Any

from kura.services.common import tags as tagging
from kura.services.rds import group_views, insights, master_secret, views
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_CLUSTER, KIND_INSTANCE, KIND_SUBNET_GROUP
from kura.store.types import Resource, Store


def cluster_members(store: Store, res: Resource) -> list[Resource]:
    return sorted((r for r in store.list(KIND_INSTANCE, res.region)
                   if r.spec.get("DBClusterIdentifier") == res.id), key=lambda r: r.id)


def status(res: Resource, members: list[Resource] | None = None) -> str:
    """What DescribeDBClusters shows; `members` (the cluster's DB instances) tell stopped from stopping
    and starting from available."""
    if res.spec.get("desired") == "deleted":
        return "deleting"
    states = [views.instance_status(m.spec, m.status) for m in members or []
              if m.spec.get("desired") != "deleted"]
    if res.spec.get("desired") == "stopped":
        return "stopped" if all(s == "stopped" for s in states) else "stopping"
    if any(s in ("starting", "stopped") for s in states):
        return "starting"
    asked = int(res.spec.get("failover_seq", 0)) > int(res.status.get("failover_seq", 0))
    if asked or res.status.get("failover"):
        return "failing-over"
    return str(res.status.get("state") or "creating")


def _zones(store: Store, res: Resource) -> list[str]:
    if res.spec.get("AvailabilityZones"):
        return list(res.spec["AvailabilityZones"])
    group = store.get(KIND_SUBNET_GROUP, res.region, str(res.spec.get("DBSubnetGroupName")))
    if group is None:
        return []
    return sorted({s.availability_zone for s in group_views.subnets(store, res.region,
                                                                    list(group.spec["SubnetIds"]))})[:3]


def _restorable(store: Store, res: Resource, writer: Resource | None) -> dict[str, Any]:
    """The writer's continuous backup is the cluster's: its restore window is the cluster's."""
    if writer is None or not writer.spec.get("DbiResourceId"):
        return {}
    ab = store.get(KIND_AUTOMATED_BACKUP, res.region, str(writer.spec["DbiResourceId"]))
    if ab is None:
        return {}
    out = {}
    if ab.status.get("earliest") is not None:
        out["EarliestRestorableTime"] = ab.status["earliest"]
    if ab.status.get("latest") is not None:
        out["LatestRestorableTime"] = ab.status["latest"]
    return out


def cluster(res: Resource, account: str, store: Store) -> dict[str, Any]:
    assert res.kind == KIND_CLUSTER
    spec, st = res.spec, res.status
    members = cluster_members(store, res)
    writer = next((m for m in members if m.id == spec.get("writer")), None)
    out: dict[str, Any] = {
        "DBClusterIdentifier": res.id, "AllocatedStorage": 1, "AvailabilityZones": _zones(store, res),
        "BackupRetentionPeriod": spec.get("BackupRetentionPeriod"),
        "DBClusterParameterGroup": spec.get("DBClusterParameterGroupName"),
        "DBSubnetGroup": spec.get("DBSubnetGroupName"), "Status": status(res, members),
        "MultiAZ": len(members) > 1, "Engine": spec.get("Engine"), "EngineVersion": spec.get("EngineVersion"),
        "Port": spec.get("Port"), "MasterUsername": spec.get("MasterUsername"),
        "DBClusterOptionGroupMemberships": [],
        "PreferredBackupWindow": spec.get("PreferredBackupWindow"),
        "PreferredMaintenanceWindow": spec.get("PreferredMaintenanceWindow"),
        "ReadReplicaIdentifiers": [],
        "DBClusterMembers": [{"DBInstanceIdentifier": m.id, "IsClusterWriter": m.id == spec.get("writer"),
                              "DBClusterParameterGroupStatus": str(m.status.get("parameter_apply_status")
                                                                   or "in-sync"),
                              "PromotionTier": int(m.spec.get("PromotionTier", 1))} for m in members],
        "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"}
                              for g in spec.get("VpcSecurityGroupIds") or []],
        "HostedZoneId": views.HOSTED_ZONES.get(res.region, "Z2R2ITUGPM61AM"),
        "StorageEncrypted": bool(spec.get("StorageEncrypted")),
        "DbClusterResourceId": spec.get("DbClusterResourceId"),
        "DBClusterArn": f"arn:aws:rds:{res.region}:{account}:cluster:{res.id}",
        "AssociatedRoles": [],
        "IAMDatabaseAuthenticationEnabled": bool(spec.get("EnableIAMDatabaseAuthentication")),
        "ClusterCreateTime": spec.get("ClusterCreateTime"),
        "EnabledCloudwatchLogsExports": list(spec.get("EnableCloudwatchLogsExports") or []),
        "EngineMode": "provisioned", "DeletionProtection": bool(spec.get("DeletionProtection")),
        "HttpEndpointEnabled": False, "CopyTagsToSnapshot": bool(spec.get("CopyTagsToSnapshot")),
        "CrossAccountClone": False, "DomainMemberships": [], "NetworkType": "IPV4",
        "AutoMinorVersionUpgrade": True, "StorageType": "aurora",
        "TagList": tagging.as_list(dict(spec.get("Tags") or {})),
        **insights.view(spec),
    }
    if st.get("address"):
        out["Endpoint"] = st["address"]
    if st.get("reader_address"):
        out["ReaderEndpoint"] = st["reader_address"]
    for key in ("DatabaseName", "KmsKeyId", "CharacterSetName"):
        if spec.get(key):
            out[key] = spec[key]
    if spec.get("ServerlessV2ScalingConfiguration"):
        out["ServerlessV2ScalingConfiguration"] = dict(spec["ServerlessV2ScalingConfiguration"])
    secret = master_secret.view(spec)
    if secret:
        out["MasterUserSecret"] = secret
    out.update(_restorable(store, res, writer))
    return out
