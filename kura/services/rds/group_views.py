"""Response shapes of DB subnet groups and DB parameter groups."""

from __future__ import annotations

from typing import Any

from kura.services.ec2 import lookup
from kura.services.rds.records import KIND_PARAMETER_GROUP, KIND_SUBNET_GROUP
from kura.store.types import Resource, Store


def subnet_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:rds:{region}:{account}:subgrp:{name}"


def parameter_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:rds:{region}:{account}:pg:{name}"


def subnets(store: Store, region: str, ids: list[str]) -> list[lookup.Subnet]:
    """The group's subnets that still exist (EC2 refuses to delete one a group uses)."""
    found = []
    for subnet_id in ids:
        try:
            found.extend(lookup.get_subnets(store, region, [subnet_id]))
        except lookup.NetworkLookupError:
            continue
    return found


def subnet_group(res: Resource, account: str, store: Store) -> dict[str, Any]:
    assert res.kind == KIND_SUBNET_GROUP
    spec = res.spec
    return {
        "DBSubnetGroupName": res.id,
        "DBSubnetGroupDescription": spec.get("DBSubnetGroupDescription", ""),
        "VpcId": spec["VpcId"],
        "SubnetGroupStatus": "Complete",
        "Subnets": [{"SubnetIdentifier": s.id, "SubnetAvailabilityZone": {"Name": s.availability_zone},
                     "SubnetOutpost": {}, "SubnetStatus": "Active"}
                    for s in subnets(store, res.region, list(spec.get("SubnetIds") or []))],
        "DBSubnetGroupArn": subnet_group_arn(res.region, account, res.id),
        "SupportedNetworkTypes": ["IPV4"],
    }


def parameter_group(name: str, family: str, description: str, region: str, account: str) -> dict[str, Any]:
    return {"DBParameterGroupName": name, "DBParameterGroupFamily": family, "Description": description,
            "DBParameterGroupArn": parameter_group_arn(region, account, name)}


def stored_parameter_group(res: Resource, account: str) -> dict[str, Any]:
    assert res.kind == KIND_PARAMETER_GROUP
    s = res.spec
    return parameter_group(res.id, s["DBParameterGroupFamily"], s.get("Description", ""), res.region, account)


def parameter(info: dict[str, Any], value: str | None, source: str, apply_method: str) -> dict[str, Any]:
    """One Parameter as DescribeDBParameters shows it; `info` is the catalogue's ParameterInfo."""
    out: dict[str, Any] = {
        "ParameterName": info["name"],
        "Description": info.get("description") or "",
        "Source": source,
        "ApplyType": info.get("apply_type") or "static",
        "DataType": info.get("data_type") or "string",
        "IsModifiable": bool(info.get("is_modifiable", True)),
        "ApplyMethod": apply_method,
    }
    if value is not None:
        out["ParameterValue"] = value
    if info.get("allowed_values"):
        out["AllowedValues"] = info["allowed_values"]
    return out
