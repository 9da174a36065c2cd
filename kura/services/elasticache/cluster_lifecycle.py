"""ModifyCacheCluster, RebootCacheCluster and DeleteCacheCluster: desired-state changes only."""

from __future__ import annotations

from typing import Any

from kura.services.elasticache import (
    catalogue,
    errors,
    log_delivery,
    parameter_groups,
    shared,
    subnet_groups,
    validation,
    views,
)
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_SNAPSHOT
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

TOKEN_STRATEGIES = ("SET", "ROTATE", "DELETE")


def _available(res: Resource, action: str) -> None:
    state = views.cluster_status(res.spec, res.status)
    if state != "available":
        raise errors.cluster_state(f"Cannot {action} cache cluster {res.id}: its status is {state}, "
                                   "not available.")


def scaling(ctx: Ctx, spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """CacheNodeType and EngineVersion (of a cache cluster or a replication group's members): now with
    ApplyImmediately, else as PendingModifiedValues for the maintenance window."""
    changes: dict[str, Any] = {}
    if params.get("CacheNodeType"):
        changes["CacheNodeType"] = validation.node_type(params["CacheNodeType"])
    if params.get("EngineVersion"):
        version = catalogue.resolve_version(ctx.store, params["EngineVersion"])
        if version.family != catalogue.resolve_version(ctx.store, spec.get("EngineVersion")).family:
            raise errors.invalid("kura upgrades within the installed major only.")
        changes["EngineVersion"] = params["EngineVersion"]
    if params.get("ApplyImmediately") or not changes:
        return changes
    return {"PendingModifiedValues": {**(spec.get("PendingModifiedValues") or {}), **changes}}


def _scaling(ctx: Ctx, spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    if params.get("NumCacheNodes") not in (None, 1):
        raise errors.invalid("A Redis cache cluster has exactly 1 node: use a replication group for "
                             "replicas.")
    return scaling(ctx, spec, params)


def _settings(ctx: Ctx, res: Resource, params: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = res.spec
    out: dict[str, Any] = {}
    if params.get("CacheParameterGroupName"):
        family = catalogue.resolve_version(ctx.store, spec.get("EngineVersion")).family
        out["CacheParameterGroupName"] = parameter_groups.for_cluster(ctx, params["CacheParameterGroupName"],
                                                                      family)
    if params.get("SecurityGroupIds"):
        vpc = subnet_groups.get(ctx, spec["CacheSubnetGroupName"]).spec["VpcId"]
        out["SecurityGroupIds"] = subnet_groups.security_groups(ctx, params["SecurityGroupIds"], str(vpc))
    if params.get("PreferredMaintenanceWindow"):
        window = params["PreferredMaintenanceWindow"]
        out["PreferredMaintenanceWindow"] = validation.maintenance_window(window)
    if params.get("SnapshotWindow"):
        out["SnapshotWindow"] = validation.snapshot_window(params["SnapshotWindow"])
    if params.get("SnapshotRetentionLimit") is not None:
        out["SnapshotRetentionLimit"] = validation.retention(params["SnapshotRetentionLimit"])
    for key in ("AutoMinorVersionUpgrade", "NotificationTopicArn"):
        if params.get(key) is not None:
            out[key] = params[key]
    if params.get("LogDeliveryConfigurations") is not None:
        out["LogDeliveryConfigurations"] = log_delivery.requested(params["LogDeliveryConfigurations"],
                                                                  spec.get("LogDeliveryConfigurations"))
    return out


def auth_token_change(ctx: Ctx, spec: dict[str, Any], owner_arn: str, params: dict[str, Any]
                      ) -> dict[str, Any]:
    """AuthToken with AuthTokenUpdateStrategy (SET, ROTATE — the default —, DELETE)."""
    token, strategy = params.get("AuthToken"), params.get("AuthTokenUpdateStrategy")
    if token is None and strategy is None:
        return {}
    strategy = strategy or "ROTATE"
    if strategy not in TOKEN_STRATEGIES:
        raise errors.invalid(f"Invalid AuthTokenUpdateStrategy {strategy}: use SET, ROTATE or DELETE.")
    if strategy == "DELETE":
        if token is not None:
            raise errors.combination("AuthTokenUpdateStrategy DELETE takes no AuthToken.")
        if not spec.get("auth_token_sealed"):
            raise errors.invalid("There is no AUTH token to delete.")
        out: dict[str, Any] = {"auth_token_sealed": None}
    else:
        if token is None:
            raise errors.combination(f"AuthTokenUpdateStrategy {strategy} needs an AuthToken.")
        validation.auth_token(token, bool(spec.get("TransitEncryptionEnabled")))
        out = {"auth_token_sealed": shared.sealed_token(ctx, owner_arn, token)}
    out["auth_token_previous_sealed"] = spec.get("auth_token_sealed") if strategy == "ROTATE" else None
    out.update(auth_token_strategy=strategy, AuthTokenLastModifiedDate=ctx.now(),
               auth_token_seq=int(spec.get("auth_token_seq", 0)) + 1)
    return out


@operation("elasticache", "ModifyCacheCluster")
def modify_cache_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("CacheSecurityGroupNames") or params.get("CacheNodeIdsToRemove"):
        raise errors.not_supported("CacheSecurityGroupNames or CacheNodeIdsToRemove on Redis clusters")
    with ctx.store.transaction():
        res = shared.get_cluster(ctx, params["CacheClusterId"])
        _available(res, "modify")
        if res.spec.get("ReplicationGroupId") and (params.get("CacheNodeType") or params.get("AuthToken")):
            raise errors.combination(f"Cache cluster {res.id} is a member of replication group "
                                     f"{res.spec['ReplicationGroupId']}: use ModifyReplicationGroup.")
        changes = {**_scaling(ctx, res.spec, params), **_settings(ctx, res, params),
                   **auth_token_change(ctx, res.spec, shared.arn(ctx, KIND_CACHE_CLUSTER, res.id), params)}
        res = ctx.store.update(res, spec={k: v for k, v in {**res.spec, **changes}.items() if v is not None})
        shared.record(ctx, KIND_CACHE_CLUSTER, res.id, "Cache cluster modification requested",
                      "configuration change")
    return {"CacheCluster": views.cluster(res, ctx.account)}


@operation("elasticache", "RebootCacheCluster")
def reboot_cache_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_cluster(ctx, params["CacheClusterId"])
        unknown = [n for n in params.get("CacheNodeIdsToReboot") or [] if n != "0001"]
        if unknown:
            raise errors.invalid(f"Unknown cache node id {unknown[0]}: this cluster has node 0001.")
        _available(res, "reboot")
        res = ctx.store.update(res, spec={**res.spec, "reboot_seq": int(res.spec.get("reboot_seq", 0)) + 1})
        shared.record(ctx, KIND_CACHE_CLUSTER, res.id, "Cache cluster reboot requested", "maintenance")
    return {"CacheCluster": views.cluster(res, ctx.account)}


def check_snapshot_name(ctx: Ctx, name: str | None) -> str | None:
    if name is None:
        return None
    ident = shared.check_identifier(name, "FinalSnapshotIdentifier", max_len=255)
    if ctx.store.get(KIND_SNAPSHOT, ctx.region, ident) is not None:
        raise errors.fault("SnapshotAlreadyExistsFault", f"Snapshot {ident} already exists.")
    return ident


@operation("elasticache", "DeleteCacheCluster")
def delete_cache_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_cluster(ctx, params["CacheClusterId"])
        if res.spec.get("ReplicationGroupId"):
            raise errors.cluster_state(f"Cache cluster {res.id} is a member of replication group "
                                       f"{res.spec['ReplicationGroupId']}: use DecreaseReplicaCount or "
                                       "DeleteReplicationGroup.")
        state = views.cluster_status(res.spec, res.status)
        if state in ("deleting", "creating", "rebooting cache cluster nodes", "modifying"):
            raise errors.cluster_state(f"Cache cluster {res.id} is {state}: it can't be deleted now.")
        final = check_snapshot_name(ctx, params.get("FinalSnapshotIdentifier"))
        res = ctx.store.update(res, spec={**res.spec, "desired": "deleted", "final_snapshot": final})
        shared.record(ctx, KIND_CACHE_CLUSTER, res.id, "Cache cluster deletion requested", "deletion")
    return {"CacheCluster": views.cluster(res, ctx.account)}
