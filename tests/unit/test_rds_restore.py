"""RestoreDBInstanceFromDBSnapshot and RestoreDBInstanceToPointInTime over a real SQLite store: the
restored instance's spec (defaults from the source, `restore_from` for the reconciler), its automated
backup record, and every refusal. Sources are made ready as the reconcilers would."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kura.services.rds.records import KIND_AUTOMATED_BACKUP
from tests.unit.test_rds_automated_backups import START, automated, backed_up, ready
from tests.unit.test_rds_instances import ACCOUNT, REGION, Rds, rds_fixture
from tests.unit.test_rds_snapshots import AUTOMATED, snapshot, taken

__all__ = ["rds_fixture"]


def restore(rds: Rds, ident: str, snap: str, **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = rds("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier=ident,
                              DBSnapshotIdentifier=snap, **params)["DBInstance"]
    return out


def pitr(rds: Rds, target: str, **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = rds("RestoreDBInstanceToPointInTime", TargetDBInstanceIdentifier=target,
                              **params)["DBInstance"]
    return out


def source(rds: Rds, **params: Any) -> None:
    """db1 with a manual snapshot `snap` taken, and one base backup (restorable START+600 … START+900)."""
    base: dict[str, Any] = {"DBInstanceClass": "db.m6g.large", "AllocatedStorage": 50,
                            "BackupRetentionPeriod": 7, "DBName": "app", "Port": 5433,
                            "Tags": [{"Key": "team", "Value": "db"}]}
    ready(rds, **{**base, **params})
    snapshot(rds, "snap", Tags=[{"Key": "from", "Value": "snap"}])
    taken(rds, "snap")
    backed_up(rds, "db1", START, latest=START + 900)


# -- RestoreDBInstanceFromDBSnapshot ---------------------------------------------------------------------
def test_restore_from_a_manual_snapshot(rds: Rds) -> None:
    source(rds)
    db = restore(rds, "Copy1", "snap")
    assert db["DBInstanceIdentifier"] == "copy1" and db["DBInstanceStatus"] == "creating"
    assert db["DBInstanceClass"] == "db.m6g.large" and db["AllocatedStorage"] == 50
    assert db["EngineVersion"] == "16.11" and db["MasterUsername"] == "admin_user" and db["DBName"] == "app"
    assert db["BackupRetentionPeriod"] == 7  # inherited from the source
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "default.postgres16"
    assert db["MultiAZ"] is False and db["StorageEncrypted"] is False
    assert db["TagList"] == [{"Key": "from", "Value": "snap"}]  # the snapshot's, none being asked for
    assert db["DbiResourceId"] != rds.spec("db1")["DbiResourceId"]
    spec = rds.spec("copy1")
    assert spec["restore_from"] == {"snapshot": "snap"} and spec["desired"] == "available"
    assert "master_password_sealed" not in spec and spec["ManageMasterUserPassword"] is False
    assert spec["Port"] == 5433
    ab = rds.store.get(KIND_AUTOMATED_BACKUP, REGION, spec["DbiResourceId"])
    assert ab is not None and ab.spec["desired"] == "active" and ab.spec["BackupRetentionPeriod"] == 7
    events = rds("DescribeEvents", SourceType="db-instance", SourceIdentifier="copy1")["Events"]
    assert [(e["Message"], e["EventCategories"]) for e in events] == [
        ("Restored from snapshot snap", ["restoration"])]


def test_restore_with_settings(rds: Rds) -> None:
    source(rds)
    _, subnets, group = rds.network()
    rds("CreateDBSubnetGroup", DBSubnetGroupName="private", DBSubnetGroupDescription="p", SubnetIds=subnets)
    rds("CreateDBParameterGroup", DBParameterGroupName="pg16", DBParameterGroupFamily="postgres16",
        Description="mine")
    db = restore(rds, "copy2", f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:snap", DBInstanceClass="db.t3.small",
                 AllocatedStorage=100, StorageType="io1", Iops=1000, Port=6000, DBSubnetGroupName="private",
                 VpcSecurityGroupIds=[group], MultiAZ=True, PubliclyAccessible=False, DeletionProtection=True,
                 DBParameterGroupName="pg16", BackupRetentionPeriod=0, CopyTagsToSnapshot=True,
                 EnableIAMDatabaseAuthentication=True, EnableCloudwatchLogsExports=["postgresql"],
                 CACertificateIdentifier="rds-ca-ecc384-g1", AutoMinorVersionUpgrade=False,
                 Tags=[{"Key": "own", "Value": "1"}])
    assert db["DBInstanceClass"] == "db.t3.small" and db["AllocatedStorage"] == 100
    assert db["StorageType"] == "io1" and db["Iops"] == 1000 and db["MultiAZ"] is True
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "private" and db["PubliclyAccessible"] is False
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": group, "Status": "active"}]
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "pg16" and db["DeletionProtection"] is True
    assert db["IAMDatabaseAuthenticationEnabled"] is True
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert db["CACertificateIdentifier"] == "rds-ca-ecc384-g1" and db["AutoMinorVersionUpgrade"] is False
    assert db["TagList"] == [{"Key": "own", "Value": "1"}] and db["BackupRetentionPeriod"] == 0
    assert rds.spec("copy2")["Port"] == 6000
    assert [b["DBInstanceIdentifier"] for b in automated(rds)] == ["db1"]  # no backups for copy2


def test_restore_refusals(rds: Rds) -> None:
    source(rds)
    snapshot(rds, "fresh")
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x",
                    DBSnapshotIdentifier="fresh") == "InvalidDBSnapshotState"
    err = rds.error("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="nope")
    assert err.code == "DBSnapshotNotFound" and err.status == 404
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="db1",
                    DBSnapshotIdentifier="snap") == "DBInstanceAlreadyExists"
    err = rds.error("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="snap",
                    DBName="other")
    assert err.code == "InvalidParameterValue" and "DBName must be null" in err.message
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="snap",
                    AllocatedStorage=40) == "InvalidParameterCombination"
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="snap",
                    ManageMasterUserPassword=True) == "InvalidParameterCombination"
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="snap",
                    Engine="mysql") == "InvalidParameterCombination"
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="snap",
                    DBParameterGroupName="nope") == "DBParameterGroupNotFound"
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="snap",
                    DBInstanceClass="db.bogus") == "InvalidParameterValue"
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x--y",
                    DBSnapshotIdentifier="snap") == "InvalidParameterValue"
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x") \
        == "InvalidParameterCombination"
    assert rds.code("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x",
                    DBClusterSnapshotIdentifier="c") == "InvalidParameterCombination"
    assert rds.code("DescribeDBInstances", DBInstanceIdentifier="x") == "DBInstanceNotFound"


def test_restore_keeps_the_encryption_of_the_snapshot(rds: Rds) -> None:
    source(rds, StorageEncrypted=True)
    db = restore(rds, "copy", "snap")
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == rds.spec("db1")["KmsKeyId"]


def test_restore_from_an_automated_snapshot(rds: Rds) -> None:
    source(rds)
    db = restore(rds, "copy", AUTOMATED)
    assert db["DBInstanceStatus"] == "creating" and db["DBInstanceClass"] == "db.m6g.large"
    assert rds.spec("copy")["restore_from"] == {"automated_backup": rds.spec("db1")["DbiResourceId"],
                                                 "time": START + 600}


def test_restore_of_a_snapshot_whose_major_is_not_installed(rds: Rds) -> None:
    source(rds)
    snap = rds.store.get("rds.db-snapshot", REGION, "snap")
    assert snap is not None
    rds.store.update(snap, spec={**snap.spec, "EngineVersion": "14.12"})
    err = rds.error("RestoreDBInstanceFromDBSnapshot", DBInstanceIdentifier="x", DBSnapshotIdentifier="snap")
    assert err.code == "InvalidParameterCombination" and "kura engines install 14" in err.message


# -- RestoreDBInstanceToPointInTime ----------------------------------------------------------------------
def test_point_in_time_restore(rds: Rds) -> None:
    source(rds)
    db = pitr(rds, "at", SourceDBInstanceIdentifier="db1",
              RestoreTime=dt.datetime.fromtimestamp(START + 700, dt.UTC))
    assert db["DBInstanceStatus"] == "creating" and db["DBInstanceClass"] == "db.m6g.large"
    assert db["DBName"] == "app" and db["AllocatedStorage"] == 50 and db["BackupRetentionPeriod"] == 7
    assert db["TagList"] == []
    dbi = rds.spec("db1")["DbiResourceId"]
    assert rds.spec("at")["restore_from"] == {"automated_backup": dbi, "time": START + 700}
    latest = pitr(rds, "latest", SourceDbiResourceId=dbi, UseLatestRestorableTime=True,
                  DBInstanceClass="db.t3.micro", Tags=[{"Key": "k", "Value": "v"}])
    assert latest["DBInstanceClass"] == "db.t3.micro" and latest["TagList"] == [{"Key": "k", "Value": "v"}]
    assert rds.spec("latest")["restore_from"] == {"automated_backup": dbi, "time": None}
    arn = automated(rds, DbiResourceId=dbi)[0]["DBInstanceAutomatedBackupsArn"]
    pitr(rds, "by-arn", SourceDBInstanceAutomatedBackupsArn=arn, RestoreTime=START + 900)
    assert rds.spec("by-arn")["restore_from"]["time"] == START + 900
    messages = [e["Message"] for e in rds("DescribeEvents", SourceType="db-instance")["Events"]
                if e["SourceIdentifier"] in ("at", "latest")]
    assert messages == ["Restored from DB instance db1 to 2023-11-14T22:25:00Z",
                        "Restored from DB instance db1 to the latest restorable time"]
    assert len(automated(rds)) == 4  # the restored instances have backups of their own


def test_point_in_time_restore_from_a_retained_backup(rds: Rds) -> None:
    source(rds)
    dbi = rds.spec("db1")["DbiResourceId"]
    rds("DeleteDBInstance", DBInstanceIdentifier="db1", SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
    assert rds.code("RestoreDBInstanceToPointInTime", TargetDBInstanceIdentifier="x",
                    SourceDBInstanceIdentifier="nope", UseLatestRestorableTime=True) == "DBInstanceNotFound"
    db = pitr(rds, "back", SourceDbiResourceId=dbi, RestoreTime=START + 800)
    assert db["DBInstanceClass"] == "db.m6g.large" and db["AllocatedStorage"] == 50
    assert rds.spec("back")["restore_from"] == {"automated_backup": dbi, "time": START + 800}
    rds("DeleteDBInstanceAutomatedBackup", DbiResourceId=dbi)
    assert rds.code("RestoreDBInstanceToPointInTime", TargetDBInstanceIdentifier="y", SourceDbiResourceId=dbi,
                    UseLatestRestorableTime=True) == "DBInstanceAutomatedBackupNotFound"


def test_point_in_time_restore_refusals(rds: Rds) -> None:
    source(rds)
    ready(rds, "nobackups", BackupRetentionPeriod=0)
    ready(rds, "young")

    def code(**params: Any) -> str:
        return rds.code("RestoreDBInstanceToPointInTime", **{"TargetDBInstanceIdentifier": "x", **params})

    assert code(SourceDBInstanceIdentifier="db1", RestoreTime=START + 700, UseLatestRestorableTime=True) \
        == "InvalidParameterCombination"
    assert code(SourceDBInstanceIdentifier="db1") == "InvalidParameterCombination"
    assert code(UseLatestRestorableTime=True) == "InvalidParameterCombination"
    assert code(SourceDBInstanceIdentifier="db1", SourceDbiResourceId="db-X",
                UseLatestRestorableTime=True) == "InvalidParameterCombination"
    err = rds.error("RestoreDBInstanceToPointInTime", TargetDBInstanceIdentifier="x",
                    SourceDBInstanceIdentifier="db1", RestoreTime=START + 100)
    assert err.code == "InvalidRestoreFault"
    assert err.message == "Restore time must be between 2023-11-14T22:23:20Z and 2023-11-14T22:28:20Z."
    assert code(SourceDBInstanceIdentifier="db1", RestoreTime=START + 901) == "InvalidRestoreFault"
    assert code(SourceDBInstanceIdentifier="young", UseLatestRestorableTime=True) == "InvalidRestoreFault"
    assert code(SourceDBInstanceIdentifier="nobackups", UseLatestRestorableTime=True) \
        == "PointInTimeRestoreNotEnabled"
    assert code(SourceDbiResourceId="db-NOPE", UseLatestRestorableTime=True) \
        == "DBInstanceAutomatedBackupNotFound"
    assert code(SourceDBInstanceIdentifier="db1", UseLatestRestorableTime=True, DBName="x") \
        == "InvalidParameterValue"
    assert rds.code("RestoreDBInstanceToPointInTime", TargetDBInstanceIdentifier="young",
                    SourceDBInstanceIdentifier="db1", UseLatestRestorableTime=True) \
        == "DBInstanceAlreadyExists"
    assert code(SourceDBInstanceIdentifier="db1", UseLatestRestorableTime=True, MaxAllocatedStorage=40) \
        == "InvalidParameterCombination"
    db = pitr(rds, "grow", SourceDBInstanceIdentifier="db1", UseLatestRestorableTime=True,
              MaxAllocatedStorage=200)
    assert db["MaxAllocatedStorage"] == 200
