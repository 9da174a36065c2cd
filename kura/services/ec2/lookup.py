"""What RDS and ElastiCache handlers ask of the EC2 network: typed, read-only records.

    from kura.services.ec2 import lookup
    subnets = lookup.get_subnets(ctx.store, ctx.region, params["SubnetIds"])   # NetworkLookupError
    groups = lookup.get_security_groups(ctx.store, ctx.region, ids or
                                        [lookup.default_security_group(ctx.store, ctx.region).id])

Every function seeds the region's default network first (idempotent and cheap after the first
call), so callers never see an empty region. A service that makes subnets or groups "in use"
registers a dependents check so DeleteSubnet / DeleteSecurityGroup / DeleteVpc refuse meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kura.services.ec2 import cidrs, defaults, records, zones
from kura.services.ec2.records import DependentsCheck, register_dependents
from kura.services.ec2.shared import KIND_SG, KIND_SUBNET, KIND_VPC
from kura.services.registry import Ctx
from kura.store.types import Resource, Store

__all__ = [
    "DependentsCheck", "NetworkLookupError", "SecurityGroup", "SecurityGroupRule", "Subnet", "Vpc",
    "availability_zones", "default_security_group", "default_subnets", "default_vpc", "ensure_defaults",
    "get_security_groups", "get_subnets", "get_vpc", "register_dependents", "zone_id",
]


class NetworkLookupError(Exception):
    """Some asked-for IDs are unknown (or malformed) in the region. Callers map it to their own code
    (RDS `InvalidSubnet`, `InvalidVPCNetworkStateFault`, …); `kind` is "vpc", "subnet" or "security-group"."""

    def __init__(self, kind: str, missing: tuple[str, ...], region: str) -> None:
        super().__init__(f"{kind} not found in {region}: {', '.join(missing)}")
        self.kind = kind
        self.missing = missing
        self.region = region


@dataclass(frozen=True, slots=True)
class Vpc:
    id: str
    region: str
    cidr_block: str
    is_default: bool
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    region: str
    vpc_id: str
    cidr_block: str
    availability_zone: str  # "ap-northeast-1a"
    availability_zone_id: str  # "apne1-az4"
    default_for_az: bool
    available_ip_address_count: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SecurityGroupRule:
    id: str
    egress: bool
    protocol: str  # "tcp", "udp", "icmp", "icmpv6", "-1" (all) or a protocol number
    from_port: int  # -1 when the protocol has no ports
    to_port: int
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    group_id: str | None = None  # traffic from/to members of this group
    description: str | None = None


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    id: str
    region: str
    vpc_id: str
    name: str
    description: str
    ingress: tuple[SecurityGroupRule, ...]
    egress: tuple[SecurityGroupRule, ...]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_default(self) -> bool:
        return self.name == "default"


def ensure_defaults(ctx_or_store: Ctx | Store, region: str) -> None:
    """Seed the region's default VPC, subnets and group once (safe under concurrent first calls)."""
    store = ctx_or_store.store if isinstance(ctx_or_store, Ctx) else ctx_or_store
    defaults.ensure(store, region)


def availability_zones(region: str) -> list[str]:
    return [z.name for z in zones.zones(region)]


def zone_id(region: str, zone_name: str) -> str | None:
    zone = zones.by_name(region, zone_name)
    return zone.zone_id if zone else None


def get_vpc(store: Store, region: str, vpc_id: str) -> Vpc:
    defaults.ensure(store, region)
    res = store.get(KIND_VPC, region, vpc_id)
    if res is None:
        raise NetworkLookupError("vpc", (vpc_id,), region)
    return _vpc(res)


def default_vpc(store: Store, region: str) -> Vpc | None:
    """None once the user has deleted the default VPC, as on AWS."""
    defaults.ensure(store, region)
    vpc_id = records.default_vpc_id(store, region)
    return get_vpc(store, region, vpc_id) if vpc_id else None


def get_subnets(store: Store, region: str, ids: Iterable[str]) -> list[Subnet]:
    """In the order asked, duplicates dropped; NetworkLookupError names every unknown ID."""
    return [_subnet(r) for r in _fetch(store, region, KIND_SUBNET, "subnet", ids)]


def default_subnets(store: Store, region: str) -> list[Subnet]:
    """The default VPC's default subnets (what RDS uses without a DB subnet group)."""
    vpc = default_vpc(store, region)
    if vpc is None:
        return []
    found = [_subnet(r) for r in records.subnets_of(store, region, vpc.id) if r.spec["DefaultForAz"]]
    return sorted(found, key=lambda s: s.availability_zone)


def get_security_groups(store: Store, region: str, ids: Iterable[str]) -> list[SecurityGroup]:
    return [_group(r) for r in _fetch(store, region, KIND_SG, "security-group", ids)]


def default_security_group(store: Store, region: str, vpc_id: str | None = None) -> SecurityGroup:
    """The `default` group of `vpc_id` (the default VPC when None)."""
    defaults.ensure(store, region)
    vpc_id = vpc_id or records.default_vpc_id(store, region)
    found = records.group_by_name(store, region, vpc_id, "default") if vpc_id else None
    if found is None:
        raise NetworkLookupError("vpc", (vpc_id or "default",), region)
    return _group(found)


def _fetch(store: Store, region: str, kind: str, noun: str, ids: Iterable[str]) -> list[Resource]:
    defaults.ensure(store, region)
    wanted = list(dict.fromkeys(ids))
    found = {i: store.get(kind, region, i) for i in wanted}
    missing = tuple(i for i, r in found.items() if r is None)
    if missing:
        raise NetworkLookupError(noun, missing, region)
    return [r for r in found.values() if r is not None]


def _vpc(res: Resource) -> Vpc:
    return Vpc(res.id, res.region, res.spec["CidrBlock"], res.spec["IsDefault"], dict(res.spec["Tags"]))


def _subnet(res: Resource) -> Subnet:
    s = res.spec
    return Subnet(res.id, res.region, s["VpcId"], s["CidrBlock"], s["AvailabilityZone"],
                  zone_id(res.region, s["AvailabilityZone"]) or "", s["DefaultForAz"],
                  cidrs.available_addresses(s["CidrBlock"]), dict(s["Tags"]))


def _rule(r: dict[str, Any]) -> SecurityGroupRule:
    return SecurityGroupRule(r["Id"], r["Egress"], r["Protocol"], r["FromPort"], r["ToPort"],
                             r.get("CidrIpv4"), r.get("CidrIpv6"), r.get("GroupId"), r.get("Description"))


def _group(res: Resource) -> SecurityGroup:
    s = res.spec
    rules = [_rule(r) for r in s["Rules"]]
    return SecurityGroup(res.id, res.region, s["VpcId"], s["GroupName"], s["Description"],
                         tuple(r for r in rules if not r.egress), tuple(r for r in rules if r.egress),
                         dict(s["Tags"]))
