"""ModifyReplicationGroup and TestFailover: desired-state changes of a replication group.

Settings the members carry (node type, parameter group, security groups, engine version) are written on
every member too, so each member shows `modifying` until its reconciler carried the change out. A
planned failover (TestFailover, or PrimaryClusterId) is `failover_seq` + 1; the replication-group
reconciler promotes `failover_target` when set, else the replica it elects.
"""

from __future__ import annotations

from typing import Any

from kura.services.elasticache import (
    catalogue,
    errors,
    log_delivery,
    parameter_groups,
    replication_groups,
    shared,
    subnet_groups,
    validation,
    views,
)
from kura.services.elasticache.cluster_lifecycle import auth_token_change, scaling
from kura.services.elasticache.records import KIND_REPLICATION_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

NODE_GROUP = "0001"


def available(ctx: Ctx, res: Resource, action: str) -> list[Resource]:
    """The members of `res`, after checking that the group is available."""
    members = views.members_of(ctx.store, res)
    state = views.group_status(res.spec, res.status, members)
    if state != "available":
        raise errors.group_state(f"Cannot {action} replication group {res.id}: its status is {state}, "
                                 "not available.")
    return members


def _refuse(params: dict[str, Any]) -> None:
    for key in ("CacheSecurityGroupNames", "UserGroupIdsToAdd", "UserGroupIdsToRemove", "NodeGroupId",
                "ClusterMode"):
        if params.get(key):
            raise errors.not_supported(f"{key} in ModifyReplicationGroup")


def _member_settings(ctx: Ctx, spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """What members carry: parameter group and security groups now; node type and engine version now with
    ApplyImmediately, else as PendingModifiedValues."""
    out: dict[str, Any] = {}
    if params.get("CacheParameterGroupName"):
        family = catalogue.resolve_version(ctx.store, spec.get("EngineVersion")).family
        out["CacheParameterGroupName"] = parameter_groups.for_cluster(ctx, params["CacheParameterGroupName"],
                                                                      family)
    if params.get("SecurityGroupIds"):
        vpc = subnet_groups.get(ctx, spec["CacheSubnetGroupName"]).spec["VpcId"]
        out["SecurityGroupIds"] = subnet_groups.security_groups(ctx, params["SecurityGroupIds"], str(vpc))
    out.update(scaling(ctx, spec, params))
    return out


def _group_settings(spec: dict[str, Any], params: dict[str, Any], count: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("AutomaticFailoverEnabled", "MultiAZEnabled"):
        if params.get(key) is not None:
            out[key] = bool(params[key])
    failover = out.get("AutomaticFailoverEnabled", bool(spec.get("AutomaticFailoverEnabled")))
    multi_az = out.get("MultiAZEnabled", bool(spec.get("MultiAZEnabled")))
    if out:
        replication_groups.check_failover(count, failover, multi_az)
    if params.get("ReplicationGroupDescription") is not None:
        out["ReplicationGroupDescription"] = params["ReplicationGroupDescription"]
    if params.get("PreferredMaintenanceWindow"):
        window = params["PreferredMaintenanceWindow"]
        out["PreferredMaintenanceWindow"] = validation.maintenance_window(window)
    if params.get("SnapshotWindow"):
        out["SnapshotWindow"] = validation.snapshot_window(params["SnapshotWindow"])
    if params.get("SnapshotRetentionLimit") is not None:
        out["SnapshotRetentionLimit"] = validation.retention(params["SnapshotRetentionLimit"])
    snapshotting = params.get("SnapshottingClusterId")
    if snapshotting and snapshotting not in (spec.get("members") or []):
        raise errors.invalid(f"SnapshottingClusterId {snapshotting} is not a member.")
    for key in ("SnapshottingClusterId", "AutoMinorVersionUpgrade", "NotificationTopicArn"):
        if params.get(key) is not None:
            out[key] = params[key]
    if params.get("LogDeliveryConfigurations") is not None:
        out["LogDeliveryConfigurations"] = log_delivery.requested(params["LogDeliveryConfigurations"],
                                                                  spec.get("LogDeliveryConfigurations"))
    return out


def _primary_change(res: Resource, params: dict[str, Any]) -> dict[str, Any]:
    target = params.get("PrimaryClusterId")
    if not target:
        return {}
    target = str(target).lower()
    if target not in (res.spec.get("members") or []):
        raise errors.invalid(f"PrimaryClusterId {target} is not a member of replication group {res.id}.")
    if target == str(res.status.get("primary") or res.spec["members"][0]):
        return {}
    return {"failover_seq": int(res.spec.get("failover_seq") or 0) + 1, "failover_target": target}


@operation("elasticache", "ModifyReplicationGroup")
def modify_replication_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _refuse(params)
    with ctx.store.transaction():
        res = shared.get_group(ctx, params["ReplicationGroupId"])
        members = available(ctx, res, "modify")
        for_members = _member_settings(ctx, res.spec, params)
        group = _group_settings(res.spec, params, len(members))
        owner = shared.arn(ctx, KIND_REPLICATION_GROUP, res.id)
        changes = {**for_members, **group, **auth_token_change(ctx, res.spec, owner, params),
                   **_primary_change(res, params)}
        if not changes:
            raise errors.invalid("No modifications were requested.")
        for member in members if for_members else []:
            ctx.store.update(member, spec={**member.spec, **for_members})
        res = ctx.store.update(res, spec={**res.spec, **changes})
        shared.record(ctx, KIND_REPLICATION_GROUP, res.id, "Replication group modification requested",
                      "configuration change")
    return {"ReplicationGroup": views.replication_group(res, ctx.account, ctx.store)}


@operation("elasticache", "TestFailover")
def test_failover(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_group(ctx, params["ReplicationGroupId"])
        if params["NodeGroupId"] != NODE_GROUP:
            raise errors.fault("NodeGroupNotFoundFault", f"Node group {params['NodeGroupId']} not found: "
                                                         f"replication group {res.id} has node group 0001.")
        if not res.spec.get("AutomaticFailoverEnabled"):
            raise errors.group_state(f"Replication group {res.id} does not have automatic failover enabled: "
                                     "TestFailover needs it.")
        if int(res.spec.get("failover_seq") or 0) > int(res.status.get("failover_seq") or 0):
            raise errors.fault("TestFailoverNotAvailableFault",
                               f"A failover of replication group {res.id} is already in progress.")
        available(ctx, res, "test failover of")
        seq = int(res.spec.get("failover_seq") or 0) + 1
        res = ctx.store.update(res, spec={**res.spec, "failover_seq": seq, "failover_target": None})
        shared.record(ctx, KIND_REPLICATION_GROUP, res.id,
                      f"Test Failover API called for node group {NODE_GROUP}", "failover")
    return {"ReplicationGroup": views.replication_group(res, ctx.account, ctx.store)}
