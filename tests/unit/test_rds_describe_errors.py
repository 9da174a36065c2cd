"""CreateDBInstance's refusals, and DescribeDBInstances (filters, pagination, derived status)."""

from __future__ import annotations

from typing import Any

import pytest

from kura.api.errors import AwsError
from kura.services.rds.records import KIND_INSTANCE
from tests.unit.test_rds_instances import ACCOUNT, PASSWORD, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]


def test_create_identifier_and_duplicate_errors(rds: Rds) -> None:
    for bad in ("1db", "db--x", "db-", "d" * 64, "db_x", ""):
        assert (
            rds.code(
                "CreateDBInstance", DBInstanceIdentifier=bad, DBInstanceClass="db.t3.micro", Engine="postgres"
            )
            == "InvalidParameterValue"
        ), bad
    rds.create("dup")
    err = rds.error(
        "CreateDBInstance",
        DBInstanceIdentifier="DUP",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="u1",
        MasterUserPassword=PASSWORD,
    )
    assert err.code == "DBInstanceAlreadyExists" and err.status == 400


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"DBInstanceClass": "t3.micro"}, "InvalidParameterValue", "Invalid DB Instance class"),
        ({"DBInstanceClass": "db.x9.huge"}, "InvalidParameterCombination", "RDS does not support creating"),
        ({"EngineVersion": "14.7"}, "InvalidParameterCombination", "kura engines install 14"),
        ({"EngineVersion": "sixteen"}, "InvalidParameterValue", "Invalid engine version"),
        ({"Engine": "mysql"}, "InvalidParameterCombination", "kura does not run engine mysql"),
        ({"Engine": "aurora-postgresql"}, "InvalidParameterCombination", "Aurora"),
        ({"Engine": "nosuch"}, "InvalidParameterValue", "Invalid DB engine"),
        ({"DBClusterIdentifier": "c1"}, "DBClusterNotFoundFault", "DBCluster c1 not found"),
        ({"MasterUserPassword": "short"}, "InvalidParameterValue", "shorter than 8"),
        ({"MasterUserPassword": "x" * 129}, "InvalidParameterValue", "longer than 128"),
        ({"MasterUserPassword": "has/slash1"}, "InvalidParameterValue", "printable ASCII"),
        ({"MasterUserPassword": "has space1"}, "InvalidParameterValue", "printable ASCII"),
        ({"MasterUserPassword": "has@at1234"}, "InvalidParameterValue", "printable ASCII"),
        ({"MasterUserPassword": None}, "InvalidParameterValue", "MasterUserPassword must be provided"),
        ({"ManageMasterUserPassword": True}, "InvalidParameterCombination", "MasterUserPassword"),
        ({"MasterUsername": "select"}, "InvalidParameterValue", "reserved word"),
        ({"MasterUsername": "rdsadmin"}, "InvalidParameterValue", "reserved word"),
        ({"MasterUsername": "1user"}, "InvalidParameterValue", "not a valid identifier"),
        ({"MasterUsername": None}, "InvalidParameterValue", "MasterUsername must be provided"),
        ({"DBName": "my-db"}, "InvalidParameterValue", "DBName must begin with a letter"),
        ({"AllocatedStorage": 10}, "InvalidParameterCombination", "Invalid storage size"),
        (
            {"AllocatedStorage": 70000, "StorageType": "gp3"},
            "InvalidParameterCombination",
            "Invalid storage size",
        ),
        (
            {"AllocatedStorage": 50, "StorageType": "io1", "Iops": 1000},
            "InvalidParameterCombination",
            "Invalid storage size",
        ),
        ({"StorageType": "io1", "AllocatedStorage": 100}, "InvalidParameterCombination", "Invalid IOPS"),
        ({"StorageType": "gp3", "Iops": 5000}, "InvalidParameterCombination", "less than 400"),
        ({"StorageType": "gp2", "Iops": 1000}, "InvalidParameterCombination", "IOPS"),
        ({"StorageType": "ssd"}, "InvalidParameterValue", "Invalid storage type"),
        ({"AllocatedStorage": None}, "InvalidParameterValue", "AllocatedStorage must be provided"),
        ({"MaxAllocatedStorage": 10}, "InvalidParameterCombination", "max storage size"),
        ({"DBSubnetGroupName": "nope"}, "DBSubnetGroupNotFoundFault", "nope"),
        ({"VpcSecurityGroupIds": ["sg-0123456789abcdef0"]}, "InvalidParameterValue", "sg-0123456789abcdef0"),
        ({"AvailabilityZone": "ap-northeast-1z"}, "InvalidParameterValue", "availability zone"),
        ({"AvailabilityZone": "ap-northeast-1a", "MultiAZ": True}, "InvalidParameterCombination", "Multi-AZ"),
        ({"DBParameterGroupName": "missing"}, "DBParameterGroupNotFound", "missing"),
        ({"DBParameterGroupName": "default.postgres15"}, "InvalidParameterCombination", "postgres16"),
        ({"OptionGroupName": "default:postgres-15"}, "OptionGroupNotFoundFault", "default:postgres-15"),
        ({"CharacterSetName": "LATIN1"}, "InvalidParameterValue", "UTF8"),
        ({"Port": 80}, "InvalidParameterValue", "1150"),
        ({"BackupRetentionPeriod": 36}, "InvalidParameterValue", "retention"),
        ({"PreferredBackupWindow": "03:00-03:10"}, "InvalidParameterValue", "30 minutes"),
        ({"PreferredMaintenanceWindow": "sunday:04:00-sun:05:00"}, "InvalidParameterValue", "maintenance"),
        ({"MonitoringInterval": 7}, "InvalidParameterValue", "MonitoringInterval"),
        ({"MonitoringInterval": 60}, "InvalidParameterCombination", "MonitoringRoleARN"),
        (
            {"EnablePerformanceInsights": True, "PerformanceInsightsRetentionPeriod": 8},
            "InvalidParameterValue",
            "retention period",
        ),
        ({"StorageEncrypted": True, "KmsKeyId": "alias/none"}, "KMSKeyNotAccessibleFault", "alias/none"),
        ({"CACertificateIdentifier": "rds-ca-2015"}, "CertificateNotFound", "rds-ca-2015"),
        ({"EnableCloudwatchLogsExports": ["audit"]}, "InvalidParameterValue", "audit"),
        ({"Domain": "d-123"}, "InvalidParameterCombination", "kura does not implement"),
        ({"LicenseModel": "bring-your-own-license"}, "InvalidParameterValue", "license"),
    ],
)
def test_create_validation_errors(rds: Rds, params: dict[str, Any], code: str, words: str) -> None:
    err = rds.error(
        "CreateDBInstance",
        DBInstanceIdentifier="bad",
        **{
            k: v
            for k, v in {
                "DBInstanceClass": "db.t3.micro",
                "Engine": "postgres",
                "AllocatedStorage": 20,
                "MasterUsername": "admin_user",
                "MasterUserPassword": PASSWORD,
                **params,
            }.items()
            if v is not None
        },
    )
    assert err.code == code, err.message
    assert words in err.message
    assert rds.store.get(KIND_INSTANCE, REGION, "bad") is None


def test_create_network_errors(rds: Rds) -> None:
    vpc, subnets, group = rds.network()
    rds("CreateDBSubnetGroup", DBSubnetGroupName="g", DBSubnetGroupDescription="d", SubnetIds=subnets)
    other = rds.ec2("CreateSecurityGroup", GroupName="other", Description="d")["GroupId"]  # default VPC
    err = rds.error(
        "CreateDBInstance",
        DBInstanceIdentifier="x",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="u1",
        MasterUserPassword=PASSWORD,
        DBSubnetGroupName="g",
        VpcSecurityGroupIds=[other],
    )
    assert err.code == "InvalidParameterCombination" and "different VPCs" in err.message
    err = rds.error(
        "CreateDBInstance",
        DBInstanceIdentifier="x",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="u1",
        MasterUserPassword=PASSWORD,
        DBSubnetGroupName="g",
        AvailabilityZone=f"{REGION}d",
    )
    assert err.code == "InvalidParameterCombination"
    db = rds.create("x", DBSubnetGroupName="G", AvailabilityZone=f"{REGION}c")
    assert db["AvailabilityZone"] == f"{REGION}c" and db["DBSubnetGroup"]["VpcId"] == vpc
    assert db["VpcSecurityGroups"][0]["VpcSecurityGroupId"] != group  # the VPC's default group
    # EC2 refuses to delete what RDS uses.
    used = db["VpcSecurityGroups"][0]["VpcSecurityGroupId"]
    rds.create("y", DBSubnetGroupName="g", VpcSecurityGroupIds=[group])
    with pytest.raises(AwsError) as info:
        rds.ec2("DeleteSecurityGroup", GroupId=group)
    assert info.value.code == "DependencyViolation"
    with pytest.raises(AwsError):
        rds.ec2("DeleteSubnet", SubnetId=subnets[0])
    assert used


def test_zone_spread(rds: Rds) -> None:
    zones = {rds.create(f"db{i}")["AvailabilityZone"] for i in range(3)}
    assert len(zones) == 3


# -- DescribeDBInstances --------------------------------------------------------------------------
def test_describe_by_arn_filters_pagination(rds: Rds) -> None:
    for i in range(25):
        rds.create(f"db{i:02d}")
    first = rds("DescribeDBInstances", MaxRecords=20)
    assert len(first["DBInstances"]) == 20 and "Marker" in first
    rest = rds("DescribeDBInstances", MaxRecords=20, Marker=first["Marker"])
    assert len(rest["DBInstances"]) == 5 and "Marker" not in rest
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db03"
    assert (
        rds("DescribeDBInstances", DBInstanceIdentifier=arn)["DBInstances"][0]["DBInstanceIdentifier"]
        == "db03"
    )
    resource_id = rds.describe("db04")["DbiResourceId"]
    found = rds("DescribeDBInstances", Filters=[{"Name": "dbi-resource-id", "Values": [resource_id]}])
    assert [d["DBInstanceIdentifier"] for d in found["DBInstances"]] == ["db04"]
    found = rds("DescribeDBInstances", Filters=[{"Name": "db-instance-id", "Values": [arn, "db05"]}])
    assert len(found["DBInstances"]) == 2
    assert (
        len(rds("DescribeDBInstances", Filters=[{"Name": "engine", "Values": ["postgres"]}])["DBInstances"])
        == 25
    )
    assert (
        rds("DescribeDBInstances", Filters=[{"Name": "db-cluster-id", "Values": ["c"]}])["DBInstances"] == []
    )
    assert rds("DescribeDBInstances", Filters=[{"Name": "domain", "Values": ["d"]}])["DBInstances"] == []
    assert (
        rds.code("DescribeDBInstances", Filters=[{"Name": "bogus", "Values": ["x"]}])
        == "InvalidParameterValue"
    )
    assert rds.code("DescribeDBInstances", MaxRecords=5) == "InvalidParameterValue"
    err = rds.error("DescribeDBInstances", DBInstanceIdentifier="nope")
    assert err.code == "DBInstanceNotFound" and err.status == 404
    assert rds.call("rds", "DescribeDBInstances", region="us-east-1")["DBInstances"] == []


def test_status_is_derived_from_spec_and_status(rds: Rds) -> None:
    rds.create("s1", AllocatedStorage=100, MaxAllocatedStorage=200)
    assert rds.describe("s1")["DBInstanceStatus"] == "creating"
    rds.available("s1", parameter_apply_status="pending-reboot")
    assert rds.describe("s1")["DBInstanceStatus"] == "backing-up"  # until the first automated backup
    rds.backed_up("s1")
    db = rds.describe("s1")
    assert db["DBInstanceStatus"] == "available"
    assert db["Endpoint"] == {"Address": "127.0.1.1", "Port": 5432, "HostedZoneId": "Z24O6O9L7SGTNB"}
    assert db["EngineVersion"] == "16.11"
    assert db["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"
    rds.set_status("s1", applied={"DBInstanceClass": "db.t3.micro", "AllocatedStorage": 150, "Port": 5432})
    db = rds.describe("s1")
    assert db["DBInstanceStatus"] == "available" and db["AllocatedStorage"] == 150  # autoscaled
    rds.set_status("s1", state="storage-full")
    assert rds.describe("s1")["DBInstanceStatus"] == "storage-full"
    rds.set_status("s1", state="backing-up")
    assert rds.describe("s1")["DBInstanceStatus"] == "backing-up"
