"""Authorize/RevokeSecurityGroupIngress and Egress, DescribeSecurityGroupRules."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.common import filters
from kura.services.ec2 import defaults, records, rules, shared, views
from kura.services.ec2.shared import KIND_SG, KIND_VPC
from kura.services.registry import Ctx, operation
from kura.store.types import Resource, Store

MAX_RULES = 60  # per direction, the AWS default quota


def target(ctx: Ctx, params: dict[str, Any]) -> Resource:
    """The group a call is about: by ID, or by name in the default VPC."""
    if params.get("GroupId"):
        return records.get_group(ctx.store, ctx.region, params["GroupId"])
    if params.get("GroupName"):
        return records.group_in_default_vpc(ctx.store, ctx.region, params["GroupName"])
    raise AwsError("MissingParameter", "The request must contain the parameter groupName or groupId")


def _resolver(store: Store, account: str, group: Resource) -> rules.GroupResolver:
    vpc_id = group.spec["VpcId"]

    def resolve(pair: dict[str, Any]) -> str:
        if pair.get("UserId") and pair["UserId"] != account:
            raise AwsError("InvalidGroup.NotFound",
                           f"The security group '{pair.get('GroupId') or pair.get('GroupName')}' "
                           f"does not exist for account '{pair['UserId']}'")
        if pair.get("GroupId"):
            found = records.get_group(store, group.region, pair["GroupId"])
            if found.spec["VpcId"] != vpc_id:
                raise AwsError("InvalidGroup.NotFound",
                               "You have specified two resources that belong to different networks.")
            return found.id
        if pair.get("GroupName"):
            named = records.group_by_name(store, group.region, vpc_id, pair["GroupName"])
            if named is None:
                raise AwsError("InvalidGroup.NotFound",
                               f"The security group '{pair['GroupName']}' does not exist in VPC '{vpc_id}'")
            return named.id
        raise AwsError("MissingParameter", "The request must contain the parameter groupId or groupName")

    return resolve


def _permissions(params: dict[str, Any]) -> list[dict[str, Any]]:
    return list(params.get("IpPermissions") or []) + rules.flat_permissions(params)


def _authorize(ctx: Ctx, params: dict[str, Any], egress: bool) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    perms = _permissions(params)
    if not perms:
        raise AwsError("MissingParameter", "The request must contain the parameter ipPermissions")
    tags = shared.tag_specs(params, "security-group-rule")
    with ctx.store.transaction():
        group = target(ctx, params)
        new = rules.expand(perms, egress, _resolver(ctx.store, ctx.account, group), tags)
        current = group.spec["Rules"]
        seen = {rules.key(r) for r in current}
        for r in new:
            if rules.key(r) in seen:
                raise AwsError("InvalidPermission.Duplicate",
                               f'the specified rule "{rules.describe(r)}" already exists')
            seen.add(rules.key(r))
        if sum(1 for r in current + new if r["Egress"] == egress) > MAX_RULES:
            raise AwsError("RulesPerSecurityGroupLimitExceeded",
                           "The maximum number of rules per security group has been reached.")
        shared.dry_run(params)
        ctx.store.update(group, spec={**group.spec, "Rules": current + new})
    return {"Return": True,
            "SecurityGroupRules": [views.rule(r, group.id, ctx.region, ctx.account) for r in new]}


def _revoke(ctx: Ctx, params: dict[str, Any], egress: bool) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    perms = _permissions(params)
    ids = shared.check_ids("sgr", params.get("SecurityGroupRuleIds") or [],
                           "InvalidSecurityGroupRuleId.Malformed")
    if not perms and not ids:
        raise AwsError("MissingParameter", "The request must contain the parameter ipPermissions")
    with ctx.store.transaction():
        group = target(ctx, params)
        current = [r for r in group.spec["Rules"] if r["Egress"] == egress]
        drop = {r["Id"] for r in current if r["Id"] in ids}
        absent = [i for i in ids if i not in drop]
        if absent:
            raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                           f"The security group rule ID '{absent[0]}' does not exist")
        by_key = {rules.key(r): r for r in current}
        unknown = []
        for r in rules.expand(perms, egress, _resolver(ctx.store, ctx.account, group)):
            hit = by_key.get(rules.key(r))
            if hit is None:
                unknown.append(r)
            else:
                drop.add(hit["Id"])
        vpc = ctx.store.get(KIND_VPC, ctx.region, group.spec["VpcId"])
        # A non-default VPC refuses a revoke that misses; the default VPC reports what it missed.
        if unknown and not (vpc and vpc.spec["IsDefault"]):
            raise AwsError("InvalidPermission.NotFound",
                           "The specified rule does not exist in this security group.")
        shared.dry_run(params)
        revoked = [r for r in current if r["Id"] in drop]
        kept = [r for r in group.spec["Rules"] if r["Id"] not in drop]
        ctx.store.update(group, spec={**group.spec, "Rules": kept})
    out: dict[str, Any] = {"Return": True,
                           "RevokedSecurityGroupRules": [views.revoked_rule(r, group.id) for r in revoked]}
    if unknown:
        out["UnknownIpPermissions"] = views.permissions(unknown, ctx.account)
    return out


@operation("ec2", "AuthorizeSecurityGroupIngress")
def authorize_ingress(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _authorize(ctx, params, egress=False)


@operation("ec2", "AuthorizeSecurityGroupEgress")
def authorize_egress(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _authorize(ctx, params, egress=True)


@operation("ec2", "RevokeSecurityGroupIngress")
def revoke_ingress(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _revoke(ctx, params, egress=False)


@operation("ec2", "RevokeSecurityGroupEgress")
def revoke_egress(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _revoke(ctx, params, egress=True)


_RULE_GETTERS: dict[str, filters.Getter] = {
    "group-id": lambda pair: pair[0].id,
    "security-group-rule-id": lambda pair: pair[1]["Id"],
}


@operation("ec2", "DescribeSecurityGroupRules")
def describe_rules(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    ids = shared.check_ids("sgr", params.get("SecurityGroupRuleIds") or [],
                           "InvalidSecurityGroupRuleId.Malformed")
    shared.dry_run(params)
    pairs = [(g, r) for g in ctx.store.list(KIND_SG, ctx.region) for r in g.spec["Rules"]]
    if ids:
        absent = [i for i in ids if i not in {r["Id"] for _, r in pairs}]
        if absent:
            raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                           f"The security group rule ID '{absent[0]}' does not exist")
        pairs = [(g, r) for g, r in pairs if r["Id"] in ids]
    pairs = filters.apply(pairs, params.get("Filters"), _RULE_GETTERS,
                           wildcards=True, unknown_message=filters.EC2_UNKNOWN,
                          tags=lambda pair: dict(pair[1].get("Tags") or {}))
    items, token = shared.page(pairs, lambda pair: pair[1]["Id"], params)
    found = [views.rule(r, g.id, ctx.region, ctx.account) for g, r in items]
    return shared.with_token({"SecurityGroupRules": found}, token)
