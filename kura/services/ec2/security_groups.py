"""CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup."""

from __future__ import annotations

import re
from typing import Any

from kura.api.errors import AwsError
from kura.services.common import filters
from kura.services.ec2 import defaults, records, shared, views
from kura.services.ec2.rule_ops import target
from kura.services.ec2.shared import KIND_SG
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

# The characters AWS allows in VPC security group names and descriptions.
_ALLOWED = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$")


def _check_text(value: str, param: str) -> None:
    if len(value) > 255:
        raise AwsError("InvalidParameterValue",
                       f"Value ({value}) for parameter {param} is invalid. Maximum length is 255 characters.")
    if not _ALLOWED.match(value):
        raise AwsError("InvalidParameterValue",
                       f"Value ({value}) for parameter {param} is invalid. Character sets beyond ASCII "
                       "a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$* are not supported.")


def _vpc_id(ctx: Ctx, params: dict[str, Any]) -> str:
    if params.get("VpcId"):
        return records.get_vpc(ctx.store, ctx.region, params["VpcId"], malformed_is_missing=True).id
    found = records.default_vpc_id(ctx.store, ctx.region)
    if found is None:
        raise AwsError("VPCIdNotSpecified", "No default VPC for this user")
    return found


@operation("ec2", "CreateSecurityGroup")
def create_security_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    name, description = params["GroupName"], params["Description"]
    if not name:
        raise AwsError("InvalidParameterValue", "Value () for parameter groupName is invalid. Empty string.")
    if name.lower().startswith("sg-"):
        raise AwsError("InvalidParameterValue",
                       f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the "
                       "format sg-*.")
    _check_text(name, "GroupName")
    _check_text(description, "GroupDescription")
    tags = shared.tag_specs(params, "security-group")
    with ctx.store.transaction():
        vpc_id = _vpc_id(ctx, params)
        if records.group_by_name(ctx.store, ctx.region, vpc_id, name) is not None:
            raise AwsError("InvalidGroup.Duplicate",
                           f"The security group '{name}' already exists for VPC '{vpc_id}'")
        shared.dry_run(params)
        group_id = shared.new_id("sg")
        # A new group may send anywhere and receive nothing, until rules say otherwise.
        egress = records.rule(True, records.ALL, -1, -1, {"CidrIpv4": "0.0.0.0/0"})
        ctx.store.create(KIND_SG, ctx.region, group_id,
                         records.group_spec(name, description, vpc_id, tags, [egress]))
    out = {"GroupId": group_id, "SecurityGroupArn": views.group_arn(ctx.region, ctx.account, group_id)}
    return shared.put_tags(out, tags)


def _rule_values(egress: bool, pick: Any) -> filters.Getter:
    def get(g: Resource) -> list[str]:
        values = (pick(r) for r in g.spec["Rules"] if r["Egress"] == egress)
        return [str(v) for v in values if v is not None]

    return get


def _getters(account: str, names: dict[str, str]) -> dict[str, filters.Getter]:
    getters: dict[str, filters.Getter] = {
        "group-id": lambda g: g.id,
        "group-name": lambda g: g.spec["GroupName"],
        "description": lambda g: g.spec["Description"],
        "vpc-id": lambda g: g.spec["VpcId"],
        "owner-id": lambda g: account,
    }
    for prefix, egress in (("ip-permission.", False), ("egress.ip-permission.", True)):
        getters.update({
            prefix + "cidr": _rule_values(egress, lambda r: r.get("CidrIpv4")),
            prefix + "ipv6-cidr": _rule_values(egress, lambda r: r.get("CidrIpv6")),
            prefix + "prefix-list-id": _rule_values(egress, lambda r: r.get("PrefixListId")),
            prefix + "group-id": _rule_values(egress, lambda r: r.get("GroupId")),
            prefix + "group-name": _rule_values(egress, lambda r: names.get(r.get("GroupId", ""))),
            prefix + "user-id": _rule_values(egress, lambda r: account if "GroupId" in r else None),
            prefix + "protocol": _rule_values(egress, lambda r: r["Protocol"]),
            prefix + "from-port": _rule_values(egress, lambda r: r["FromPort"]),
            prefix + "to-port": _rule_values(egress, lambda r: r["ToPort"]),
        })
    return getters


def _select(ctx: Ctx, found: list[Resource], params: dict[str, Any]) -> list[Resource]:
    """GroupIds and GroupNames (names: default VPC only); every one asked for must exist."""
    ids = shared.check_ids("sg", params.get("GroupIds") or [], "InvalidGroupId.Malformed")
    names = params.get("GroupNames") or []
    if not ids and not names:
        return found
    known = {g.id for g in found}
    absent = [i for i in ids if i not in known]
    if absent:
        raise records.group_missing(absent)
    by_name = {records.group_in_default_vpc(ctx.store, ctx.region, n).id for n in names}
    return [g for g in found if g.id in ids or g.id in by_name]


def _by_ids(ctx: Ctx, params: dict[str, Any]) -> list[Resource] | None:
    """Direct reads when only GroupIds are asked: no need to decode every group of the region."""
    if params.get("GroupNames") or params.get("Filters") or not params.get("GroupIds"):
        return None
    ids = list(dict.fromkeys(shared.check_ids("sg", params["GroupIds"], "InvalidGroupId.Malformed")))
    got = [ctx.store.get(KIND_SG, ctx.region, i) for i in ids]
    absent = [i for i, g in zip(ids, got, strict=True) if g is None]
    if absent:
        raise records.group_missing(absent)
    return [g for g in got if g is not None]


@operation("ec2", "DescribeSecurityGroups")
def describe_security_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    found = _by_ids(ctx, params)
    if found is None:
        everything = ctx.store.list(KIND_SG, ctx.region)
        found = _select(ctx, everything, params)
        names = {g.id: g.spec["GroupName"] for g in everything}
        found = filters.apply(found, params.get("Filters"), _getters(ctx.account, names),
                              wildcards=True, unknown_message=filters.EC2_UNKNOWN,
                              tags=lambda g: shared.tags_of(g.spec))
    shared.dry_run(params)
    items, token = shared.page(found, lambda g: g.id, params)
    return shared.with_token({"SecurityGroups": [views.group(g, ctx.account) for g in items]}, token)


@operation("ec2", "DeleteSecurityGroup")
def delete_security_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    with ctx.store.transaction():
        group = target(ctx, params)
        if group.spec["GroupName"] == "default":
            raise AwsError("CannotDelete",
                           f'the specified group: "{group.id}" name: "default" cannot be deleted by a user')
        referenced = any(r.get("GroupId") == group.id for other in ctx.store.list(KIND_SG, ctx.region)
                         if other.id != group.id for r in other.spec["Rules"])
        if referenced or records.dependents(ctx.store, ctx.region, group.id):
            raise AwsError("DependencyViolation", f"resource {group.id} has a dependent object")
        shared.dry_run(params)
        ctx.store.delete(group)
    return {"Return": True, "GroupId": group.id}
