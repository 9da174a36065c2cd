"""RDS DB instances: CreateDBInstance and DescribeDBInstances, handlers called over a real SQLite store.

The engine catalogue is published by hand (two majors, a few parameters): the API plane only reads it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.ec2
import kura.services.kms
import kura.services.rds
import kura.services.secretsmanager  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.catalog import publish_postgres
from kura.clock import FakeClock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_INSTANCE
from kura.services.registry import Ctx, lookup
from kura.services.secretsmanager import internal as sm
from kura.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
PASSWORD = "Sup3r-secret!pass"


def _param(name: str, data_type: str, apply_type: str, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "context": "postmaster" if apply_type == "static" else "sighup",
        "apply_type": apply_type,
        "data_type": data_type,
        "unit": kw.get("unit"),
        "min": kw.get("min"),
        "max": kw.get("max"),
        "allowed_values": kw.get("allowed"),
        "default": kw.get("default"),
        "description": f"{name} setting",
        "is_modifiable": kw.get("modifiable", True),
    }


PARAMETERS = [
    _param(
        "shared_buffers",
        "integer",
        "static",
        unit="8kB",
        min="16",
        max="1073741823",
        allowed="16-1073741823",
        default="{DBInstanceClassMemory/32768}",
    ),
    _param("work_mem", "integer", "dynamic", unit="kB", min="64", max="2147483647", allowed="64-2147483647"),
    _param("maintenance_work_mem", "integer", "dynamic", unit="kB", min="1024", max="2147483647"),
    _param("effective_cache_size", "integer", "dynamic", unit="8kB", min="1", max="2147483647"),
    _param(
        "max_connections",
        "integer",
        "static",
        min="1",
        max="262143",
        default="LEAST({DBInstanceClassMemory/9531392},5000)",
    ),
    _param("log_min_duration_statement", "integer", "dynamic", unit="ms", min="-1", max="2147483647"),
    _param("checkpoint_timeout", "integer", "dynamic", unit="s", min="30", max="86400"),
    _param("wal_buffers", "integer", "static", unit="8kB", min="-1", max="262143"),
    _param("autovacuum", "boolean", "dynamic", allowed="0,1", default="1"),
    _param(
        "log_min_messages",
        "string",
        "dynamic",
        allowed="debug5,debug4,debug3,debug2,debug1,info,notice,warning,error,log,fatal,panic",
    ),
    _param("log_destination", "string", "dynamic"),
    _param(
        "shared_preload_libraries",
        "list",
        "static",
        allowed="auto_explain,pg_stat_statements",
        default="pg_stat_statements",
    ),
    _param("random_page_cost", "float", "dynamic", min="0", max="1.79769e+308"),
    _param("rds.force_ssl", "boolean", "dynamic", allowed="0,1", default="0"),
    _param("data_directory", "string", "static", modifiable=False),
    _param("password_encryption", "string", "dynamic", allowed="md5,scram-sha-256", default="scram-sha-256",
           modifiable=False),
]
CATALOGUE = [
    {"major": 15, "version": "15.18", "source": "debian", "parameters": PARAMETERS},
    {"major": 16, "version": "16.11", "source": "kura", "parameters": PARAMETERS},
]


class Rds:
    """Calls RDS (and EC2, KMS, Secrets Manager) handlers as the gateway does, on a throwaway store."""

    def __init__(self, home: Path) -> None:
        self.clock = FakeClock()
        self.store = SqliteStore(home / "state.db", self.clock)
        self.env = Env(self.store, self.clock, Settings(home=home), ACCOUNT, MasterKey(os.urandom(32)))
        publish_postgres(self.store, CATALOGUE)

    def call(self, service: str, op: str, region: str = REGION, **params: Any) -> dict[str, Any]:
        handler = lookup(service, op)
        assert handler is not None, op
        return handler(Ctx(self.env, service, op, region, "req-1"), params)

    def __call__(self, op: str, **params: Any) -> dict[str, Any]:
        return self.call("rds", op, **params)

    def error(self, op: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as info:
            self(op, **params)
        return info.value

    def code(self, op: str, **params: Any) -> str:
        return self.error(op, **params).code

    def ec2(self, op: str, **params: Any) -> dict[str, Any]:
        return self.call("ec2", op, **params)

    def network(self) -> tuple[str, list[str], str]:
        """A VPC with private subnets in two zones and a security group: (vpc, subnets, group)."""
        vpc = self.ec2("CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            self.ec2(
                "CreateSubnet", VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}"
            )["Subnet"]["SubnetId"]
            for i, zone in ((1, "a"), (2, "c"))
        ]
        group = self.ec2("CreateSecurityGroup", GroupName="rds", Description="rds", VpcId=vpc)["GroupId"]
        return vpc, subnets, group

    def create(self, ident: str = "db1", **params: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "DBInstanceClass": "db.t3.micro",
            "Engine": "postgres",
            "AllocatedStorage": 20,
            "MasterUsername": "admin_user",
            "MasterUserPassword": PASSWORD,
        }
        base.update(params)
        base = {k: v for k, v in base.items() if v is not None}
        out: dict[str, Any] = self("CreateDBInstance", DBInstanceIdentifier=ident, **base)["DBInstance"]
        return out

    def describe(self, ident: str) -> dict[str, Any]:
        out: dict[str, Any] = self("DescribeDBInstances", DBInstanceIdentifier=ident)["DBInstances"][0]
        return out

    def set_status(self, ident: str, **status: Any) -> None:
        """Play the control plane: write the observed state."""
        res = self.store.get(KIND_INSTANCE, REGION, ident)
        assert res is not None
        self.store.update(res, status={**res.status, **status})

    def available(self, ident: str, **extra: Any) -> None:
        res = self.store.get(KIND_INSTANCE, REGION, ident)
        assert res is not None
        applied = {k: res.spec.get(k) for k in ("DBInstanceClass", "AllocatedStorage", "Port")}
        self.set_status(
            ident,
            state="available",
            address="127.0.1.1",
            port=res.spec["Port"],
            reboot_seq=res.spec["reboot_seq"],
            password_seq=res.spec["password_seq"],
            applied=applied,
            engine_version="16.11",
            **extra,
        )

    def backed_up(self, ident: str) -> None:
        """The automated backup reconciler's first base backup (until then the instance is backing-up)."""
        res = self.store.get(KIND_INSTANCE, REGION, ident)
        assert res is not None
        ab = self.store.get(KIND_AUTOMATED_BACKUP, REGION, str(res.spec.get("DbiResourceId")))
        if ab is not None and not ab.status.get("backups"):
            now = self.clock.now()
            self.store.update(ab, status={**ab.status, "state": "active", "earliest": now, "backups": [
                {"id": "first", "started": now, "finished": now, "start_lsn": "0/2000028",
                 "timeline": 1, "size": 1}]})

    def spec(self, ident: str) -> dict[str, Any]:
        res = self.store.get(KIND_INSTANCE, REGION, ident)
        assert res is not None
        return res.spec


def open_rds(tmp_path: Path) -> Iterator[Rds]:
    r = Rds(tmp_path)
    yield r
    r.store.close()


rds_fixture = pytest.fixture(name="rds")(open_rds)


# -- CreateDBInstance --------------------------------------------------------------------------
def test_create_with_defaults_answers_creating(rds: Rds) -> None:
    db = rds.create("MyDB")
    assert db["DBInstanceIdentifier"] == "mydb"
    assert db["DBInstanceStatus"] == "creating"
    assert "Endpoint" not in db
    assert db["Engine"] == "postgres" and db["EngineVersion"] == "16.11"
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "default"
    assert len(db["DBSubnetGroup"]["Subnets"]) == 3
    assert db["AvailabilityZone"].startswith(REGION)
    assert db["PubliclyAccessible"] is True
    assert db["DBParameterGroups"] == [
        {"DBParameterGroupName": "default.postgres16", "ParameterApplyStatus": "in-sync"}
    ]
    assert len(db["VpcSecurityGroups"]) == 1
    assert db["DbiResourceId"].startswith("db-") and len(db["DbiResourceId"]) == 29
    assert db["DbiResourceId"][3:].isupper() or db["DbiResourceId"][3:].isalnum()
    assert db["DBInstanceArn"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:db:mydb"
    assert db["StorageType"] == "gp2" and db["AllocatedStorage"] == 20
    assert db["BackupRetentionPeriod"] == 1 and db["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
    assert db["InstanceCreateTime"] == rds.clock.now()
    assert db["PendingModifiedValues"] == {}
    assert "MasterUserPassword" not in json.dumps(db) and PASSWORD not in json.dumps(db)
    spec = rds.spec("mydb")
    assert spec["desired"] == "available" and spec["reboot_seq"] == 0 and spec["Port"] == 5432
    sealed = base64.b64decode(spec["master_password_sealed"])
    assert rds.env.master_key.unseal(sealed, aad=db["DBInstanceArn"].encode()).decode() == PASSWORD
    events = rds("DescribeEvents", SourceType="db-instance", SourceIdentifier="mydb")["Events"]
    assert [e["EventCategories"] for e in events] == [["creation"]]


def test_create_seed_000_parameters(rds: Rds) -> None:
    _, subnets, group = rds.network()
    rds(
        "CreateDBSubnetGroup",
        DBSubnetGroupName="auratime-db-subnet-group",
        DBSubnetGroupDescription="DB subnet group for AuraTime",
        SubnetIds=subnets,
    )
    db = rds.create(
        "auratime-db",
        DBInstanceClass="db.t3.medium",
        EngineVersion="16.4",
        MasterUsername="auratime_admin",
        AllocatedStorage=100,
        StorageType="gp3",
        StorageEncrypted=True,
        KmsKeyId="alias/aws/rds",
        DBName="auratime",
        DBSubnetGroupName="auratime-db-subnet-group",
        VpcSecurityGroupIds=[group],
        BackupRetentionPeriod=7,
        PreferredBackupWindow="03:00-04:00",
        PreferredMaintenanceWindow="sun:04:00-sun:05:00",
        MultiAZ=True,
        PubliclyAccessible=False,
        AutoMinorVersionUpgrade=True,
        EnablePerformanceInsights=True,
        PerformanceInsightsRetentionPeriod=7,
        DeletionProtection=True,
        Tags=[{"Key": "Name", "Value": "auratime-db"}, {"Key": "Project", "Value": "AuraTime"}],
    )
    assert db["EngineVersion"] == "16.4"  # the minor asked for; the control plane runs 16.11
    assert db["StorageEncrypted"] is True and db["KmsKeyId"].startswith(
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"
    )
    assert db["Iops"] == 3000 and db["StorageThroughput"] == 125
    assert db["MultiAZ"] is True and db["SecondaryAvailabilityZone"] != db["AvailabilityZone"]
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": group, "Status": "active"}]
    assert db["PerformanceInsightsEnabled"] is True and db["PerformanceInsightsRetentionPeriod"] == 7
    assert db["DeletionProtection"] is True and db["PubliclyAccessible"] is False
    assert db["PreferredMaintenanceWindow"] == "sun:04:00-sun:05:00"
    assert {t["Key"]: t["Value"] for t in db["TagList"]} == {"Name": "auratime-db", "Project": "AuraTime"}
    assert db["DBName"] == "auratime"


def test_create_seed_004_parameters(rds: Rds) -> None:
    _, subnets, group = rds.network()
    rds(
        "CreateDBSubnetGroup",
        DBSubnetGroupName="prod-langpont-subnet-group",
        DBSubnetGroupDescription="Subnet group for LangPont RDS",
        SubnetIds=subnets,
    )
    rds(
        "CreateDBParameterGroup",
        DBParameterGroupName="langpont-postgres16-params",
        DBParameterGroupFamily="postgres16",
        Description="LangPont PostgreSQL 16 parameters",
    )
    key = rds.call("kms", "CreateKey")["KeyMetadata"]["KeyId"]
    rds.call("kms", "CreateAlias", AliasName="alias/langpont-rds-key", TargetKeyId=key)
    db = rds.create(
        "prod-langpont-db",
        DBInstanceClass="db.t3.medium",
        EngineVersion="16.1",
        AllocatedStorage=100,
        MaxAllocatedStorage=1000,
        StorageType="gp3",
        StorageEncrypted=True,
        KmsKeyId="alias/langpont-rds-key",
        MultiAZ=True,
        BackupRetentionPeriod=7,
        PreferredMaintenanceWindow="sun:03:00-sun:04:00",
        PreferredBackupWindow="03:00-04:00",
        DBParameterGroupName="langpont-postgres16-params",
        OptionGroupName="default:postgres-16",
        DBName="langpont",
        Port=5432,
        CharacterSetName="UTF8",
        MasterUsername="langpont_admin",
        DBSubnetGroupName="prod-langpont-subnet-group",
        VpcSecurityGroupIds=[group],
        PubliclyAccessible=False,
        MonitoringInterval=60,
        MonitoringRoleArn=f"arn:aws:iam::{ACCOUNT}:role/rds-monitoring",
        EnablePerformanceInsights=True,
        CopyTagsToSnapshot=True,
    )
    assert db["MaxAllocatedStorage"] == 1000 and db["KmsKeyId"].endswith(key)
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "langpont-postgres16-params"
    assert db["OptionGroupMemberships"] == [{"OptionGroupName": "default:postgres-16", "Status": "in-sync"}]
    assert db["MonitoringInterval"] == 60 and "RDSOSMetrics" in db["EnhancedMonitoringResourceArn"]
    assert db["CharacterSetName"] == "UTF8" and db["CopyTagsToSnapshot"] is True


def test_managed_master_user_password(rds: Rds) -> None:
    db = rds.create("managed", MasterUserPassword=None, ManageMasterUserPassword=True)
    secret = db["MasterUserSecret"]
    assert secret["SecretStatus"] == "active" and ":secret:rds!db-" in secret["SecretArn"]
    assert secret["KmsKeyId"].startswith("arn:aws:kms:")
    value = json.loads(str(sm.read_secret(rds.env, REGION, secret["SecretArn"])))
    assert value["username"] == "admin_user" and len(value["password"]) == 28
    assert not set(value["password"]) & set('/"@ ')
    assert "master_password_sealed" not in rds.spec("managed")
    described = rds.call("secretsmanager", "DescribeSecret", SecretId=secret["SecretArn"])
    assert described["OwningService"] == "rds" and described["RotationEnabled"] is True
