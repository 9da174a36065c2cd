"""RDS API errors through the real AWS CLI and boto3: AWS's codes for what the issue lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_rds_api_seed import cleanup, ensure_catalogue
from tests.kura_fixture import KuraServer

PASSWORD = "Integration-pass1"


@pytest.fixture(scope="module")
def family(kura: KuraServer) -> str:
    families = ensure_catalogue(kura)
    if not families:
        pytest.skip("no PostgreSQL engine is installed on this host")
    return families[-1]


@pytest.fixture
def made(kura: KuraServer) -> Iterator[list[str]]:
    idents: list[str] = []
    yield idents
    for ident in idents:
        cleanup(kura, ident)


def _create_args(ident: str, *extra: str) -> list[str]:
    return [
        "rds",
        "create-db-instance",
        "--db-instance-identifier",
        ident,
        "--db-instance-class",
        "db.t3.micro",
        "--engine",
        "postgres",
        "--master-username",
        "kura_admin",
        "--master-user-password",
        PASSWORD,
        "--allocated-storage",
        "20",
        *extra,
    ]


def _error(kura: KuraServer, *args: str) -> str:
    proc: Any = kura.aws(*args, check=False)
    assert proc.returncode != 0, proc.stdout
    return str(proc.stderr)


def test_create_answers_creating_then_errors(kura: KuraServer, family: str, made: list[str]) -> None:
    made.append("api-errors-db")
    db = kura.aws(*_create_args("api-errors-db"))["DBInstance"]
    assert db["DBInstanceStatus"] == "creating"
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == f"default.{family}"
    assert "DBInstanceAlreadyExists" in _error(kura, *_create_args("api-errors-db"))
    assert "InvalidParameterCombination" in _error(
        kura, *_create_args("bad-class", "--db-instance-class", "db.q9.huge")
    )
    stderr = _error(kura, *_create_args("bad-version", "--engine-version", "13.4"))
    assert "InvalidParameterCombination" in stderr and "kura engines install 13" in stderr
    short = _create_args("short-pass")
    short[short.index(PASSWORD)] = "short"
    assert "InvalidParameterValue" in _error(kura, *short)
    assert "DBSubnetGroupNotFoundFault" in _error(
        kura, *_create_args("no-group", "--db-subnet-group-name", "missing-group")
    )


def test_subnet_group_in_one_zone_is_refused(kura: KuraServer) -> None:
    vpc = kura.aws("ec2", "create-vpc", "--cidr-block", "10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        kura.aws(
            "ec2",
            "create-subnet",
            "--vpc-id",
            vpc,
            "--cidr-block",
            cidr,
            "--availability-zone",
            "ap-northeast-1a",
        )["Subnet"]["SubnetId"]
        for cidr in ("10.30.1.0/24", "10.30.2.0/24")
    ]
    stderr = _error(
        kura,
        "rds",
        "create-db-subnet-group",
        "--db-subnet-group-name",
        "one-zone",
        "--db-subnet-group-description",
        "d",
        "--subnet-ids",
        *subnets,
    )
    assert "DBSubnetGroupDoesNotCoverEnoughAZs" in stderr


def test_boto3_lifecycle_answers(kura: KuraServer, family: str, made: list[str]) -> None:
    rds = kura.client("rds")
    made.append("api-boto-db")
    rds.create_db_instance(
        DBInstanceIdentifier="api-boto-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="kura_admin",
        ManageMasterUserPassword=True,
        AllocatedStorage=20,
    )
    db = rds.describe_db_instances(DBInstanceIdentifier="api-boto-db")["DBInstances"][0]
    assert db["MasterUserSecret"]["SecretArn"].split(":secret:")[1].startswith("rds!db-")
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier="no-such-db")
    with pytest.raises(rds.exceptions.DBParameterGroupNotFoundFault):
        rds.describe_db_parameters(DBParameterGroupName="no-such-group")
    versions = rds.describe_db_engine_versions(Engine="postgres", DefaultOnly=True)["DBEngineVersions"]
    assert versions[0]["DBParameterGroupFamily"] == family
    arn = db["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Team", "Value": "db"}])
    assert {"Key": "Team", "Value": "db"} in rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    categories = rds.describe_event_categories(SourceType="db-instance")["EventCategoriesMapList"]
    assert "creation" in categories[0]["EventCategories"]
