"""Where an instance lives: subnet group, Availability Zone, VPC security groups."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kura.services.ec2 import lookup
from kura.services.rds import errors, group_views, subnet_groups
from kura.services.rds.records import KIND_INSTANCE
from kura.services.registry import Ctx
from kura.store.types import Resource, Store


def placement(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """DBSubnetGroupName, AvailabilityZone, VpcSecurityGroupIds and PubliclyAccessible of a new instance."""
    name = params.get("DBSubnetGroupName")
    group = subnet_groups.get(ctx, name) if name else subnet_groups.ensure_default(ctx)
    zones = sorted({s.availability_zone for s in group_views.subnets(ctx.store, ctx.region,
                                                                     list(group.spec["SubnetIds"]))})
    zone = params.get("AvailabilityZone")
    if zone is not None:
        if params.get("MultiAZ"):
            raise errors.combination(
                "Requesting a specific availability zone is not valid for Multi-AZ instances.")
        check_zone(ctx, zone, zones, group.id)
    else:
        zone = least_used_zone(ctx.store, ctx.region, zones)
    vpc_id = str(group.spec["VpcId"])
    groups = security_groups(ctx, params.get("VpcSecurityGroupIds"), vpc_id)
    public = params.get("PubliclyAccessible")
    if public is None:
        public = not name  # RDS makes instances in the default VPC public unless told otherwise
    return {"DBSubnetGroupName": group.id, "AvailabilityZone": zone, "VpcSecurityGroupIds": groups,
            "PubliclyAccessible": bool(public)}


def check_zone(ctx: Ctx, zone: str, zones: list[str], group: str) -> None:
    if zone not in lookup.availability_zones(ctx.region):
        raise errors.invalid(f"Invalid availability zone: {zone} is not a zone of {ctx.region}.")
    if zone not in zones:
        raise errors.combination(f"No subnets found for the availability zone {zone} in DB subnet group "
                                 f"{group}: use one of {', '.join(zones)}.")


def least_used_zone(store: Store, region: str, zones: list[str]) -> str:
    used = Counter(r.spec.get("AvailabilityZone") for r in store.list(KIND_INSTANCE, region))
    return min(zones, key=lambda z: (used[z], z))


def security_groups(ctx: Ctx, ids: list[str] | None, vpc_id: str) -> list[str]:
    """The groups asked for (all in the instance's VPC), or the VPC's default group."""
    if not ids:
        try:
            return [lookup.default_security_group(ctx.store, ctx.region, vpc_id).id]
        except lookup.NetworkLookupError:
            return []
    try:
        found = lookup.get_security_groups(ctx.store, ctx.region, ids)
    except lookup.NetworkLookupError as exc:
        missing = exc.missing[0]
        raise errors.invalid(f"Invalid security group, groupId= {missing}, groupName=. "
                             f"No security group {missing} exists in {ctx.region}.") from exc
    for group in found:
        if group.vpc_id != vpc_id:
            raise errors.combination(
                "The DB instance and EC2 security group are in different VPCs. The DB instance is in "
                f"{vpc_id} and the EC2 security group is in {group.vpc_id}")
    return [g.id for g in found]


def vpc_of(ctx: Ctx, res: Resource) -> str:
    group = subnet_groups.get(ctx, res.spec["DBSubnetGroupName"])
    return str(group.spec["VpcId"])


def _dependents(store: Store, region: str, resource_id: str) -> str | None:
    """EC2 asks before deleting a security group: does a DB instance use it?"""
    for res in store.list(KIND_INSTANCE, region):
        if resource_id in (res.spec.get("VpcSecurityGroupIds") or []):
            return f"DB instance {res.id}"
    return None


lookup.register_dependents(_dependents)
