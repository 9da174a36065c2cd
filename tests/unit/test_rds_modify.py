"""ModifyDBInstance, RebootDBInstance, StopDBInstance, StartDBInstance, DeleteDBInstance."""

from __future__ import annotations

import base64
import json

import pytest

from kura.services.rds.records import KIND_INSTANCE
from kura.services.secretsmanager import internal as sm
from kura.services.secretsmanager.model import find
from kura.services.secretsmanager.rotation import register_rotator, unregister_rotator
from tests.unit.test_rds_instances import ACCOUNT, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]


def _ready(rds: Rds, ident: str = "db1", **params: object) -> None:
    rds.create(ident, **params)
    rds.available(ident)
    rds.backed_up(ident)


def test_modify_apply_immediately_goes_into_the_spec(rds: Rds) -> None:
    _ready(rds)
    db = rds(
        "ModifyDBInstance",
        DBInstanceIdentifier="db1",
        DBInstanceClass="db.m6g.large",
        AllocatedStorage=30,
        ApplyImmediately=True,
    )["DBInstance"]
    assert db["DBInstanceStatus"] == "modifying"
    assert db["DBInstanceClass"] == "db.m6g.large" and db["AllocatedStorage"] == 30
    assert db["PendingModifiedValues"] == {}
    events = rds("DescribeEvents", SourceType="db-instance", EventCategories=["configuration change"])[
        "Events"
    ]
    assert "DBInstanceClass=db.m6g.large" in events[-1]["Message"]


def test_modify_without_apply_immediately_waits_in_pending_values(rds: Rds) -> None:
    _ready(rds)
    db = rds(
        "ModifyDBInstance",
        DBInstanceIdentifier="db1",
        DBInstanceClass="db.r6g.large",
        CACertificateIdentifier="rds-ca-ecc384-g1",
        MultiAZ=True,
        DeletionProtection=True,
        BackupRetentionPeriod=14,
    )["DBInstance"]
    assert db["DBInstanceStatus"] == "available"
    assert db["DBInstanceClass"] == "db.t3.micro"
    assert db["PendingModifiedValues"] == {
        "DBInstanceClass": "db.r6g.large",
        "MultiAZ": True,
        "CACertificateIdentifier": "rds-ca-ecc384-g1",
    }
    assert db["DeletionProtection"] is True and db["BackupRetentionPeriod"] == 14  # always at once
    # Turning backups off waits for the window; asking for the current value again clears a pending one.
    db = rds(
        "ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=0, DBInstanceClass="db.t3.micro"
    )["DBInstance"]
    assert db["PendingModifiedValues"]["BackupRetentionPeriod"] == 0
    assert "DBInstanceClass" not in db["PendingModifiedValues"]


def test_modify_network_parameter_group_and_flags(rds: Rds) -> None:
    _, subnets, group = rds.network()
    rds("CreateDBSubnetGroup", DBSubnetGroupName="g", DBSubnetGroupDescription="d", SubnetIds=subnets)
    _ready(rds, DBSubnetGroupName="g")
    rds(
        "CreateDBParameterGroup",
        DBParameterGroupName="pg16",
        DBParameterGroupFamily="postgres16",
        Description="d",
    )
    db = rds(
        "ModifyDBInstance",
        DBInstanceIdentifier="db1",
        VpcSecurityGroupIds=[group],
        DBParameterGroupName="pg16",
        DBPortNumber=6543,
        PreferredBackupWindow="05:00-05:30",
        PreferredMaintenanceWindow="Mon:06:00-Mon:07:00",
        MonitoringInterval=30,
        MonitoringRoleArn=f"arn:aws:iam::{ACCOUNT}:role/m",
        EnablePerformanceInsights=True,
        CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql", "upgrade"]},
        MaxAllocatedStorage=100,
        PubliclyAccessible=True,
    )["DBInstance"]
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": group, "Status": "active"}]
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "pg16"
    assert rds.spec("db1")["Port"] == 6543 and db["DBInstanceStatus"] == "modifying"
    assert db["PreferredMaintenanceWindow"] == "mon:06:00-mon:07:00"
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["PerformanceInsightsEnabled"] is True and db["PerformanceInsightsRetentionPeriod"] == 7
    assert db["MaxAllocatedStorage"] == 100 and db["PubliclyAccessible"] is True
    db = rds(
        "ModifyDBInstance",
        DBInstanceIdentifier="db1",
        CloudwatchLogsExportConfiguration={"DisableLogTypes": ["upgrade"]},
    )["DBInstance"]
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql"]


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        (
            {"AllocatedStorage": 10, "ApplyImmediately": True},
            "InvalidParameterCombination",
            "can't be reduced",
        ),
        ({"AllocatedStorage": 21}, "InvalidParameterCombination", "10%"),
        ({"DBInstanceClass": "db.nope.large"}, "InvalidParameterCombination", "RDS does not support"),
        ({"DBParameterGroupName": "default.postgres15"}, "InvalidParameterCombination", "postgres16"),
        ({"DBParameterGroupName": "nope"}, "DBParameterGroupNotFound", "nope"),
        ({"VpcSecurityGroupIds": ["sg-0123456789abcdef0"]}, "InvalidParameterValue", "sg-0123456789abcdef0"),
        ({"NewDBInstanceIdentifier": "db2"}, "InvalidParameterCombination", "renaming"),
        ({"EngineVersion": "15.18"}, "InvalidParameterCombination", "Cannot upgrade"),
        ({"EngineVersion": "14.1"}, "InvalidParameterCombination", "kura engines install 14"),
        ({"DBSubnetGroupName": "other"}, "InvalidParameterCombination", "another DB subnet group"),
        ({"MasterUserPassword": "bad pass word"}, "InvalidParameterValue", "printable ASCII"),
        (
            {"RotateMasterUserPassword": True, "ApplyImmediately": True},
            "InvalidParameterCombination",
            "ManageMasterUserPassword",
        ),
        (
            {"ManageMasterUserPassword": True, "MasterUserPassword": "Another-pass1"},
            "InvalidParameterCombination",
            "MasterUserPassword",
        ),
        ({"MonitoringInterval": 5}, "InvalidParameterCombination", "MonitoringRoleARN"),
        ({"CACertificateIdentifier": "rds-ca-2019"}, "CertificateNotFound", "rds-ca-2019"),
        ({"DBPortNumber": 22}, "InvalidParameterValue", "1150"),
    ],
)
def test_modify_errors(rds: Rds, params: dict[str, object], code: str, words: str) -> None:
    _ready(rds)
    err = rds.error("ModifyDBInstance", DBInstanceIdentifier="db1", **params)
    assert err.code == code, err.message
    assert words in err.message
    assert rds.spec("db1")["PendingModifiedValues"] == {}


def test_modify_needs_an_available_instance(rds: Rds) -> None:
    rds.create("db1")
    assert (
        rds.code("ModifyDBInstance", DBInstanceIdentifier="db1", DeletionProtection=True)
        == "InvalidDBInstanceState"
    )
    assert rds.code("ModifyDBInstance", DBInstanceIdentifier="nope") == "DBInstanceNotFound"


def test_master_password_change(rds: Rds) -> None:
    _ready(rds)
    db = rds("ModifyDBInstance", DBInstanceIdentifier="db1", MasterUserPassword="N3w-password")["DBInstance"]
    assert db["DBInstanceStatus"] == "resetting-master-credentials"
    assert db["PendingModifiedValues"] == {"MasterUserPassword": "****"}
    spec = rds.spec("db1")
    assert spec["password_seq"] == 1
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db1"
    assert (
        rds.env.master_key.unseal(base64.b64decode(spec["master_password_sealed"]), aad=arn.encode())
        == b"N3w-password"
    )


class _FakeRotator:
    """Owns RDS's secrets so RotateSecret accepts them; the steps themselves are the control plane's."""

    def owns(self, secret: object) -> bool:
        return getattr(secret, "owning_service", None) == "rds"

    def create_secret(self, rot: object) -> None: ...
    def set_secret(self, rot: object) -> None: ...
    def test_secret(self, rot: object) -> None: ...
    def finish_secret(self, rot: object) -> None: ...


def test_manage_master_user_password_on_rotate_and_off(rds: Rds) -> None:
    _ready(rds)
    db = rds(
        "ModifyDBInstance", DBInstanceIdentifier="db1", ManageMasterUserPassword=True, ApplyImmediately=True
    )["DBInstance"]
    secret = db["MasterUserSecret"]["SecretArn"]
    assert json.loads(str(sm.read_secret(rds.env, REGION, secret)))["username"] == "admin_user"
    spec = rds.spec("db1")
    assert "master_password_sealed" not in spec and spec["password_seq"] == 1
    assert rds.describe("db1")["DBInstanceStatus"] == "resetting-master-credentials"
    rds.available("db1")
    assert (
        rds.code("ModifyDBInstance", DBInstanceIdentifier="db1", MasterUserPassword="N3w-password")
        == "InvalidParameterCombination"
    )
    assert (
        rds.code("ModifyDBInstance", DBInstanceIdentifier="db1", RotateMasterUserPassword=True)
        == "InvalidParameterCombination"
    )
    register_rotator("test-rds", _FakeRotator())  # type: ignore[arg-type]
    try:
        rds(
            "ModifyDBInstance",
            DBInstanceIdentifier="db1",
            RotateMasterUserPassword=True,
            ApplyImmediately=True,
        )
        found = find(rds.env, REGION, secret)
        assert found is not None and found[1].rotation.pending is not None  # the control plane runs it
    finally:
        unregister_rotator("test-rds")
    assert (
        rds.code("ModifyDBInstance", DBInstanceIdentifier="db1", ManageMasterUserPassword=False)
        == "InvalidParameterCombination"
    )
    db = rds(
        "ModifyDBInstance",
        DBInstanceIdentifier="db1",
        ManageMasterUserPassword=False,
        MasterUserPassword="Back-to-mine1",
        ApplyImmediately=True,
    )["DBInstance"]
    assert "MasterUserSecret" not in db and rds.spec("db1")["password_seq"] == 2
    assert rds.call("secretsmanager", "ListSecrets")["SecretList"] == []


# -- reboot / stop / start / delete ------------------------------------------------------------------
def test_reboot(rds: Rds) -> None:
    _ready(rds)
    db = rds("RebootDBInstance", DBInstanceIdentifier="db1")["DBInstance"]
    assert db["DBInstanceStatus"] == "rebooting" and rds.spec("db1")["reboot_seq"] == 1
    assert rds.code("RebootDBInstance", DBInstanceIdentifier="db1") == "InvalidDBInstanceState"
    rds.available("db1")
    assert (
        rds.code("RebootDBInstance", DBInstanceIdentifier="db1", ForceFailover=True)
        == "InvalidParameterCombination"
    )
    assert rds.code("RebootDBInstance", DBInstanceIdentifier="nope") == "DBInstanceNotFound"
    _ready(rds, "multi", MultiAZ=True)
    rds("RebootDBInstance", DBInstanceIdentifier="multi", ForceFailover=True)
    assert rds.spec("multi")["force_failover"] == 1


def test_stop_and_start(rds: Rds) -> None:
    rds.create("db1")
    assert rds.code("StopDBInstance", DBInstanceIdentifier="db1") == "InvalidDBInstanceState"
    rds.available("db1")
    rds.backed_up("db1")
    assert rds.code("StartDBInstance", DBInstanceIdentifier="db1") == "InvalidDBInstanceState"
    db = rds("StopDBInstance", DBInstanceIdentifier="db1", DBSnapshotIdentifier="before-stop")["DBInstance"]
    assert db["DBInstanceStatus"] == "stopping" and rds.spec("db1")["stop_snapshot"] == "before-stop"
    assert rds.code("StopDBInstance", DBInstanceIdentifier="db1") == "InvalidDBInstanceState"
    rds.set_status("db1", state="stopped")
    assert rds.describe("db1")["DBInstanceStatus"] == "stopped"
    db = rds("StartDBInstance", DBInstanceIdentifier="db1")["DBInstance"]
    assert db["DBInstanceStatus"] == "starting" and rds.spec("db1")["desired"] == "available"
    rds.set_status("db1", state="available")
    assert rds.describe("db1")["DBInstanceStatus"] == "available"


def test_delete(rds: Rds) -> None:
    rds.create("db1", DeletionProtection=True)
    err = rds.error("DeleteDBInstance", DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert err.code == "InvalidParameterCombination" and "deletion protection" in err.message
    rds.available("db1")
    rds("ModifyDBInstance", DBInstanceIdentifier="db1", DeletionProtection=False)
    assert rds.code("DeleteDBInstance", DBInstanceIdentifier="db1") == "InvalidParameterCombination"
    assert (
        rds.code(
            "DeleteDBInstance",
            DBInstanceIdentifier="db1",
            SkipFinalSnapshot=True,
            FinalDBSnapshotIdentifier="final",
        )
        == "InvalidParameterCombination"
    )
    assert (
        rds.code("DeleteDBInstance", DBInstanceIdentifier="db1", FinalDBSnapshotIdentifier="bad--name")
        == "InvalidParameterValue"
    )
    db = rds(
        "DeleteDBInstance",
        DBInstanceIdentifier="db1",
        FinalDBSnapshotIdentifier="db1-final",
        DeleteAutomatedBackups=False,
    )["DBInstance"]
    assert db["DBInstanceStatus"] == "deleting"
    assert rds.spec("db1")["final_snapshot"] == {
        "skip": False,
        "identifier": "db1-final",
        "delete_automated_backups": False,
    }
    assert (
        rds.code("DeleteDBInstance", DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
        == "InvalidDBInstanceState"
    )
    # A creating instance may be deleted; the control plane removes the record when done.
    rds.create("db2")
    rds("DeleteDBInstance", DBInstanceIdentifier="db2", SkipFinalSnapshot=True)
    res = rds.store.get(KIND_INSTANCE, REGION, "db2")
    assert res is not None
    rds.store.delete(res)
    assert rds.code("DescribeDBInstances", DBInstanceIdentifier="db2") == "DBInstanceNotFound"
    categories = [
        e["EventCategories"]
        for e in rds("DescribeEvents", SourceType="db-instance", SourceIdentifier="db1")["Events"]
    ]
    assert ["deletion"] in categories


def test_storage_changes(rds: Rds) -> None:
    _ready(rds, "gp3", StorageType="gp3", AllocatedStorage=400, Iops=20000, StorageThroughput=1000)
    db = rds("ModifyDBInstance", DBInstanceIdentifier="gp3", AllocatedStorage=500, ApplyImmediately=True)
    assert (db["DBInstance"]["Iops"], db["DBInstance"]["StorageThroughput"]) == (20000, 1000)
    _ready(rds, "small", StorageType="gp3", AllocatedStorage=100)
    db = rds("ModifyDBInstance", DBInstanceIdentifier="small", AllocatedStorage=400, ApplyImmediately=True)
    assert (db["DBInstance"]["Iops"], db["DBInstance"]["StorageThroughput"]) == (12000, 500)
    _ready(rds, "gp2", AllocatedStorage=100)
    db = rds("ModifyDBInstance", DBInstanceIdentifier="gp2", StorageType="io1", Iops=3000)["DBInstance"]
    assert db["PendingModifiedValues"] == {"StorageType": "io1", "Iops": 3000}
    assert rds.code("ModifyDBInstance", DBInstanceIdentifier="gp2", StorageType="gp2", Iops=1000) == \
        "InvalidParameterCombination"
