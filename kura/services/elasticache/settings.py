"""What cache clusters and replication groups share at creation: engine, node type, parameter group,
port, windows, snapshots, encryption and the AuthToken."""

from __future__ import annotations

from typing import Any

from kura.services.elasticache import catalogue, errors, log_delivery, parameter_groups, shared, validation
from kura.services.kms import internal as kms
from kura.services.registry import Ctx
from kura.store.types import Resource

DEFAULT_PORT = 6379
KMS_ALIAS = "alias/aws/elasticache"


def engine(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    catalogue.check_engine(params.get("Engine"))
    version = catalogue.resolve_version(ctx.store, params.get("EngineVersion"))
    group = parameter_groups.for_cluster(ctx, params.get("CacheParameterGroupName"), version.family)
    node_type = validation.node_type(params.get("CacheNodeType") or "cache.t3.micro")
    return {"Engine": "redis", "EngineVersion": params.get("EngineVersion") or version.version,
            "CacheNodeType": node_type, "CacheParameterGroupName": group,
            "Port": validation.port(int(params.get("Port") or DEFAULT_PORT))}


def operations(ident: str, params: dict[str, Any]) -> dict[str, Any]:
    """Maintenance and snapshot windows, snapshot retention, notifications, minor upgrades."""
    maintenance, snapshot = validation.default_windows(ident)
    window = params.get("SnapshotWindow") or params.get("PreferredSnapshotWindow") or snapshot
    return {"PreferredMaintenanceWindow": validation.maintenance_window(
                params.get("PreferredMaintenanceWindow") or maintenance),
            "SnapshotWindow": validation.snapshot_window(window),
            "SnapshotRetentionLimit": validation.retention(params.get("SnapshotRetentionLimit")),
            "NotificationTopicArn": params.get("NotificationTopicArn"),
            "AutoMinorVersionUpgrade": params.get("AutoMinorVersionUpgrade", True),
            "LogDeliveryConfigurations": log_delivery.requested(params.get("LogDeliveryConfigurations"),
                                                                None),
            "NetworkType": "ipv4", "IpDiscovery": "ipv4"}


def security(ctx: Ctx, owner_arn: str, params: dict[str, Any]) -> dict[str, Any]:
    """TransitEncryptionEnabled, AtRestEncryptionEnabled (+ KmsKeyId) and the sealed AuthToken."""
    transit = bool(params.get("TransitEncryptionEnabled"))
    at_rest = bool(params.get("AtRestEncryptionEnabled"))
    out: dict[str, Any] = {"TransitEncryptionEnabled": transit, "AtRestEncryptionEnabled": at_rest}
    if params.get("KmsKeyId") and not at_rest:
        raise errors.combination("KmsKeyId needs AtRestEncryptionEnabled.")
    if at_rest:
        try:
            out["KmsKeyId"] = kms.resolve_key(ctx.env, ctx.region, params.get("KmsKeyId"),
                                              default_alias=KMS_ALIAS)
        except kms.KmsError as exc:
            raise errors.fault("InvalidKMSKeyFault", f"Invalid KmsKeyId: {exc.message}") from exc
    token = params.get("AuthToken")
    if token is not None:
        validation.auth_token(token, transit)
        out["auth_token_sealed"] = shared.sealed_token(ctx, owner_arn, token)
        out["AuthTokenLastModifiedDate"] = ctx.now()
    out["auth_token_seq"] = 0
    return out


def restore_source(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """SnapshotName (must exist and be available); SnapshotArns (S3 RDB files) are not supported."""
    if params.get("SnapshotArns"):
        raise errors.not_supported("seeding from RDB files in S3 (SnapshotArns): use SnapshotName")
    name = params.get("SnapshotName")
    if not name:
        return {}
    snap: Resource = shared.get_snapshot(ctx, name)
    state = snap.status.get("state", "creating")
    if state != "available":
        raise errors.fault("InvalidSnapshotState", f"Snapshot {snap.id} is {state}, not available.")
    return {"SnapshotName": snap.id}


def refuse_unsupported(params: dict[str, Any]) -> None:
    if params.get("CacheSecurityGroupNames"):
        raise errors.not_supported("EC2-Classic cache security groups (CacheSecurityGroupNames): use "
                                   "SecurityGroupIds")
    if params.get("OutpostMode") or params.get("PreferredOutpostArn"):
        raise errors.not_supported("AWS Outposts")
    if params.get("NetworkType") not in (None, "ipv4") or params.get("IpDiscovery") not in (None, "ipv4"):
        raise errors.not_supported("IPv6 networking")
