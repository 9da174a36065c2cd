"""DB subnet groups over EC2 subnets."""

from __future__ import annotations

import pytest

from kura.api.errors import AwsError
from tests.unit.test_rds_instances import ACCOUNT, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]


def test_create_describe_seed_000(rds: Rds) -> None:
    vpc, subnets, _ = rds.network()
    group = rds(
        "CreateDBSubnetGroup",
        DBSubnetGroupName="AuraTime-DB-Subnet-Group",
        DBSubnetGroupDescription="DB subnet group for AuraTime",
        SubnetIds=subnets,
        Tags=[{"Key": "Name", "Value": "auratime-db-subnet-group"}],
    )["DBSubnetGroup"]
    assert group["DBSubnetGroupName"] == "auratime-db-subnet-group"
    assert group["VpcId"] == vpc and group["SubnetGroupStatus"] == "Complete"
    assert [
        (s["SubnetIdentifier"], s["SubnetAvailabilityZone"]["Name"], s["SubnetStatus"])
        for s in group["Subnets"]
    ] == [(subnets[0], f"{REGION}a", "Active"), (subnets[1], f"{REGION}c", "Active")]
    assert group["DBSubnetGroupArn"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:auratime-db-subnet-group"
    found = rds("DescribeDBSubnetGroups", DBSubnetGroupName="auratime-db-subnet-group")["DBSubnetGroups"]
    assert found == [group]
    assert rds.code("DescribeDBSubnetGroups", DBSubnetGroupName="nope") == "DBSubnetGroupNotFoundFault"
    assert rds.error("DescribeDBSubnetGroups", DBSubnetGroupName="nope").status == 404
    tags = rds("ListTagsForResource", ResourceName=group["DBSubnetGroupArn"])["TagList"]
    assert tags == [{"Key": "Name", "Value": "auratime-db-subnet-group"}]


def test_create_errors(rds: Rds) -> None:
    vpc, subnets, _ = rds.network()
    one_zone = rds.ec2("CreateSubnet", VpcId=vpc, CidrBlock="10.0.3.0/24", AvailabilityZone=f"{REGION}a")[
        "Subnet"
    ]["SubnetId"]
    err = rds.error(
        "CreateDBSubnetGroup",
        DBSubnetGroupName="g",
        DBSubnetGroupDescription="d",
        SubnetIds=[subnets[0], one_zone],
    )
    assert err.code == "DBSubnetGroupDoesNotCoverEnoughAZs" and f"{REGION}a" in err.message
    err = rds.error(
        "CreateDBSubnetGroup",
        DBSubnetGroupName="g",
        DBSubnetGroupDescription="d",
        SubnetIds=[subnets[0], "subnet-0123456789abcdef0"],
    )
    assert err.code == "InvalidSubnet" and "subnet-0123456789abcdef0" in err.message
    other = rds.ec2("DescribeSubnets", Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    err = rds.error(
        "CreateDBSubnetGroup",
        DBSubnetGroupName="g",
        DBSubnetGroupDescription="d",
        SubnetIds=[subnets[0], other["SubnetId"]],
    )
    assert err.code == "InvalidSubnet" and "one VPC" in err.message
    assert (
        rds.code(
            "CreateDBSubnetGroup",
            DBSubnetGroupName="default",
            DBSubnetGroupDescription="d",
            SubnetIds=subnets,
        )
        == "InvalidParameterValue"
    )
    assert (
        rds.code(
            "CreateDBSubnetGroup",
            DBSubnetGroupName="bad/name",
            DBSubnetGroupDescription="d",
            SubnetIds=subnets,
        )
        == "InvalidParameterValue"
    )
    rds("CreateDBSubnetGroup", DBSubnetGroupName="g", DBSubnetGroupDescription="d", SubnetIds=subnets)
    assert (
        rds.code(
            "CreateDBSubnetGroup", DBSubnetGroupName="G", DBSubnetGroupDescription="d", SubnetIds=subnets
        )
        == "DBSubnetGroupAlreadyExists"
    )


def test_modify_and_delete(rds: Rds) -> None:
    vpc, subnets, _ = rds.network()
    third = rds.ec2("CreateSubnet", VpcId=vpc, CidrBlock="10.0.3.0/24", AvailabilityZone=f"{REGION}d")[
        "Subnet"
    ]["SubnetId"]
    rds("CreateDBSubnetGroup", DBSubnetGroupName="g", DBSubnetGroupDescription="d", SubnetIds=subnets)
    group = rds(
        "ModifyDBSubnetGroup",
        DBSubnetGroupName="g",
        SubnetIds=[*subnets, third],
        DBSubnetGroupDescription="three zones",
    )["DBSubnetGroup"]
    assert len(group["Subnets"]) == 3 and group["DBSubnetGroupDescription"] == "three zones"
    assert (
        rds.code("ModifyDBSubnetGroup", DBSubnetGroupName="g", SubnetIds=[subnets[0]])
        == "DBSubnetGroupDoesNotCoverEnoughAZs"
    )
    assert (
        rds.code("ModifyDBSubnetGroup", DBSubnetGroupName="nope", SubnetIds=subnets)
        == "DBSubnetGroupNotFoundFault"
    )
    rds.create("db1", DBSubnetGroupName="g", AvailabilityZone=f"{REGION}d")
    assert rds.code("ModifyDBSubnetGroup", DBSubnetGroupName="g", SubnetIds=subnets) == "SubnetAlreadyInUse"
    err = rds.error("DeleteDBSubnetGroup", DBSubnetGroupName="g")
    assert err.code == "InvalidDBSubnetGroupStateFault" and "db1" in err.message
    with pytest.raises(AwsError) as info:
        rds.ec2("DeleteSubnet", SubnetId=third)
    assert info.value.code == "DependencyViolation"
    rds.store.delete(rds.store.get("rds.db-instance", REGION, "db1"))  # type: ignore[arg-type]
    rds("DeleteDBSubnetGroup", DBSubnetGroupName="G")
    assert rds.code("DeleteDBSubnetGroup", DBSubnetGroupName="g") == "DBSubnetGroupNotFoundFault"
    rds.ec2("DeleteSubnet", SubnetId=third)  # no longer in use


def test_default_group_is_made_on_first_use(rds: Rds) -> None:
    assert rds("DescribeDBSubnetGroups")["DBSubnetGroups"] == []
    rds.create("db1")
    groups = rds("DescribeDBSubnetGroups")["DBSubnetGroups"]
    assert [g["DBSubnetGroupName"] for g in groups] == ["default"]
    assert len(groups[0]["Subnets"]) == 3


def test_pagination(rds: Rds) -> None:
    _, subnets, _ = rds.network()
    for i in range(21):
        rds(
            "CreateDBSubnetGroup",
            DBSubnetGroupName=f"g{i:02d}",
            DBSubnetGroupDescription="d",
            SubnetIds=subnets,
        )
    first = rds("DescribeDBSubnetGroups", MaxRecords=20)
    rest = rds("DescribeDBSubnetGroups", Marker=first["Marker"])
    assert len(first["DBSubnetGroups"]) == 20 and [
        g["DBSubnetGroupName"] for g in rest["DBSubnetGroups"]
    ] == ["g20"]
