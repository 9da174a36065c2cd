"""CIDR checks as the EC2 API makes them for VPCs, subnets and security group rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from kura.api.errors import AwsError

MIN_PREFIX = 16  # the largest VPC or subnet AWS allows
MAX_PREFIX = 28  # the smallest
RESERVED_PER_SUBNET = 5  # network, VPC router, DNS, future use, broadcast


def network(text: str, param: str = "cidrBlock") -> ipaddress.IPv4Network:
    """An IPv4 block, canonicalized (10.0.0.1/16 → 10.0.0.0/16) as AWS stores it."""
    try:
        if "/" not in text:
            raise ValueError(text)
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError as exc:
        raise AwsError("InvalidParameterValue",
                       f"Value ({text}) for parameter {param} is invalid. This is not a valid CIDR block."
                       ) from exc


def vpc_block(text: str) -> ipaddress.IPv4Network:
    net = network(text)
    if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX:
        raise AwsError("InvalidVpc.Range", f"The CIDR '{text}' is invalid.")
    return net


def subnet_block(text: str, vpc: str, siblings: Iterable[str]) -> ipaddress.IPv4Network:
    """A subnet must sit inside its VPC's block and overlap none of the VPC's other subnets."""
    net = network(text)
    if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX or not net.subnet_of(ipaddress.IPv4Network(vpc)):
        raise AwsError("InvalidSubnet.Range", f"The CIDR '{text}' is invalid.")
    for other in siblings:
        if net.overlaps(ipaddress.IPv4Network(other)):
            raise AwsError("InvalidSubnet.Conflict", f"The CIDR '{text}' conflicts with another subnet")
    return net


def available_addresses(cidr: str) -> int:
    return int(ipaddress.IPv4Network(cidr).num_addresses) - RESERVED_PER_SUBNET


def rule_v4(text: str) -> str:
    """A rule's IPv4 range; AWS canonicalizes it, so 10.0.0.7/8 and 10.0.0.0/8 are the same rule."""
    try:
        if "/" not in text:
            raise ValueError(text)
        return str(ipaddress.IPv4Network(text, strict=False))
    except ValueError as exc:
        raise AwsError("InvalidParameterValue", f"CIDR block {text} is malformed") from exc


def rule_v6(text: str) -> str:
    try:
        if "/" not in text:
            raise ValueError(text)
        return str(ipaddress.IPv6Network(text, strict=False))
    except ValueError as exc:
        raise AwsError("InvalidParameterValue", f"CIDR block {text} is malformed") from exc
