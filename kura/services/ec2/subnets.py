"""CreateSubnet, DescribeSubnets, DeleteSubnet."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.common import filters
from kura.services.ec2 import cidrs, defaults, records, shared, views, zones
from kura.services.ec2.shared import KIND_SUBNET
from kura.services.registry import Ctx, operation
from kura.store.types import Resource, Store


def _zone(store: Store, region: str, vpc_id: str, params: dict[str, Any]) -> str:
    """The zone asked for by name or ID; without either, the zone where the VPC has fewest subnets."""
    name, zone_id = params.get("AvailabilityZone"), params.get("AvailabilityZoneId")
    known = zones.zones(region)
    allowed = ", ".join(z.name for z in known)
    chosen: zones.Zone | None = None
    if name is not None:
        chosen = zones.by_name(region, name)
        if chosen is None:
            raise AwsError("InvalidParameterValue",
                           f"Value ({name}) for parameter availabilityZone is invalid. Subnets can currently "
                           f"only be created in the following availability zones: {allowed}.")
    if zone_id is not None:
        by_id = zones.by_id(region, zone_id)
        if by_id is None or (chosen is not None and by_id != chosen):
            raise AwsError("InvalidParameterValue",
                           f"Value ({zone_id}) for parameter availabilityZoneId is invalid. Subnets can "
                           f"currently only be created in the following availability zones: {allowed}.")
        chosen = by_id
    if chosen is None:
        used = [s.spec["AvailabilityZone"] for s in records.subnets_of(store, region, vpc_id)]
        chosen = min(known, key=lambda z: used.count(z.name))
    return chosen.name


@operation("ec2", "CreateSubnet")
def create_subnet(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    if params.get("Ipv6CidrBlock") or params.get("Ipv6Native") or params.get("Ipv6IpamPoolId"):
        raise AwsError("InvalidParameterValue", "kura does not implement IPv6 subnets.")
    if params.get("Ipv4IpamPoolId") or params.get("OutpostArn"):
        raise AwsError("InvalidParameterValue", "kura does not implement IPAM pools or Outposts.")
    text = params.get("CidrBlock")
    if not text:
        raise AwsError("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
    tags = shared.tag_specs(params, "subnet")
    with ctx.store.transaction():
        # A parent VPC that can't be found is NotFound whatever its ID looks like, as AWS answers.
        vpc = records.get_vpc(ctx.store, ctx.region, params["VpcId"], malformed_is_missing=True)
        siblings = [s.spec["CidrBlock"] for s in records.subnets_of(ctx.store, ctx.region, vpc.id)]
        block = cidrs.subnet_block(text, vpc.spec["CidrBlock"], siblings)
        zone = _zone(ctx.store, ctx.region, vpc.id, params)
        shared.dry_run(params)
        spec = records.subnet_spec(vpc.id, str(block), zone, tags=tags)
        res = ctx.store.create(KIND_SUBNET, ctx.region, shared.new_id("subnet"), spec)
    return {"Subnet": views.subnet(res, ctx.account)}


def _getters(account: str) -> dict[str, filters.Getter]:
    def zone_id(s: Resource) -> str:
        zone = zones.by_name(s.region, s.spec["AvailabilityZone"])
        return zone.zone_id if zone else ""

    getters: dict[str, filters.Getter] = {
        "subnet-id": lambda s: s.id,
        "vpc-id": lambda s: s.spec["VpcId"],
        "cidr-block": lambda s: s.spec["CidrBlock"],
        "availability-zone": lambda s: s.spec["AvailabilityZone"],
        "availability-zone-id": zone_id,
        "available-ip-address-count": lambda s: str(cidrs.available_addresses(s.spec["CidrBlock"])),
        "default-for-az": lambda s: shared.flag(s.spec["DefaultForAz"]),
        "map-public-ip-on-launch": lambda s: shared.flag(s.spec["MapPublicIpOnLaunch"]),
        "owner-id": lambda s: account,
        "state": lambda s: "available",
        "subnet-arn": lambda s: f"arn:aws:ec2:{s.region}:{account}:subnet/{s.id}",
        "ipv6-native": lambda s: "false",
    }
    # EC2 keeps the older camelCase spellings of several subnet filters working.
    aliases = (("cidr", "cidr-block"), ("cidrBlock", "cidr-block"), ("defaultForAz", "default-for-az"),
               ("availabilityZone", "availability-zone"), ("vpcId", "vpc-id"), ("subnetId", "subnet-id"),
               ("availableIpAddressCount", "available-ip-address-count"))
    for alias, name in aliases:
        getters[alias] = getters[name]
    return getters


@operation("ec2", "DescribeSubnets")
def describe_subnets(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    ids = shared.check_ids("subnet", params.get("SubnetIds") or [], "InvalidSubnetID.Malformed")
    shared.dry_run(params)
    found = ctx.store.list(KIND_SUBNET, ctx.region)
    if ids:
        known = {s.id for s in found}
        absent = [i for i in ids if i not in known]
        if absent:
            raise shared.missing("InvalidSubnetID.NotFound", "subnet", absent)
        found = [s for s in found if s.id in ids]
    found = filters.apply(found, params.get("Filters"), _getters(ctx.account),
                           wildcards=True, unknown_message=filters.EC2_UNKNOWN,
                          tags=lambda s: shared.tags_of(s.spec))
    items, token = shared.page(found, lambda s: s.id, params)
    return shared.with_token({"Subnets": [views.subnet(s, ctx.account) for s in items]}, token)


@operation("ec2", "DeleteSubnet")
def delete_subnet(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    with ctx.store.transaction():
        res = records.get_subnet(ctx.store, ctx.region, params["SubnetId"])
        if records.dependents(ctx.store, ctx.region, res.id):
            raise AwsError("DependencyViolation",
                           f"The subnet '{res.id}' has dependencies and cannot be deleted.")
        shared.dry_run(params)
        ctx.store.delete(res)
    return {}
