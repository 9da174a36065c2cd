"""Stored records → EC2 response shapes (botocore's `Vpc`, `Subnet`, `SecurityGroup`, …)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kura.services.ec2 import cidrs, records, shared, zones
from kura.store.types import Resource


def vpc(res: Resource, account: str, state: str = "available") -> dict[str, Any]:
    spec = res.spec
    out = {
        "VpcId": res.id,
        "OwnerId": account,
        "State": state,
        "CidrBlock": spec["CidrBlock"],
        "DhcpOptionsId": spec["DhcpOptionsId"],
        "InstanceTenancy": spec["InstanceTenancy"],
        "IsDefault": spec["IsDefault"],
        "CidrBlockAssociationSet": [{"AssociationId": spec["AssociationId"], "CidrBlock": spec["CidrBlock"],
                                     "CidrBlockState": {"State": "associated"}}],
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
    }
    return shared.put_tags(out, shared.tags_of(spec))


def subnet(res: Resource, account: str) -> dict[str, Any]:
    spec = res.spec
    zone = zones.by_name(res.region, spec["AvailabilityZone"])
    out = {
        "SubnetId": res.id,
        "SubnetArn": f"arn:aws:ec2:{res.region}:{account}:subnet/{res.id}",
        "VpcId": spec["VpcId"],
        "OwnerId": account,
        "State": "available",
        "CidrBlock": spec["CidrBlock"],
        "AvailableIpAddressCount": cidrs.available_addresses(spec["CidrBlock"]),
        "AvailabilityZone": spec["AvailabilityZone"],
        "AvailabilityZoneId": zone.zone_id if zone else "",
        "DefaultForAz": spec["DefaultForAz"],
        "MapPublicIpOnLaunch": spec["MapPublicIpOnLaunch"],
        "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "EnableDns64": False,
        "Ipv6Native": False,
        "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                          "EnableResourceNameDnsAAAARecord": False},
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
    }
    return shared.put_tags(out, shared.tags_of(spec))


def group(res: Resource, account: str) -> dict[str, Any]:
    spec = res.spec
    rules = spec["Rules"]
    out = {
        "GroupId": res.id,
        "GroupName": spec["GroupName"],
        "Description": spec["Description"],
        "VpcId": spec["VpcId"],
        "OwnerId": account,
        "SecurityGroupArn": group_arn(res.region, account, res.id),
        "IpPermissions": permissions([r for r in rules if not r["Egress"]], account),
        "IpPermissionsEgress": permissions([r for r in rules if r["Egress"]], account),
    }
    return shared.put_tags(out, shared.tags_of(spec))


def group_arn(region: str, account: str, group_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:security-group/{group_id}"


def permissions(rules: Iterable[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    """Rules → `IpPermissions`: one permission per (protocol, ports), its sources listed inside."""
    grouped: dict[tuple[str, int, int], dict[str, Any]] = {}
    for r in rules:
        key = (r["Protocol"], r["FromPort"], r["ToPort"])
        perm = grouped.get(key)
        if perm is None:
            perm = grouped[key] = {"IpProtocol": r["Protocol"], "IpRanges": [], "Ipv6Ranges": [],
                                   "PrefixListIds": [], "UserIdGroupPairs": []}
            if r["Protocol"] != records.ALL:  # "all traffic" carries no ports on the wire
                perm["FromPort"], perm["ToPort"] = r["FromPort"], r["ToPort"]
        list_name, entry = _source_entry(r, account)
        perm[list_name].append(entry)
    return list(grouped.values())


def _source_entry(r: dict[str, Any], account: str) -> tuple[str, dict[str, Any]]:
    if "CidrIpv4" in r:
        name, entry = "IpRanges", {"CidrIp": r["CidrIpv4"]}
    elif "CidrIpv6" in r:
        name, entry = "Ipv6Ranges", {"CidrIpv6": r["CidrIpv6"]}
    elif "PrefixListId" in r:
        name, entry = "PrefixListIds", {"PrefixListId": r["PrefixListId"]}
    else:
        name, entry = "UserIdGroupPairs", {"UserId": account, "GroupId": r["GroupId"]}
    if r.get("Description"):
        entry["Description"] = r["Description"]
    return name, entry


def rule(r: dict[str, Any], group_id: str, region: str, account: str) -> dict[str, Any]:
    """A stored rule → `SecurityGroupRule`."""
    out: dict[str, Any] = {
        "SecurityGroupRuleId": r["Id"],
        "GroupId": group_id,
        "GroupOwnerId": account,
        "IsEgress": r["Egress"],
        "IpProtocol": r["Protocol"],
        "FromPort": r["FromPort"],
        "ToPort": r["ToPort"],
        "SecurityGroupRuleArn": f"arn:aws:ec2:{region}:{account}:security-group-rule/{r['Id']}",
    }
    for key in ("CidrIpv4", "CidrIpv6", "PrefixListId", "Description"):
        if r.get(key):
            out[key] = r[key]
    if "GroupId" in r:
        out["ReferencedGroupInfo"] = {"GroupId": r["GroupId"], "UserId": account}
    return shared.put_tags(out, dict(r.get("Tags") or {}))


def revoked_rule(r: dict[str, Any], group_id: str) -> dict[str, Any]:
    """A stored rule → `RevokedSecurityGroupRule`."""
    out: dict[str, Any] = {"SecurityGroupRuleId": r["Id"], "GroupId": group_id, "IsEgress": r["Egress"],
                           "IpProtocol": r["Protocol"], "FromPort": r["FromPort"], "ToPort": r["ToPort"]}
    for key in ("CidrIpv4", "CidrIpv6", "PrefixListId", "Description"):
        if r.get(key):
            out[key] = r[key]
    if "GroupId" in r:
        out["ReferencedGroupId"] = r["GroupId"]
    return out
