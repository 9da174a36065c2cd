"""Automated backups: the record each instance with backups on gets (and keeps in step through
ModifyDBInstance and DeleteDBInstance), DescribeDBInstanceAutomatedBackups,
DeleteDBInstanceAutomatedBackup, and what the instance view takes from it. Statuses are written as the
automated-backup reconciler would."""

from __future__ import annotations

from typing import Any

from kura.services.rds.records import KIND_AUTOMATED_BACKUP
from kura.store.types import Resource
from tests.unit.test_rds_instances import ACCOUNT, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]

START = 1_700_000_000.0  # the fake clock's start: 2023-11-14 22:13:20 UTC


def ready(rds: Rds, ident: str = "db1", **params: Any) -> dict[str, Any]:
    rds.create(ident, **params)
    rds.available(ident)
    return rds.describe(ident)


def backup_of(rds: Rds, ident: str) -> Resource:
    res = rds.store.get(KIND_AUTOMATED_BACKUP, REGION, rds.spec(ident)["DbiResourceId"])
    assert res is not None
    return res


def backed_up(rds: Rds, ident: str, *starts: float, latest: float | None = None,
              taking: bool = False) -> None:
    """Play the automated-backup reconciler: base backups started at `starts`, ten minutes each."""
    res = backup_of(rds, ident)
    backups = [{"id": f"b{i}", "started": s, "finished": s + 600, "start_lsn": "0/2000028", "timeline": 1,
                "size": 1048576} for i, s in enumerate(starts)]
    rds.store.update(res, status={"state": "active", "taking": taking, "backups": backups,
                                  "earliest": backups[0]["finished"] if backups else None,
                                  "latest": latest, "size_bytes": 1048576 * len(backups)})


def automated(rds: Rds, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = rds("DescribeDBInstanceAutomatedBackups",
                                    **params)["DBInstanceAutomatedBackups"]
    return out


# -- the record --------------------------------------------------------------------------------------
def test_create_makes_the_automated_backup_record(rds: Rds) -> None:
    db = rds.create("db1", BackupRetentionPeriod=7, PreferredBackupWindow="03:00-03:30",
                    StorageEncrypted=True, EnableIAMDatabaseAuthentication=True, DBName="app")
    res = backup_of(rds, "db1")
    assert res.id == db["DbiResourceId"] and res.status == {"state": "creating"}
    assert res.spec["desired"] == "active" and res.spec["DBInstanceArn"] == db["DBInstanceArn"]
    assert res.spec["BackupRetentionPeriod"] == 7 and res.spec["PreferredBackupWindow"] == "03:00-03:30"
    assert res.spec["StorageEncrypted"] is True and res.spec["KmsKeyId"] == db["KmsKeyId"]
    assert res.spec["IAMDatabaseAuthenticationEnabled"] is True and res.spec["DBName"] == "app"
    assert res.spec["VpcId"].startswith("vpc-") and res.spec["InstanceCreateTime"] == START
    (view,) = automated(rds)
    assert view["Status"] == "creating" and "RestoreWindow" not in view
    assert view["DBInstanceIdentifier"] == "db1" and view["DbiResourceId"] == db["DbiResourceId"]
    assert view["Region"] == REGION and view["BackupTarget"] == "region" and view["Encrypted"] is True
    assert view["Engine"] == "postgres" and view["BackupRetentionPeriod"] == 7 and view["Port"] == 5432
    arn = view["DBInstanceAutomatedBackupsArn"]
    prefix = f"arn:aws:rds:{REGION}:{ACCOUNT}:auto-backup:ab-"
    assert arn.startswith(prefix) and len(arn) - len(prefix) >= 26 and arn == arn.lower()
    assert automated(rds)[0]["DBInstanceAutomatedBackupsArn"] == arn  # stable


def test_no_record_without_backups(rds: Rds) -> None:
    db = ready(rds, BackupRetentionPeriod=0)
    assert automated(rds) == [] and "LatestRestorableTime" not in db


def test_restore_window_latest_restorable_time_and_backing_up(rds: Rds) -> None:
    ready(rds)
    backed_up(rds, "db1", START, latest=START + 900, taking=True)
    db = rds.describe("db1")
    assert db["DBInstanceStatus"] == "backing-up" and db["LatestRestorableTime"] == START + 900
    (view,) = automated(rds)
    assert view["Status"] == "active"
    assert view["RestoreWindow"] == {"EarliestTime": START + 600, "LatestTime": START + 900}
    backed_up(rds, "db1", START, latest=START + 900)
    assert rds.describe("db1")["DBInstanceStatus"] == "available"
    backed_up(rds, "db1", START, latest=START + 900, taking=True)
    rds("RebootDBInstance", DBInstanceIdentifier="db1")
    assert rds.describe("db1")["DBInstanceStatus"] == "rebooting"  # only an available one shows it


# -- ModifyDBInstance and DeleteDBInstance -----------------------------------------------------------
def test_modify_keeps_the_record_in_step(rds: Rds) -> None:
    ready(rds)
    rds("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=14,
        PreferredBackupWindow="05:00-05:30")
    res = backup_of(rds, "db1")
    assert res.spec["BackupRetentionPeriod"] == 14 and res.spec["PreferredBackupWindow"] == "05:00-05:30"
    assert res.spec["desired"] == "active" and res.status == {"state": "creating"}
    rds("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=0)  # waits for the window
    assert backup_of(rds, "db1").spec["desired"] == "active"
    rds("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=0, ApplyImmediately=True)
    assert backup_of(rds, "db1").spec["desired"] == "deleted"
    assert automated(rds)[0]["Status"] == "deleting"
    assert "LatestRestorableTime" not in rds.describe("db1")
    err = rds.error("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=3,
                    ApplyImmediately=True)
    assert err.code == "InvalidDBInstanceState" and "still being deleted" in err.message
    rds.store.delete(backup_of(rds, "db1"))  # the reconciler removed it
    rds("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=3, ApplyImmediately=True)
    res = backup_of(rds, "db1")
    assert res.spec["desired"] == "active" and res.spec["BackupRetentionPeriod"] == 3


def test_turning_backups_on_creates_the_record(rds: Rds) -> None:
    ready(rds, BackupRetentionPeriod=0)
    rds("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=2)
    assert automated(rds) == []  # 0 → N waits for the maintenance window without ApplyImmediately
    rds("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=2, ApplyImmediately=True)
    assert [b["BackupRetentionPeriod"] for b in automated(rds)] == [2]


def test_delete_removes_or_retains_the_backups(rds: Rds) -> None:
    ready(rds, "gone")
    ready(rds, "kept")
    rds("DeleteDBInstance", DBInstanceIdentifier="gone", SkipFinalSnapshot=True)
    assert backup_of(rds, "gone").spec["desired"] == "deleted"
    rds("DeleteDBInstance", DBInstanceIdentifier="kept", SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
    kept = backup_of(rds, "kept")
    assert kept.spec["desired"] == "retained" and kept.spec["BackupRetentionPeriod"] == 1
    views = {b["DBInstanceIdentifier"]: b["Status"] for b in automated(rds)}
    assert views == {"gone": "deleting", "kept": "retained"}


# -- DeleteDBInstanceAutomatedBackup -----------------------------------------------------------------
def test_delete_automated_backup(rds: Rds) -> None:
    ready(rds, "db1")
    ready(rds, "db2")
    dbi = rds.spec("db1")["DbiResourceId"]
    assert rds.code("DeleteDBInstanceAutomatedBackup", DbiResourceId=dbi) \
        == "InvalidDBInstanceAutomatedBackupState"
    rds("DeleteDBInstance", DBInstanceIdentifier="db1", SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
    out = rds("DeleteDBInstanceAutomatedBackup", DbiResourceId=dbi)["DBInstanceAutomatedBackup"]
    assert out["Status"] == "deleting" and out["DbiResourceId"] == dbi
    assert rds.code("DeleteDBInstanceAutomatedBackup", DbiResourceId=dbi) \
        == "InvalidDBInstanceAutomatedBackupState"
    rds("DeleteDBInstance", DBInstanceIdentifier="db2", SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
    arn = automated(rds, DBInstanceIdentifier="db2")[0]["DBInstanceAutomatedBackupsArn"]
    out = rds("DeleteDBInstanceAutomatedBackup",
              DBInstanceAutomatedBackupsArn=arn)["DBInstanceAutomatedBackup"]
    assert out["DBInstanceIdentifier"] == "db2" and out["Status"] == "deleting"
    err = rds.error("DeleteDBInstanceAutomatedBackup", DbiResourceId="db-NOPE")
    assert err.code == "DBInstanceAutomatedBackupNotFound" and err.status == 404
    assert rds.code("DeleteDBInstanceAutomatedBackup",
                    DBInstanceAutomatedBackupsArn=arn[:-3] + "zzz") == "DBInstanceAutomatedBackupNotFound"
    assert rds.code("DeleteDBInstanceAutomatedBackup") == "InvalidParameterCombination"


# -- DescribeDBInstanceAutomatedBackups ----------------------------------------------------------------
def test_describe_filters(rds: Rds) -> None:
    ready(rds, "db1")
    ready(rds, "db2")
    ready(rds, "db3", BackupRetentionPeriod=0)
    dbi = rds.spec("db2")["DbiResourceId"]
    assert {b["DBInstanceIdentifier"] for b in automated(rds)} == {"db1", "db2"}
    assert [b["DbiResourceId"] for b in automated(rds, DbiResourceId=dbi)] == [dbi]
    assert [b["DBInstanceIdentifier"] for b in automated(rds, DBInstanceIdentifier="DB2")] == ["db2"]
    assert automated(rds, DBInstanceIdentifier="db3") == []
    arn = automated(rds, DbiResourceId=dbi)[0]["DBInstanceAutomatedBackupsArn"]
    assert [b["DbiResourceId"] for b in automated(rds, DBInstanceAutomatedBackupsArn=arn)] == [dbi]
    by_id = automated(rds, Filters=[{"Name": "db-instance-id", "Values": ["db1"]}])
    assert [b["DBInstanceIdentifier"] for b in by_id] == ["db1"]
    by_arn = automated(rds, Filters=[{"Name": "db-instance-id",
                                      "Values": [f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db2"]}])
    assert [b["DBInstanceIdentifier"] for b in by_arn] == ["db2"]
    assert [b["DbiResourceId"] for b in automated(rds, Filters=[{"Name": "dbi-resource-id",
                                                                  "Values": [dbi]}])] == [dbi]
    backed_up(rds, "db1", START, latest=START + 700)
    active = automated(rds, Filters=[{"Name": "status", "Values": ["active"]}])
    assert [b["DBInstanceIdentifier"] for b in active] == ["db1"]
    err = rds.error("DescribeDBInstanceAutomatedBackups", DbiResourceId="db-NOPE")
    assert err.code == "DBInstanceAutomatedBackupNotFound" and err.status == 404
    assert rds.code("DescribeDBInstanceAutomatedBackups",
                    Filters=[{"Name": "engine", "Values": ["postgres"]}]) == "InvalidParameterValue"


def test_describe_pages(rds: Rds) -> None:
    for i in range(21):
        rds.create(f"db{i:02d}")
    first = rds("DescribeDBInstanceAutomatedBackups", MaxRecords=20)
    assert len(first["DBInstanceAutomatedBackups"]) == 20 and first["Marker"]
    rest = rds("DescribeDBInstanceAutomatedBackups", MaxRecords=20, Marker=first["Marker"])
    assert len(rest["DBInstanceAutomatedBackups"]) == 1 and "Marker" not in rest
    both = first["DBInstanceAutomatedBackups"] + rest["DBInstanceAutomatedBackups"]
    seen = {b["DbiResourceId"] for b in both}
    assert len(seen) == 21
    assert rds.code("DescribeDBInstanceAutomatedBackups", MaxRecords=5) == "InvalidParameterValue"
