"""CreateDBSubnetGroup, DescribeDBSubnetGroups, ModifyDBSubnetGroup, DeleteDBSubnetGroup.

Subnets come from EC2 (kura/services/ec2/lookup.py); while a group lists a subnet, EC2 refuses to
delete that subnet. The `default` group (the default VPC's default subnets) is made on first use.
"""

from __future__ import annotations

import re
from typing import Any

from kura.services.common import filters
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.ec2 import lookup
from kura.services.rds import errors, group_views, shared
from kura.services.rds.records import KIND_INSTANCE, KIND_SUBNET_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import AlreadyExists, Resource, Store

DEFAULT = "default"
_NAME = re.compile(r"^[a-z0-9._ -]{1,255}$")


def check_name(name: str) -> str:
    lowered = name.lower()
    if not _NAME.match(lowered):
        raise errors.invalid("The parameter DBSubnetGroupName is not a valid identifier: use 1 to 255 "
                             "letters, digits, periods, underscores, spaces, or hyphens.")
    return lowered


def _subnets(ctx: Ctx, ids: list[str]) -> list[lookup.Subnet]:
    """The subnets, all in one VPC, covering at least two zones, or RDS's fault."""
    try:
        found = lookup.get_subnets(ctx.store, ctx.region, ids)
    except lookup.NetworkLookupError as exc:
        raise errors.fault("InvalidSubnet",
                           f"Some input subnets in :[{', '.join(exc.missing)}] are invalid.") from exc
    vpcs = sorted({s.vpc_id for s in found})
    if len(vpcs) > 1:
        raise errors.fault("InvalidSubnet", "The subnets of a DB subnet group must be in one VPC; these "
                                            f"are in {', '.join(vpcs)}.")
    zones = sorted({s.availability_zone for s in found})
    if len(zones) < 2:
        raise errors.fault(
            "DBSubnetGroupDoesNotCoverEnoughAZs",
            "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
            f"Current AZ coverage: {', '.join(zones)}. Add subnets to cover at least 2 AZs.")
    return found


def get(ctx: Ctx, name: str) -> Resource:
    res = ctx.store.get(KIND_SUBNET_GROUP, ctx.region, name.lower())
    if res is None:
        raise errors.subnet_group_not_found(name)
    return res


def ensure_default(ctx: Ctx) -> Resource:
    """The `default` group, made of the default VPC's default subnets, created on first use as RDS does."""
    found = ctx.store.get(KIND_SUBNET_GROUP, ctx.region, DEFAULT)
    if found is not None:
        return found
    vpc = lookup.default_vpc(ctx.store, ctx.region)
    subnets = lookup.default_subnets(ctx.store, ctx.region)
    if vpc is None or not subnets:
        raise errors.fault("InvalidVPCNetworkStateFault",
                           "There is no default VPC in this region: specify a DBSubnetGroupName.")
    spec = {"DBSubnetGroupName": DEFAULT, "DBSubnetGroupDescription": DEFAULT, "VpcId": vpc.id,
            "SubnetIds": [s.id for s in subnets], "Tags": {}}
    try:
        return ctx.store.create(KIND_SUBNET_GROUP, ctx.region, DEFAULT, spec)
    except AlreadyExists:
        return get(ctx, DEFAULT)


def users(store: Store, region: str, name: str) -> list[str]:
    """Instances placed in the group."""
    return sorted(r.id for r in store.list(KIND_INSTANCE, region) if r.spec.get("DBSubnetGroupName") == name)


@operation("rds", "CreateDBSubnetGroup")
def create_db_subnet_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["DBSubnetGroupName"])
    if name == DEFAULT:
        raise errors.invalid("DBSubnetGroupName must not be \"default\": RDS manages that group itself.")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        subnets = _subnets(ctx, list(params["SubnetIds"]))
        spec = {"DBSubnetGroupName": name, "DBSubnetGroupDescription": params["DBSubnetGroupDescription"],
                "VpcId": subnets[0].vpc_id, "SubnetIds": [s.id for s in subnets], "Tags": tags}
        try:
            res = ctx.store.create(KIND_SUBNET_GROUP, ctx.region, name, spec)
        except AlreadyExists as exc:
            raise errors.fault("DBSubnetGroupAlreadyExists",
                               f"The DB subnet group '{name}' already exists.") from exc
        shared.record(ctx, KIND_SUBNET_GROUP, name, "DB subnet group created", "configuration change")
    return {"DBSubnetGroup": group_views.subnet_group(res, ctx.account, ctx.store)}


@operation("rds", "DescribeDBSubnetGroups")
def describe_db_subnet_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    found = ctx.store.list(KIND_SUBNET_GROUP, ctx.region)
    name = params.get("DBSubnetGroupName")
    if name is not None:
        found = [get(ctx, name)]
    # RDS accepts Filters here but documents none; an unknown name is refused like elsewhere.
    found = filters.apply(found, params.get("Filters"), {})
    page, marker = rds_page(found, lambda r: r.id, params)
    groups = [group_views.subnet_group(r, ctx.account, ctx.store) for r in page]
    return shared.with_marker({"DBSubnetGroups": groups}, marker)


@operation("rds", "ModifyDBSubnetGroup")
def modify_db_subnet_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = get(ctx, params["DBSubnetGroupName"])
        subnets = _subnets(ctx, list(params["SubnetIds"]))
        if subnets[0].vpc_id != res.spec["VpcId"] and users(ctx.store, ctx.region, res.id):
            raise errors.fault("InvalidDBSubnetGroupStateFault",
                               f"The DB subnet group {res.id} is in use: its subnets can't move to "
                               "another VPC.")
        _check_zones_in_use(ctx, res, subnets)
        spec = {**res.spec, "VpcId": subnets[0].vpc_id, "SubnetIds": [s.id for s in subnets]}
        if params.get("DBSubnetGroupDescription") is not None:
            spec["DBSubnetGroupDescription"] = params["DBSubnetGroupDescription"]
        res = ctx.store.update(res, spec=spec)
        shared.record(ctx, KIND_SUBNET_GROUP, res.id, "DB subnet group modified", "configuration change")
    return {"DBSubnetGroup": group_views.subnet_group(res, ctx.account, ctx.store)}


def _check_zones_in_use(ctx: Ctx, res: Resource, subnets: list[lookup.Subnet]) -> None:
    """An instance keeps its zone: the group must still have a subnet there."""
    zones = {s.availability_zone for s in subnets}
    for inst in ctx.store.list(KIND_INSTANCE, ctx.region):
        if inst.spec.get("DBSubnetGroupName") == res.id and inst.spec.get("AvailabilityZone") not in zones:
            raise errors.fault("SubnetAlreadyInUse",
                               f"DB instance {inst.id} uses the subnet in "
                               f"{inst.spec.get('AvailabilityZone')}; keep a subnet in that zone.")


@operation("rds", "DeleteDBSubnetGroup")
def delete_db_subnet_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = get(ctx, params["DBSubnetGroupName"])
        in_use = users(ctx.store, ctx.region, res.id)
        if in_use:
            raise errors.fault("InvalidDBSubnetGroupStateFault",
                               f"Cannot delete the subnet group '{res.id}' because at least one database "
                               f"instance: {in_use[0]} is still using it.")
        ctx.store.delete(res)
        shared.record(ctx, KIND_SUBNET_GROUP, res.id, "DB subnet group deleted", "configuration change")
    return {}


def _subnet_dependents(store: Store, region: str, resource_id: str) -> str | None:
    """EC2 asks before deleting a subnet or VPC: does a DB subnet group use it?"""
    for res in store.list(KIND_SUBNET_GROUP, region):
        if resource_id in (res.spec.get("SubnetIds") or []) or resource_id == res.spec.get("VpcId"):
            return f"DB subnet group {res.id}"
    return None


lookup.register_dependents(_subnet_dependents)
