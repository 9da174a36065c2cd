"""Stored cache clusters and replication groups → their response shapes. Statuses derive from spec+status."""

from __future__ import annotations

from typing import Any

from kura.services.elasticache import log_delivery
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP
from kura.store.types import Resource, Store

# Spec fields the engine must carry out: while status.applied differs, the cluster shows `modifying`.
APPLIED_KEYS = ("CacheNodeType", "CacheParameterGroupName", "SecurityGroupIds", "Port", "EngineVersion",
                "TransitEncryptionEnabled")
_PLAIN = ("CacheNodeType", "Engine", "NumCacheNodes", "PreferredAvailabilityZone", "CacheClusterCreateTime",
          "PreferredMaintenanceWindow", "CacheSubnetGroupName", "AutoMinorVersionUpgrade",
          "ReplicationGroupId", "SnapshotRetentionLimit", "SnapshotWindow", "TransitEncryptionEnabled",
          "AtRestEncryptionEnabled", "NetworkType", "IpDiscovery", "AuthTokenLastModifiedDate")
_PENDING_STATES = ("creating", "deleting", "failed", "restore-failed", "incompatible-parameters",
                   "incompatible-network")


def _ahead(spec: dict[str, Any], status: dict[str, Any], key: str) -> bool:
    return int(spec.get(key, 0) or 0) > int(status.get(key, 0) or 0)


def is_modifying(spec: dict[str, Any], status: dict[str, Any]) -> bool:
    applied = status.get("applied") or {}
    if any(key in applied and applied[key] != spec.get(key) for key in APPLIED_KEYS):
        return True
    return _ahead(spec, status, "auth_token_seq")


def cluster_status(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """The wish in the spec the control plane has not carried out yet, else the last phase it reached."""
    state = status.get("state")
    if spec.get("desired") == "deleted":
        return "deleting"
    if not state:
        return "creating"
    if state in _PENDING_STATES:
        return str(state)
    if _ahead(spec, status, "reboot_seq"):
        return "rebooting cache cluster nodes"
    if state == "available" and is_modifying(spec, status):
        return "modifying"
    return str(state)


def _endpoint(status: dict[str, Any]) -> dict[str, Any] | None:
    address, port = status.get("address"), status.get("port")
    return {"Address": address, "Port": int(port)} if address and port else None


def _node(res: Resource, cluster_state: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "CacheNodeId": "0001", "CacheNodeStatus": cluster_state,
        "CacheNodeCreateTime": res.spec.get("CacheClusterCreateTime"),
        "ParameterGroupStatus": res.status.get("parameter_apply_status", "in-sync"),
        "CustomerAvailabilityZone": res.spec.get("PreferredAvailabilityZone"),
    }
    endpoint = _endpoint(res.status)
    if endpoint:
        node["Endpoint"] = endpoint
    return node


def cluster(res: Resource, account: str, *, show_nodes: bool = False) -> dict[str, Any]:
    assert res.kind == KIND_CACHE_CLUSTER
    spec, status = res.spec, res.status
    state = cluster_status(spec, status)
    out: dict[str, Any] = {"CacheClusterId": res.id}
    out.update({k: spec[k] for k in _PLAIN if spec.get(k) is not None})
    out["CacheClusterStatus"] = state
    out["EngineVersion"] = status.get("engine_version") or spec.get("EngineVersion")
    out["ClientDownloadLandingPage"] = "https://console.aws.amazon.com/elasticache/home#client-download:"
    out["PendingModifiedValues"] = dict(spec.get("PendingModifiedValues") or {})
    out["CacheSecurityGroups"] = []
    out["SecurityGroups"] = [{"SecurityGroupId": g, "Status": "active"}
                             for g in spec.get("SecurityGroupIds") or []]
    out["CacheParameterGroup"] = {"CacheParameterGroupName": spec.get("CacheParameterGroupName"),
                                  "ParameterApplyStatus": status.get("parameter_apply_status", "in-sync"),
                                  "CacheNodeIdsToReboot": []}
    if spec.get("NotificationTopicArn"):
        out["NotificationConfiguration"] = {"TopicArn": spec["NotificationTopicArn"], "TopicStatus": "active"}
    if show_nodes:
        out["CacheNodes"] = [_node(res, "available" if state != "creating" and _endpoint(status) else state)]
    out["AuthTokenEnabled"] = bool(spec.get("auth_token_sealed"))
    out["ARN"] = f"arn:aws:elasticache:{res.region}:{account}:cluster:{res.id}"
    out["ReplicationGroupLogDeliveryEnabled"] = False
    out["LogDeliveryConfigurations"] = log_delivery.view(spec.get("LogDeliveryConfigurations"))
    if spec.get("TransitEncryptionEnabled"):
        out["TransitEncryptionMode"] = "required"
    return out


def role_of(member: Resource | None) -> str:
    if member is None:
        return "replica"
    return str(member.status.get("role") or member.spec.get("role") or "replica")


def group_status(spec: dict[str, Any], status: dict[str, Any], members: list[Resource]) -> str:
    state = status.get("state")
    if spec.get("desired") == "deleted":
        return "deleting"
    if not state:
        return "creating"
    if state != "available":
        return str(state)
    if _ahead(spec, status, "failover_seq") or _ahead(spec, status, "auth_token_seq"):
        return "modifying"
    if any(cluster_status(m.spec, m.status) != "available" for m in members):
        return "modifying"
    return "available"


def _addr(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and value.get("address") and value.get("port"):
        return {"Address": value["address"], "Port": int(value["port"])}
    return None


def _node_group(res: Resource, members: list[Resource], state: str) -> dict[str, Any]:
    group: dict[str, Any] = {"NodeGroupId": "0001", "Status": state, "NodeGroupMembers": []}
    for m in members:
        member: dict[str, Any] = {"CacheClusterId": m.id, "CacheNodeId": "0001",
                                  "PreferredAvailabilityZone": m.spec.get("PreferredAvailabilityZone"),
                                  "CurrentRole": role_of(m)}
        endpoint = _endpoint(m.status)
        if endpoint:
            member["ReadEndpoint"] = endpoint
        group["NodeGroupMembers"].append(member)
    for key, shape in (("primary_endpoint", "PrimaryEndpoint"), ("reader_endpoint", "ReaderEndpoint")):
        endpoint = _addr(res.status.get(key))
        if endpoint:
            group[shape] = endpoint
    return group


def members_of(store: Store, res: Resource) -> list[Resource]:
    found = [store.get(KIND_CACHE_CLUSTER, res.region, m) for m in res.spec.get("members") or []]
    return [m for m in found if m is not None]


def automatic_failover(spec: dict[str, Any], status: dict[str, Any], state: str) -> str:
    """enabled/disabled once carried out; enabling/disabling while the group is created or modified
    (status.automatic_failover, when the reconciler writes it, says what is carried out)."""
    wanted = bool(spec.get("AutomaticFailoverEnabled"))
    applied = status.get("automatic_failover")
    settled = applied == wanted if applied is not None else state not in ("creating", "modifying")
    if wanted:
        return "enabled" if settled else "enabling"
    return "disabled" if settled or applied is None else "disabling"


def replication_group(res: Resource, account: str, store: Store) -> dict[str, Any]:
    assert res.kind == KIND_REPLICATION_GROUP
    spec, status = res.spec, res.status
    members = members_of(store, res)
    state = group_status(spec, status, members)
    out: dict[str, Any] = {
        "ReplicationGroupId": res.id, "Description": spec.get("ReplicationGroupDescription", ""),
        "GlobalReplicationGroupInfo": {}, "Status": state,
        "PendingModifiedValues": dict(spec.get("PendingModifiedValues") or {}),
        "MemberClusters": list(spec.get("members") or []),
        "NodeGroups": [_node_group(res, members, state)],
        "AutomaticFailover": automatic_failover(spec, status, state),
        "MultiAZ": "enabled" if spec.get("MultiAZEnabled") else "disabled",
        "SnapshotRetentionLimit": spec.get("SnapshotRetentionLimit", 0),
        "SnapshotWindow": spec.get("SnapshotWindow"), "ClusterEnabled": False,
        "CacheNodeType": spec.get("CacheNodeType"), "AuthTokenEnabled": bool(spec.get("auth_token_sealed")),
        "TransitEncryptionEnabled": bool(spec.get("TransitEncryptionEnabled")),
        "AtRestEncryptionEnabled": bool(spec.get("AtRestEncryptionEnabled")),
        "ARN": f"arn:aws:elasticache:{res.region}:{account}:replicationgroup:{res.id}",
        "LogDeliveryConfigurations": log_delivery.view(spec.get("LogDeliveryConfigurations")),
        "ReplicationGroupCreateTime": spec.get("ReplicationGroupCreateTime"),
        "DataTiering": "disabled", "AutoMinorVersionUpgrade": spec.get("AutoMinorVersionUpgrade", True),
        "NetworkType": "ipv4", "IpDiscovery": "ipv4", "ClusterMode": "disabled", "Engine": "redis",
    }
    if spec.get("KmsKeyId"):
        out["KmsKeyId"] = spec["KmsKeyId"]
    if members and spec.get("SnapshotRetentionLimit"):
        out["SnapshottingClusterId"] = next((m.id for m in members if role_of(m) == "replica"), members[0].id)
    return {k: v for k, v in out.items() if v is not None}
