"""Security group rules from the wire (IpPermissions or the legacy flat parameters) to stored rules.

One IpPermission may list several sources; AWS keeps one rule per source, each with its own ID,
and so do we. Two rules are the same rule when direction, protocol, ports and source agree
(descriptions don't count), which is what Duplicate and Revoke compare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kura.api.errors import AwsError
from kura.services.ec2 import cidrs, records

GroupResolver = Callable[[dict[str, Any]], str]  # a UserIdGroupPair → the referenced group's ID

SOURCES = ("CidrIpv4", "CidrIpv6", "GroupId", "PrefixListId")
_NAMED = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": records.ALL}
_KNOWN = ("tcp", "udp", "icmp", "icmpv6", records.ALL)
_FLAT = ("IpProtocol", "FromPort", "ToPort", "CidrIp", "SourceSecurityGroupName")


def protocol(value: str | None) -> str:
    """Names and numbers as AWS stores them: 6 → tcp, all → -1, 47 stays 47."""
    if value is None or value == "":
        raise AwsError("MissingParameter", "The request must contain the parameter ipProtocol")
    low = value.strip().lower()
    low = _NAMED.get(low, low)
    if low in _KNOWN:
        return low
    if low.isdigit() and 0 <= int(low) <= 255:
        return _NAMED.get(str(int(low)), str(int(low)))
    raise AwsError("InvalidParameterValue", f"Invalid value '{value}' for IP protocol. Unknown protocol.")


def ports(proto: str, from_port: int | None, to_port: int | None) -> tuple[int, int]:
    if proto in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise AwsError("InvalidParameterValue",
                           "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.")
        if not (0 <= from_port <= 65535 and 0 <= to_port <= 65535) or from_port > to_port:
            raise AwsError("InvalidParameterValue", f"Invalid value 'Invalid TCP/UDP port range "
                                                    f"{from_port}-{to_port}.' for portRange.")
        return from_port, to_port
    if proto in ("icmp", "icmpv6"):
        kind = -1 if from_port is None else from_port
        code = -1 if to_port is None else to_port
        if not (-1 <= kind <= 255 and -1 <= code <= 255) or (kind == -1 and code != -1):
            raise AwsError("InvalidParameterValue",
                           f"Invalid value 'ICMP type {kind}, code {code}.' for icmpTypeCode.")
        return kind, code
    return -1, -1  # every other protocol is allowed on all ports, whatever ports were given


def flat_permissions(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The legacy top-level parameters as IpPermissions."""
    if all(params.get(k) is None for k in _FLAT):
        return []
    source_name = params.get("SourceSecurityGroupName")
    if source_name and params.get("IpProtocol") is None:
        # A bare source group grants full ICMP, TCP and UDP access, as AWS documents.
        pair = [{"GroupName": source_name}]
        return [{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": pair},
                {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": pair},
                {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": pair}]
    perm: dict[str, Any] = {k: params.get(k) for k in ("IpProtocol", "FromPort", "ToPort")}
    if params.get("CidrIp"):
        perm["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
    if source_name:
        perm["UserIdGroupPairs"] = [{"GroupName": source_name}]
    return [perm]


def expand(perms: list[dict[str, Any]], egress: bool, resolve: GroupResolver,
           tags: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """IpPermissions → stored rules (new IDs), one per source."""
    out: list[dict[str, Any]] = []
    for perm in perms:
        proto = protocol(perm.get("IpProtocol"))
        lo, hi = ports(proto, perm.get("FromPort"), perm.get("ToPort"))
        sources = _sources(perm, resolve)
        if not sources:
            raise AwsError("MissingParameter",
                           "Either an IP range, an IPv6 range, a prefix list or a security group must be "
                           "specified for each IP permission.")
        out += [records.rule(egress, proto, lo, hi, src, desc, tags) for src, desc in sources]
    return out


def _sources(perm: dict[str, Any], resolve: GroupResolver) -> list[tuple[dict[str, str], str | None]]:
    found: list[tuple[dict[str, str], str | None]] = []
    for r in perm.get("IpRanges") or []:
        found.append(({"CidrIpv4": cidrs.rule_v4(r.get("CidrIp") or "")}, r.get("Description")))
    for r in perm.get("Ipv6Ranges") or []:
        found.append(({"CidrIpv6": cidrs.rule_v6(r.get("CidrIpv6") or "")}, r.get("Description")))
    for r in perm.get("PrefixListIds") or []:
        # Kura has no managed prefix lists, so no prefix list ID can exist yet.
        raise AwsError("InvalidPrefixListId.NotFound",
                       f"The prefix list ID '{r.get('PrefixListId')}' does not exist")
    for pair in perm.get("UserIdGroupPairs") or []:
        found.append(({"GroupId": resolve(pair)}, pair.get("Description")))
    return found


def key(rule: dict[str, Any]) -> tuple[bool, str, int, int, str, str]:
    kind = next(k for k in SOURCES if k in rule)
    return rule["Egress"], rule["Protocol"], rule["FromPort"], rule["ToPort"], kind, rule[kind]


def describe(rule: dict[str, Any]) -> str:
    """How AWS names a rule in InvalidPermission.Duplicate."""
    peer = rule[next(k for k in SOURCES if k in rule)]
    proto = "ALL" if rule["Protocol"] == records.ALL else rule["Protocol"].upper()
    parts = [f"peer: {peer}", proto]
    if rule["Protocol"] in ("tcp", "udp", "icmp", "icmpv6"):
        parts += [f"from port: {rule['FromPort']}", f"to port: {rule['ToPort']}"]
    return ", ".join([*parts, "ALLOW"])
