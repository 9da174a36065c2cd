"""Seeds 000 (section 2) and 004 through the real AWS CLI against a real Kura: the API plane only.

The engine lifecycle (instances becoming `available`) is the reconcilers' work and is not waited on
here, except to clean up. The engine catalogue comes from the control plane's real publisher (the
PostgreSQL builds installed on this host); tests needing PostgreSQL 16 skip when it is not installed.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator

import pytest

from kura.store.sqlite import SqliteStore
from tests.kura_fixture import KuraServer

SEED_004_CFN = {
    "shared_buffers": "1048576",
    "work_mem": "16384",
    "maintenance_work_mem": "262144",
    "effective_cache_size": "393216",
    "max_connections": "300",
    "log_min_duration_statement": "1000",
    "autovacuum": "on",
}


def ensure_catalogue(kura: KuraServer) -> list[str]:
    """The families Kura offers; published with the control plane's own publisher if not yet done."""
    rds = kura.client("rds")
    found = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    if not found:
        from kura.control.rds import catalog_publisher

        store = SqliteStore(kura.home / "state.db")
        try:
            catalog_publisher.publish(store)
        finally:
            store.close()
        found = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    return sorted({v["DBParameterGroupFamily"] for v in found})


def needs_16(families: list[str]) -> None:
    if "postgres16" not in families:
        pytest.skip("PostgreSQL 16 is not installed on this host (kura engines install 16)")


def cleanup(kura: KuraServer, ident: str, timeout: float = 60.0) -> None:
    """Delete an instance we made and wait until it is gone, so that no PostgreSQL outlives the test
    (deletion protection needs the instance available first, to turn it off)."""
    rds = kura.client("rds")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            db = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        except rds.exceptions.DBInstanceNotFoundFault:
            return
        status = db["DBInstanceStatus"]
        if db["DeletionProtection"] and status == "available":
            rds.modify_db_instance(
                DBInstanceIdentifier=ident, DeletionProtection=False, ApplyImmediately=True
            )
        elif not db["DeletionProtection"] and status != "deleting":
            rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def network(kura: KuraServer) -> dict[str, str]:
    """Seed 000's prerequisites (910_AWS環境構築.md): a VPC, two private subnets, RDS and Redis groups."""
    vpc = kura.aws("ec2", "create-vpc", "--cidr-block", "10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for name, cidr, zone in (
        ("PRIVATE_SUBNET_1A", "10.20.11.0/24", "ap-northeast-1a"),
        ("PRIVATE_SUBNET_1C", "10.20.12.0/24", "ap-northeast-1c"),
    ):
        subnets[name] = kura.aws(
            "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", cidr, "--availability-zone", zone
        )["Subnet"]["SubnetId"]
    group = kura.aws(
        "ec2",
        "create-security-group",
        "--group-name",
        "auratime-rds-sg",
        "--description",
        "RDS",
        "--vpc-id",
        vpc,
    )["GroupId"]
    kura.aws(
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        group,
        "--protocol",
        "tcp",
        "--port",
        "5432",
        "--cidr",
        "10.20.0.0/16",
    )
    return {"VPC_ID": vpc, "RDS_SG": group, **subnets}


@pytest.fixture(scope="module")
def families(kura: KuraServer) -> list[str]:
    return ensure_catalogue(kura)


@pytest.fixture
def made(kura: KuraServer) -> Iterator[list[str]]:
    """Identifiers of the instances a test made, deleted afterwards."""
    idents: list[str] = []
    yield idents
    for ident in idents:
        cleanup(kura, ident)


def test_seed_000_section_2(
    kura: KuraServer, network: dict[str, str], families: list[str], made: list[str]
) -> None:
    needs_16(families)
    # 1.1: the master credentials (openssl rand -base64 32, less '/', which RDS refuses in passwords).
    password = base64.b64encode(os.urandom(32)).decode().replace("/", "+")
    secret = json.dumps({"username": "auratime_admin", "password": password})
    kura.aws(
        "secretsmanager",
        "create-secret",
        "--name",
        "auratime/rds/master",
        "--description",
        "RDS master credentials for AuraTime",
        "--secret-string",
        secret,
        "--tags",
        "Key=Project,Value=AuraTime",
        "Key=Service,Value=RDS",
    )
    # 2.1
    group = kura.aws(
        "rds",
        "create-db-subnet-group",
        "--db-subnet-group-name",
        "auratime-db-subnet-group",
        "--db-subnet-group-description",
        "DB subnet group for AuraTime",
        "--subnet-ids",
        network["PRIVATE_SUBNET_1A"],
        network["PRIVATE_SUBNET_1C"],
        "--tags",
        "Key=Name,Value=auratime-db-subnet-group",
        "Key=Project,Value=AuraTime",
    )
    assert group["DBSubnetGroup"]["VpcId"] == network["VPC_ID"]
    # 2.2
    kura.aws(
        "rds",
        "create-db-parameter-group",
        "--db-parameter-group-name",
        "auratime-postgres16",
        "--db-parameter-group-family",
        "postgres16",
        "--description",
        "Custom parameter group for AuraTime PostgreSQL 16",
        "--tags",
        "Key=Name,Value=auratime-postgres16",
        "Key=Project,Value=AuraTime",
    )
    # 2.3
    master = json.loads(
        kura.aws(
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "auratime/rds/master",
            "--query",
            "SecretString",
            "--output",
            "text",
        )
    )["password"]
    made.append("auratime-db")
    ident = kura.aws(
        "rds",
        "create-db-instance",
        "--db-instance-identifier",
        "auratime-db",
        "--db-instance-class",
        "db.t3.medium",
        "--engine",
        "postgres",
        "--engine-version",
        "16.4",
        "--master-username",
        "auratime_admin",
        "--master-user-password",
        master,
        "--allocated-storage",
        "100",
        "--storage-type",
        "gp3",
        "--storage-encrypted",
        "--kms-key-id",
        "alias/aws/rds",
        "--db-name",
        "auratime",
        "--db-subnet-group-name",
        "auratime-db-subnet-group",
        "--vpc-security-group-ids",
        network["RDS_SG"],
        "--backup-retention-period",
        "7",
        "--preferred-backup-window",
        "03:00-04:00",
        "--preferred-maintenance-window",
        "sun:04:00-sun:05:00",
        "--multi-az",
        "--publicly-accessible",
        "--no-publicly-accessible",
        "--auto-minor-version-upgrade",
        "--enable-performance-insights",
        "--performance-insights-retention-period",
        "7",
        "--deletion-protection",
        "--tags",
        "Key=Name,Value=auratime-db",
        "Key=Project,Value=AuraTime",
        "--query",
        "DBInstance.DBInstanceIdentifier",
        "--output",
        "text",
    )
    assert ident == "auratime-db"
    db = kura.aws("rds", "describe-db-instances", "--db-instance-identifier", ident)["DBInstances"][0]
    assert db["DBInstanceStatus"] in ("creating", "backing-up", "available")
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "auratime-db-subnet-group"
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": network["RDS_SG"], "Status": "active"}]
    assert db["MultiAZ"] is True and db["DeletionProtection"] is True and db["StorageType"] == "gp3"
    assert db["AvailabilityZone"] in ("ap-northeast-1a", "ap-northeast-1c")
    assert {t["Key"] for t in db["TagList"]} == {"Name", "Project"}
    # Deletion protection is honoured, with AWS's code.
    refused = kura.aws(
        "rds", "delete-db-instance", "--db-instance-identifier", ident, "--skip-final-snapshot", check=False
    )
    assert refused.returncode != 0 and "InvalidParameterCombination" in refused.stderr
    events = kura.aws("rds", "describe-events", "--source-type", "db-instance", "--source-identifier", ident)
    assert any("creation" in e["EventCategories"] for e in events["Events"])


def test_seed_004_parameter_group(kura: KuraServer, families: list[str]) -> None:
    needs_16(families)
    kura.aws(
        "rds",
        "create-db-parameter-group",
        "--db-parameter-group-name",
        "langpont-postgres16-params",
        "--db-parameter-group-family",
        "postgres16",
        "--description",
        "LangPont PostgreSQL 16 parameters",
    )
    # The CloudFormation Parameters of seed 004, as the CLI sends them.
    params = [f"ParameterName={k},ParameterValue={v}" for k, v in SEED_004_CFN.items()]
    kura.aws(
        "rds",
        "modify-db-parameter-group",
        "--db-parameter-group-name",
        "langpont-postgres16-params",
        "--parameters",
        *params,
    )
    # The SQL-style settings of the same document.
    sql_style = {
        "checkpoint_timeout": "600",
        "checkpoint_completion_target": "0.9",
        "wal_buffers": "2048",
        "log_destination": "csvlog",
        "log_checkpoints": "1",
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
        "autovacuum_max_workers": "3",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "log_statement": "ddl",
        "password_encryption": "scram-sha-256",
        "default_text_search_config": "pg_catalog.english",
    }
    for chunk in (list(sql_style.items())[:7], list(sql_style.items())[7:]):
        kura.aws(
            "rds",
            "modify-db-parameter-group",
            "--db-parameter-group-name",
            "langpont-postgres16-params",
            "--parameters",
            *[f"ParameterName={k},ParameterValue={v},ApplyMethod=pending-reboot" for k, v in chunk],
        )
    user = kura.client("rds").describe_db_parameters(
        DBParameterGroupName="langpont-postgres16-params", Source="user"
    )["Parameters"]
    got = {p["ParameterName"]: p["ParameterValue"] for p in user}
    pinned = ("password_encryption",)  # RDS pins it (scram-sha-256): asking for that value is a no-op
    assert got == {k: v for k, v in {**SEED_004_CFN, **sql_style}.items() if k not in pinned}


def test_parameter_pagination_and_defaults(kura: KuraServer, families: list[str]) -> None:
    rds = kura.client("rds")
    family = families[-1]
    paginator = rds.get_paginator("describe_db_parameters")
    names = [
        p["ParameterName"]
        for page in paginator.paginate(
            DBParameterGroupName=f"default.{family}", PaginationConfig={"PageSize": 50}
        )
        for p in page["Parameters"]
    ]
    assert len(names) > 200 and len(names) == len(set(names))
    assert {"shared_buffers", "max_connections", "work_mem"} <= set(names)
    defaults = rds.describe_engine_default_parameters(DBParameterGroupFamily=family)["EngineDefaults"]
    assert defaults["DBParameterGroupFamily"] == family and defaults["Parameters"]
    assert "Marker" in defaults
