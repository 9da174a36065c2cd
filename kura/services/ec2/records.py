"""How VPCs, subnets and security groups are kept in the store, built and found.

Specs hold what the API was told; the account (OwnerId) and region are added by the views.
Security group rules live inside their group's spec, one dict per source, as AWS models them
(a `SecurityGroupRule` each, with its own `sgr-` ID and tags).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kura.api.errors import AwsError
from kura.services.ec2 import shared
from kura.services.ec2.shared import KIND_SG, KIND_SUBNET, KIND_VPC
from kura.store.types import Resource, Store

ALL = "-1"  # IpProtocol of "all traffic"

# Other services (RDS, ElastiCache) say when a subnet or group is in use by their resources:
# check(store, region, resource_id) → a short description of a dependent, or None.
DependentsCheck = Callable[[Store, str, str], str | None]
_DEPENDENTS: list[DependentsCheck] = []


def register_dependents(check: DependentsCheck) -> None:
    if check not in _DEPENDENTS:
        _DEPENDENTS.append(check)


def dependents(store: Store, region: str, resource_id: str) -> list[str]:
    return [found for check in _DEPENDENTS if (found := check(store, region, resource_id))]


# -- building --------------------------------------------------------------------------------
def create_vpc(store: Store, region: str, cidr: str, *, is_default: bool, dhcp: str,
               tenancy: str = "default", tags: dict[str, str] | None = None) -> Resource:
    """A VPC and its `default` security group, created together as AWS does."""
    vpc_id = shared.new_id("vpc")
    spec = {"CidrBlock": cidr, "IsDefault": is_default, "InstanceTenancy": tenancy, "DhcpOptionsId": dhcp,
            "AssociationId": shared.new_id("vpc-cidr-assoc"), "Tags": tags or {}}
    vpc = store.create(KIND_VPC, region, vpc_id, spec)
    group_id = shared.new_id("sg")
    # Members talk to each other freely and may send anywhere.
    rules = [rule(False, ALL, -1, -1, {"GroupId": group_id}),
             rule(True, ALL, -1, -1, {"CidrIpv4": "0.0.0.0/0"})]
    spec = group_spec("default", "default VPC security group", vpc_id, {}, rules)
    store.create(KIND_SG, region, group_id, spec)
    return vpc


def subnet_spec(vpc_id: str, cidr: str, zone: str, *, default_for_az: bool = False,
                tags: dict[str, str] | None = None) -> dict[str, Any]:
    # Default subnets hand out public addresses; the ones users create do not, unless modified.
    return {"VpcId": vpc_id, "CidrBlock": cidr, "AvailabilityZone": zone, "DefaultForAz": default_for_az,
            "MapPublicIpOnLaunch": default_for_az, "Tags": tags or {}}


def group_spec(name: str, description: str, vpc_id: str, tags: dict[str, str],
               rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"GroupName": name, "Description": description, "VpcId": vpc_id, "Tags": tags, "Rules": rules}


def rule(egress: bool, protocol: str, from_port: int, to_port: int, source: dict[str, str],
         description: str | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """One rule; `source` is one of {CidrIpv4}, {CidrIpv6}, {GroupId}, {PrefixListId}."""
    out: dict[str, Any] = {"Id": shared.new_id("sgr"), "Egress": egress, "Protocol": protocol,
                           "FromPort": from_port, "ToPort": to_port, **source, "Tags": tags or {}}
    if description:
        out["Description"] = description
    return out


# -- finding ---------------------------------------------------------------------------------
def get_vpc(store: Store, region: str, vpc_id: str, *, malformed_is_missing: bool = False) -> Resource:
    """`malformed_is_missing`: calls taking a VPC as parent (CreateSubnet…) say NotFound for any bad ID."""
    if not malformed_is_missing:
        shared.check_ids("vpc", [vpc_id], "InvalidVpcID.Malformed")
    found = store.get(KIND_VPC, region, vpc_id)
    if found is None:
        raise shared.missing("InvalidVpcID.NotFound", "vpc", [vpc_id])
    return found


def get_subnet(store: Store, region: str, subnet_id: str) -> Resource:
    shared.check_ids("subnet", [subnet_id], "InvalidSubnetID.Malformed")
    found = store.get(KIND_SUBNET, region, subnet_id)
    if found is None:
        raise shared.missing("InvalidSubnetID.NotFound", "subnet", [subnet_id])
    return found


def get_group(store: Store, region: str, group_id: str) -> Resource:
    shared.check_ids("sg", [group_id], "InvalidGroupId.Malformed")
    found = store.get(KIND_SG, region, group_id)
    if found is None:
        raise group_missing([group_id])
    return found


def group_missing(ids: list[str]) -> AwsError:
    return AwsError("InvalidGroup.NotFound", f"The security group '{', '.join(ids)}' does not exist")


def group_by_name(store: Store, region: str, vpc_id: str, name: str) -> Resource | None:
    return next((g for g in groups_of(store, region, vpc_id) if g.spec["GroupName"] == name), None)


def subnets_of(store: Store, region: str, vpc_id: str) -> list[Resource]:
    return [s for s in store.list(KIND_SUBNET, region) if s.spec["VpcId"] == vpc_id]


def groups_of(store: Store, region: str, vpc_id: str) -> list[Resource]:
    return [g for g in store.list(KIND_SG, region) if g.spec["VpcId"] == vpc_id]


def default_vpc_id(store: Store, region: str) -> str | None:
    return next((v.id for v in store.list(KIND_VPC, region) if v.spec["IsDefault"]), None)


def group_in_default_vpc(store: Store, region: str, name: str) -> Resource:
    """Group names alone address groups of the default VPC only, as on AWS."""
    vpc_id = default_vpc_id(store, region)
    found = group_by_name(store, region, vpc_id, name) if vpc_id else None
    if found is None:
        raise AwsError("InvalidGroup.NotFound",
                       f"The security group '{name}' does not exist in default VPC '{vpc_id or 'none'}'")
    return found
