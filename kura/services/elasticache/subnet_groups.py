"""Create/Describe/Modify/Delete CacheSubnetGroup, and where a cluster lives (zone, security groups).

Subnets and security groups come from EC2 (kura/services/ec2/lookup.py); while a group lists a subnet,
EC2 refuses to delete it. The `default` group (the default VPC's subnets) is made on first use.
"""

from __future__ import annotations

import re
from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.ec2 import lookup
from kura.services.elasticache import errors, shared
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP, KIND_SUBNET_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import AlreadyExists, Resource, Store

DEFAULT = "default"
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))*$")


def check_name(name: str) -> str:
    lowered = name.lower()
    if len(lowered) > 255 or not _NAME.match(lowered) or lowered.endswith("-"):
        raise errors.invalid("The parameter CacheSubnetGroupName is not a valid identifier: use 1 to 255 "
                             "letters, digits or hyphens, no two consecutive hyphens, no trailing hyphen.")
    return lowered


def _subnets(ctx: Ctx, ids: list[str]) -> list[lookup.Subnet]:
    try:
        found = lookup.get_subnets(ctx.store, ctx.region, ids)
    except lookup.NetworkLookupError as exc:
        raise errors.fault("InvalidSubnet", f"The subnet ID {', '.join(exc.missing)} does not exist") from exc
    vpcs = sorted({s.vpc_id for s in found})
    if len(vpcs) > 1:
        raise errors.fault("InvalidSubnet", "The subnets of a cache subnet group must be in one VPC; these "
                                            f"are in {', '.join(vpcs)}.")
    return found


def get(ctx: Ctx, name: str) -> Resource:
    res = ctx.store.get(KIND_SUBNET_GROUP, ctx.region, name.lower())
    if res is None:
        raise errors.subnet_group_not_found(name)
    return res


def ensure_default(ctx: Ctx) -> Resource:
    found = ctx.store.get(KIND_SUBNET_GROUP, ctx.region, DEFAULT)
    if found is not None:
        return found
    vpc = lookup.default_vpc(ctx.store, ctx.region)
    subnets = lookup.default_subnets(ctx.store, ctx.region)
    if vpc is None or not subnets:
        raise errors.fault("InvalidVPCNetworkStateFault",
                           "There is no default VPC in this region: specify a CacheSubnetGroupName.")
    spec = {"CacheSubnetGroupName": DEFAULT, "CacheSubnetGroupDescription": DEFAULT, "VpcId": vpc.id,
            "SubnetIds": [s.id for s in subnets], "Tags": {}}
    try:
        return ctx.store.create(KIND_SUBNET_GROUP, ctx.region, DEFAULT, spec)
    except AlreadyExists:
        return get(ctx, DEFAULT)


def view(res: Resource, account: str, store: Store) -> dict[str, Any]:
    ids = list(res.spec.get("SubnetIds") or [])
    try:
        subnets = lookup.get_subnets(store, res.region, ids)
    except lookup.NetworkLookupError:
        subnets = []
    return {
        "CacheSubnetGroupName": res.id,
        "CacheSubnetGroupDescription": res.spec.get("CacheSubnetGroupDescription", ""),
        "VpcId": res.spec.get("VpcId"),
        "Subnets": [{"SubnetIdentifier": s.id, "SubnetAvailabilityZone": {"Name": s.availability_zone},
                     "SupportedNetworkTypes": ["ipv4"]} for s in subnets],
        "ARN": shared.resource_arn(res, account),
        "SupportedNetworkTypes": ["ipv4"],
    }


def users(store: Store, region: str, name: str) -> list[str]:
    return sorted(r.id for kind in (KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP)
                  for r in store.list(kind, region) if r.spec.get("CacheSubnetGroupName") == name)


def zones_of(ctx: Ctx, group: Resource) -> list[str]:
    return sorted({s.availability_zone for s in _subnets(ctx, list(group.spec["SubnetIds"]))})


def placement(ctx: Ctx, params: dict[str, Any], zone_param: str = "PreferredAvailabilityZone"
              ) -> dict[str, Any]:
    """CacheSubnetGroupName, PreferredAvailabilityZone and SecurityGroupIds of a new cluster."""
    name = params.get("CacheSubnetGroupName")
    group = get(ctx, name) if name else ensure_default(ctx)
    zones = zones_of(ctx, group)
    zone = params.get(zone_param)
    if zone is not None:
        if zone not in lookup.availability_zones(ctx.region):
            raise errors.invalid(f"Invalid availability zone: {zone} is not a zone of {ctx.region}.")
        if zone not in zones:
            raise errors.combination(f"No subnet of cache subnet group {group.id} is in {zone}: use one of "
                                     f"{', '.join(zones)}.")
    else:
        zone = zones[0]
    groups = security_groups(ctx, params.get("SecurityGroupIds"), str(group.spec["VpcId"]))
    return {"CacheSubnetGroupName": group.id, "PreferredAvailabilityZone": zone, "SecurityGroupIds": groups}


def security_groups(ctx: Ctx, ids: list[str] | None, vpc_id: str) -> list[str]:
    """The groups asked for (all in the subnet group's VPC), or the VPC's default group."""
    if not ids:
        try:
            return [lookup.default_security_group(ctx.store, ctx.region, vpc_id).id]
        except lookup.NetworkLookupError:
            return []
    try:
        found = lookup.get_security_groups(ctx.store, ctx.region, ids)
    except lookup.NetworkLookupError as exc:
        raise errors.invalid(f"Some security group Id(s) are invalid: {', '.join(exc.missing)}") from exc
    for group in found:
        if group.vpc_id != vpc_id:
            raise errors.combination(f"The security group {group.id} is in {group.vpc_id}, not in the cache "
                                     f"subnet group's VPC {vpc_id}.")
    return [g.id for g in found]


@operation("elasticache", "CreateCacheSubnetGroup")
def create_cache_subnet_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["CacheSubnetGroupName"])
    if name == DEFAULT:
        raise errors.invalid("CacheSubnetGroupName must not be \"default\": ElastiCache manages it.")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        subnets = _subnets(ctx, list(params["SubnetIds"]))
        spec = {"CacheSubnetGroupName": name,
                "CacheSubnetGroupDescription": params["CacheSubnetGroupDescription"],
                "VpcId": subnets[0].vpc_id, "SubnetIds": [s.id for s in subnets], "Tags": tags}
        try:
            res = ctx.store.create(KIND_SUBNET_GROUP, ctx.region, name, spec)
        except AlreadyExists as exc:
            raise errors.fault("CacheSubnetGroupAlreadyExists",
                               f"Cache subnet group {name} already exists.") from exc
        shared.record(ctx, KIND_SUBNET_GROUP, name, "Cache subnet group created", "configuration change")
    return {"CacheSubnetGroup": view(res, ctx.account, ctx.store)}


@operation("elasticache", "DescribeCacheSubnetGroups")
def describe_cache_subnet_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("CacheSubnetGroupName")
    found = [get(ctx, name)] if name is not None else ctx.store.list(KIND_SUBNET_GROUP, ctx.region)
    page, marker = rds_page(found, lambda r: r.id, params)
    groups = [view(r, ctx.account, ctx.store) for r in page]
    return shared.with_marker({"CacheSubnetGroups": groups}, marker)


@operation("elasticache", "ModifyCacheSubnetGroup")
def modify_cache_subnet_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = get(ctx, params["CacheSubnetGroupName"])
        spec = dict(res.spec)
        if params.get("SubnetIds"):
            subnets = _subnets(ctx, list(params["SubnetIds"]))
            if subnets[0].vpc_id != res.spec["VpcId"] and users(ctx.store, ctx.region, res.id):
                raise errors.fault("SubnetInUse", f"The cache subnet group {res.id} is in use: its subnets "
                                                  "can't move to another VPC.")
            spec.update(VpcId=subnets[0].vpc_id, SubnetIds=[s.id for s in subnets])
        if params.get("CacheSubnetGroupDescription") is not None:
            spec["CacheSubnetGroupDescription"] = params["CacheSubnetGroupDescription"]
        res = ctx.store.update(res, spec=spec)
        shared.record(ctx, KIND_SUBNET_GROUP, res.id, "Cache subnet group modified", "configuration change")
    return {"CacheSubnetGroup": view(res, ctx.account, ctx.store)}


@operation("elasticache", "DeleteCacheSubnetGroup")
def delete_cache_subnet_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = get(ctx, params["CacheSubnetGroupName"])
        in_use = users(ctx.store, ctx.region, res.id)
        if in_use:
            raise errors.fault("CacheSubnetGroupInUse",
                               f"Cache subnet group {res.id} is currently in use by {in_use[0]}.")
        ctx.store.delete(res)
        shared.record(ctx, KIND_SUBNET_GROUP, res.id, "Cache subnet group deleted", "configuration change")
    return {}


def _dependents(store: Store, region: str, resource_id: str) -> str | None:
    """EC2 asks before deleting a subnet, VPC or security group: does ElastiCache use it?"""
    for res in store.list(KIND_SUBNET_GROUP, region):
        if resource_id in (res.spec.get("SubnetIds") or []) or resource_id == res.spec.get("VpcId"):
            return f"cache subnet group {res.id}"
    for kind in (KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP):
        for res in store.list(kind, region):
            if resource_id in (res.spec.get("SecurityGroupIds") or []):
                return f"ElastiCache {res.id}"
    return None


lookup.register_dependents(_dependents)
