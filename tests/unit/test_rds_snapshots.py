"""DB snapshots through the RDS handlers over a real SQLite store: CreateDBSnapshot, DescribeDBSnapshots
(manual records and the automated snapshots derived from automated backups), DeleteDBSnapshot,
CopyDBSnapshot, snapshot attributes and tags, and the snapshots DeleteDBInstance / StopDBInstance ask
for. Statuses are written as the snapshot reconciler would."""

from __future__ import annotations

from typing import Any

from kura.services.rds.records import KIND_SNAPSHOT
from kura.store.types import Resource
from tests.unit.test_rds_automated_backups import START, backed_up, ready
from tests.unit.test_rds_instances import ACCOUNT, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]

AUTOMATED = "rds:db1-2023-11-14-22-13"  # the base backup started at START


def stored(rds: Rds, name: str) -> Resource:
    res = rds.store.get(KIND_SNAPSHOT, REGION, name)
    assert res is not None
    return res


def taken(rds: Rds, name: str, created: float = START + 60) -> None:
    """Play the snapshot reconciler: the snapshot is done."""
    res = stored(rds, name)
    rds.store.update(res, status={"state": "available", "progress": 100, "created": created, "size": 4096})


def snapshot(rds: Rds, name: str, instance: str = "db1", **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = rds("CreateDBSnapshot", DBSnapshotIdentifier=name, DBInstanceIdentifier=instance,
                              **params)["DBSnapshot"]
    return out


def described(rds: Rds, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = rds("DescribeDBSnapshots", **params)["DBSnapshots"]
    return out


# -- CreateDBSnapshot ------------------------------------------------------------------------------------
def test_create_snapshot(rds: Rds) -> None:
    db = ready(rds, BackupRetentionPeriod=7, StorageType="gp3", DBName="app",
               Tags=[{"Key": "a", "Value": "1"}])
    snap = snapshot(rds, "Before-Upgrade", Tags=[{"Key": "why", "Value": "upgrade"}])
    assert snap["DBSnapshotIdentifier"] == "before-upgrade" and snap["DBInstanceIdentifier"] == "db1"
    assert snap["Status"] == "creating" and snap["PercentProgress"] == 0 and snap["SnapshotType"] == "manual"
    assert snap["EngineVersion"] == "16.11"  # what the instance runs, not the 16 it asked for
    assert snap["Engine"] == "postgres" and snap["AllocatedStorage"] == 20 and snap["Port"] == 5432
    assert snap["StorageType"] == "gp3" and snap["Iops"] == 3000 and snap["StorageThroughput"] == 125
    assert snap["DbiResourceId"] == db["DbiResourceId"] and snap["MasterUsername"] == "admin_user"
    assert snap["AvailabilityZone"] == db["AvailabilityZone"] and snap["VpcId"].startswith("vpc-")
    assert snap["InstanceCreateTime"] == START and "SnapshotCreateTime" not in snap  # not taken yet
    assert snap["DBSnapshotArn"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:before-upgrade"
    assert snap["Encrypted"] is False and "KmsKeyId" not in snap and snap["SnapshotTarget"] == "region"
    assert snap["LicenseModel"] == "postgresql-license" and snap["IAMDatabaseAuthenticationEnabled"] is False
    assert snap["TagList"] == [{"Key": "why", "Value": "upgrade"}]  # the instance's only with CopyTags
    spec = stored(rds, "before-upgrade").spec
    assert spec["DBInstanceClass"] == "db.t3.micro" and spec["DBName"] == "app"
    assert spec["DBParameterGroupName"] == "default.postgres16" and spec["desired"] == "available"
    assert spec["requested"] == START and spec["BackupRetentionPeriod"] == 7
    assert stored(rds, "before-upgrade").status == {"state": "creating", "progress": 0}
    events = rds("DescribeEvents", SourceType="db-snapshot", SourceIdentifier="before-upgrade")["Events"]
    assert [(e["Message"], e["EventCategories"]) for e in events] == [
        ("Creating manual snapshot", ["creation"])]
    taken(rds, "before-upgrade")
    (done,) = described(rds, DBSnapshotIdentifier="before-upgrade")
    assert done["Status"] == "available" and done["PercentProgress"] == 100
    assert done["SnapshotCreateTime"] == START + 60 and done["OriginalSnapshotCreateTime"] == START + 60


def test_copy_tags_to_snapshot(rds: Rds) -> None:
    ready(rds, CopyTagsToSnapshot=True, StorageEncrypted=True, Tags=[{"Key": "team", "Value": "db"}])
    assert snapshot(rds, "s1")["TagList"] == [{"Key": "team", "Value": "db"}]
    mine = snapshot(rds, "s2", Tags=[{"Key": "own", "Value": "x"}])
    assert mine["TagList"] == [{"Key": "own", "Value": "x"}]
    assert mine["Encrypted"] is True and mine["KmsKeyId"] == rds.spec("db1")["KmsKeyId"]


def test_create_snapshot_errors(rds: Rds) -> None:
    rds.create("db1")
    assert rds.code("CreateDBSnapshot", DBSnapshotIdentifier="s", DBInstanceIdentifier="db1") \
        == "InvalidDBInstanceState"
    rds.available("db1")
    err = rds.error("CreateDBSnapshot", DBSnapshotIdentifier="s", DBInstanceIdentifier="nope")
    assert err.code == "DBInstanceNotFound" and err.status == 404
    assert rds.code("CreateDBSnapshot", DBSnapshotIdentifier="-bad", DBInstanceIdentifier="db1") \
        == "InvalidParameterValue"
    assert rds.code("CreateDBSnapshot", DBSnapshotIdentifier="a--b", DBInstanceIdentifier="db1") \
        == "InvalidParameterValue"
    snapshot(rds, "s")
    assert rds.code("CreateDBSnapshot", DBSnapshotIdentifier="S", DBInstanceIdentifier="db1") \
        == "DBSnapshotAlreadyExists"
    rds("StopDBInstance", DBInstanceIdentifier="db1")
    assert rds.code("CreateDBSnapshot", DBSnapshotIdentifier="t", DBInstanceIdentifier="db1") \
        == "InvalidDBInstanceState"


# -- DescribeDBSnapshots ---------------------------------------------------------------------------------
def test_automated_snapshots_come_from_the_automated_backups(rds: Rds) -> None:
    ready(rds, BackupRetentionPeriod=3)
    snapshot(rds, "mine")
    backed_up(rds, "db1", START, START + 86400, latest=START + 86400 + 900)
    names = [s["DBSnapshotIdentifier"] for s in described(rds)]
    assert names == ["mine", AUTOMATED, "rds:db1-2023-11-15-22-13"]
    auto = described(rds, DBSnapshotIdentifier=AUTOMATED)[0]
    assert auto["SnapshotType"] == "automated" and auto["Status"] == "available"
    assert auto["SnapshotCreateTime"] == START and auto["PercentProgress"] == 100
    assert auto["DBInstanceIdentifier"] == "db1" and auto["EngineVersion"] == "16.11"
    assert auto["BackupRetentionPeriod"] == 3 and auto["DBSnapshotArn"].endswith(f":snapshot:{AUTOMATED}")
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{AUTOMATED}"
    assert described(rds, DBSnapshotIdentifier=arn)[0]["DBSnapshotIdentifier"] == AUTOMATED
    assert [s["DBSnapshotIdentifier"] for s in described(rds, SnapshotType="manual")] == ["mine"]
    assert len(described(rds, SnapshotType="automated")) == 2
    assert described(rds, SnapshotType="shared", IncludeShared=True) == []
    rds("DeleteDBInstance", DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert [s["DBSnapshotIdentifier"] for s in described(rds)] == ["mine"]  # they go with the backups


def test_describe_filters(rds: Rds) -> None:
    ready(rds, "db1")
    ready(rds, "db2")
    snapshot(rds, "a", "db1")
    snapshot(rds, "b", "db2")
    backed_up(rds, "db1", START, latest=START + 700)
    dbi = rds.spec("db2")["DbiResourceId"]
    assert [s["DBSnapshotIdentifier"] for s in described(rds, DBInstanceIdentifier="DB1")] == ["a", AUTOMATED]
    assert described(rds, DBInstanceIdentifier="gone") == []  # deleted instances keep their snapshots
    assert [s["DBSnapshotIdentifier"] for s in described(rds, DbiResourceId=dbi)] == ["b"]
    assert [s["DBSnapshotIdentifier"] for s in described(rds, DBInstanceIdentifier="db1",
                                                          SnapshotType="manual")] == ["a"]

    def only(name: str, *values: str) -> list[str]:
        return [s["DBSnapshotIdentifier"] for s in described(rds, Filters=[{"Name": name,
                                                                            "Values": list(values)}])]

    assert only("db-instance-id", "db2") == ["b"]
    assert only("db-instance-id", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db2") == ["b"]
    assert only("db-snapshot-id", "a", AUTOMATED) == ["a", AUTOMATED]
    assert only("dbi-resource-id", dbi) == ["b"]
    assert only("snapshot-type", "automated") == [AUTOMATED]
    assert only("engine", "postgres") == ["a", "b", AUTOMATED]
    assert rds.code("DescribeDBSnapshots", Filters=[{"Name": "nope", "Values": ["x"]}]) \
        == "InvalidParameterValue"
    assert rds.code("DescribeDBSnapshots", SnapshotType="other") == "InvalidParameterValue"
    err = rds.error("DescribeDBSnapshots", DBSnapshotIdentifier="nope")
    assert err.code == "DBSnapshotNotFound" and err.status == 404
    assert rds.code("DescribeDBSnapshots", DBSnapshotIdentifier="rds:db1-2020-01-01-00-00") \
        == "DBSnapshotNotFound"


def test_describe_pages(rds: Rds) -> None:
    ready(rds)
    for i in range(21):
        snapshot(rds, f"s{i:02d}")
    first = rds("DescribeDBSnapshots", MaxRecords=20)
    assert len(first["DBSnapshots"]) == 20 and first["Marker"]
    rest = rds("DescribeDBSnapshots", MaxRecords=20, Marker=first["Marker"])
    assert [s["DBSnapshotIdentifier"] for s in rest["DBSnapshots"]] == ["s20"] and "Marker" not in rest


# -- DeleteDBSnapshot ------------------------------------------------------------------------------------
def test_delete_snapshot(rds: Rds) -> None:
    ready(rds)
    snapshot(rds, "mine")
    assert rds.code("DeleteDBSnapshot", DBSnapshotIdentifier="mine") == "InvalidDBSnapshotState"
    taken(rds, "mine")
    out = rds("DeleteDBSnapshot", DBSnapshotIdentifier="mine")["DBSnapshot"]
    assert out["Status"] == "deleting" and stored(rds, "mine").spec["desired"] == "deleted"
    assert rds.code("DeleteDBSnapshot", DBSnapshotIdentifier="mine") == "InvalidDBSnapshotState"
    backed_up(rds, "db1", START, latest=START + 700)
    err = rds.error("DeleteDBSnapshot", DBSnapshotIdentifier=AUTOMATED)
    assert err.code == "InvalidDBSnapshotState" and "deleted with their automated backups" in err.message
    assert rds.code("DeleteDBSnapshot", DBSnapshotIdentifier="nope") == "DBSnapshotNotFound"
    snapshot(rds, "broken")
    rds.store.update(stored(rds, "broken"), status={"state": "failed", "failure": "disk"})
    assert rds("DeleteDBSnapshot", DBSnapshotIdentifier="broken")["DBSnapshot"]["Status"] == "deleting"


# -- CopyDBSnapshot --------------------------------------------------------------------------------------
def test_copy_snapshot(rds: Rds) -> None:
    ready(rds)
    snapshot(rds, "orig", Tags=[{"Key": "k", "Value": "v"}])
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier="orig",
                    TargetDBSnapshotIdentifier="copy") == "InvalidDBSnapshotState"
    taken(rds, "orig")
    rds.clock.advance(3600)
    copy = rds("CopyDBSnapshot", SourceDBSnapshotIdentifier="orig", TargetDBSnapshotIdentifier="Copy",
               CopyTags=True, Tags=[{"Key": "extra", "Value": "1"}])["DBSnapshot"]
    assert copy["DBSnapshotIdentifier"] == "copy" and copy["Status"] == "creating"
    assert copy["SnapshotType"] == "manual" and copy["DBInstanceIdentifier"] == "db1"
    assert copy["SourceDBSnapshotIdentifier"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:orig"
    assert "SnapshotCreateTime" not in copy and copy["OriginalSnapshotCreateTime"] == START + 60  # copying
    assert {t["Key"] for t in copy["TagList"]} == {"k", "extra"} and copy["Encrypted"] is False
    spec = stored(rds, "copy").spec
    assert spec["copy_of"] == "orig" and spec["desired"] == "available" and "attributes" not in spec
    assert stored(rds, "copy").status == {"state": "creating", "progress": 0}
    plain = rds("CopyDBSnapshot", SourceDBSnapshotIdentifier=f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:orig",
                TargetDBSnapshotIdentifier="plain")["DBSnapshot"]
    assert plain["TagList"] == []
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier="orig",
                    TargetDBSnapshotIdentifier="copy") == "DBSnapshotAlreadyExists"
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier="nope",
                    TargetDBSnapshotIdentifier="c2") == "DBSnapshotNotFound"
    elsewhere = "arn:aws:rds:us-east-1:111122223333:snapshot:x"
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier=elsewhere,
                    TargetDBSnapshotIdentifier="c2") == "DBSnapshotNotFound"
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier="orig", TargetDBSnapshotIdentifier="c3",
                    SourceRegion="us-west-2") == "InvalidParameterCombination"
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier="orig", TargetDBSnapshotIdentifier="c3",
                    OptionGroupName="mine") == "OptionGroupNotFoundFault"
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier="orig",
                    TargetDBSnapshotIdentifier="c--3") == "InvalidParameterValue"


def test_copy_encrypts_and_copies_automated_snapshots(rds: Rds) -> None:
    ready(rds)
    backed_up(rds, "db1", START, latest=START + 700)
    key = rds.call("kms", "CreateKey")["KeyMetadata"]["Arn"]
    copy = rds("CopyDBSnapshot", SourceDBSnapshotIdentifier=AUTOMATED, TargetDBSnapshotIdentifier="kept",
               KmsKeyId=key)["DBSnapshot"]
    assert copy["SnapshotType"] == "manual" and copy["Encrypted"] is True and copy["KmsKeyId"] == key
    assert copy["OriginalSnapshotCreateTime"] == START
    spec = stored(rds, "kept").spec
    assert spec["copy_of"] == AUTOMATED and spec["StorageEncrypted"] is True and spec["KmsKeyId"] == key
    assert rds.code("CopyDBSnapshot", SourceDBSnapshotIdentifier=AUTOMATED, TargetDBSnapshotIdentifier="k2",
                    KmsKeyId="alias/nope") == "KMSKeyNotAccessibleFault"


# -- attributes ------------------------------------------------------------------------------------------
def test_snapshot_attributes(rds: Rds) -> None:
    ready(rds)
    snapshot(rds, "s")
    assert rds.code("ModifyDBSnapshotAttribute", DBSnapshotIdentifier="s", AttributeName="restore",
                    ValuesToAdd=["210987654321"]) == "InvalidDBSnapshotState"
    taken(rds, "s")
    out = rds("ModifyDBSnapshotAttribute", DBSnapshotIdentifier="s", AttributeName="restore",
              ValuesToAdd=["210987654321", "all"])["DBSnapshotAttributesResult"]
    assert out == {"DBSnapshotIdentifier": "s", "DBSnapshotAttributes": [
        {"AttributeName": "restore", "AttributeValues": ["210987654321", "all"]}]}
    assert [s["DBSnapshotIdentifier"] for s in described(rds, SnapshotType="public")] == ["s"]
    rds("ModifyDBSnapshotAttribute", DBSnapshotIdentifier="s", AttributeName="restore",
        ValuesToRemove=["all"])
    got = rds("DescribeDBSnapshotAttributes", DBSnapshotIdentifier="s")["DBSnapshotAttributesResult"]
    assert got["DBSnapshotAttributes"][0]["AttributeValues"] == ["210987654321"]
    assert described(rds, SnapshotType="public") == []
    assert rds.code("ModifyDBSnapshotAttribute", DBSnapshotIdentifier="s", AttributeName="copy",
                    ValuesToAdd=["all"]) == "InvalidParameterValue"
    assert rds.code("ModifyDBSnapshotAttribute", DBSnapshotIdentifier="s", AttributeName="restore",
                    ValuesToAdd=["12345"]) == "InvalidParameterValue"
    assert rds.code("DescribeDBSnapshotAttributes", DBSnapshotIdentifier="nope") == "DBSnapshotNotFound"
    backed_up(rds, "db1", START, latest=START + 700)
    assert rds.code("ModifyDBSnapshotAttribute", DBSnapshotIdentifier=AUTOMATED, AttributeName="restore",
                    ValuesToAdd=["210987654321"]) == "InvalidDBSnapshotState"


def test_encrypted_snapshots_are_not_shared_publicly(rds: Rds) -> None:
    ready(rds, StorageEncrypted=True)
    snapshot(rds, "s")
    taken(rds, "s")
    assert rds.code("ModifyDBSnapshotAttribute", DBSnapshotIdentifier="s", AttributeName="restore",
                    ValuesToAdd=["all"]) == "InvalidParameterValue"
    err = rds.error("ModifyDBSnapshotAttribute", DBSnapshotIdentifier="s", AttributeName="restore",
                    ValuesToAdd=["210987654321"])
    assert err.code == "InvalidParameterValue" and "default KMS key" in err.message


# -- tags ------------------------------------------------------------------------------------------------
def test_tags_on_snapshots(rds: Rds) -> None:
    ready(rds)
    arn = snapshot(rds, "s", Tags=[{"Key": "a", "Value": "1"}])["DBSnapshotArn"]
    rds("AddTagsToResource", ResourceName=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert rds("ListTagsForResource", ResourceName=arn)["TagList"] == [{"Key": "a", "Value": "1"},
                                                                       {"Key": "b", "Value": "2"}]
    rds("RemoveTagsFromResource", ResourceName=arn, TagKeys=["a"])
    assert described(rds, DBSnapshotIdentifier="s")[0]["TagList"] == [{"Key": "b", "Value": "2"}]
    missing = f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:nope"
    assert rds.code("ListTagsForResource", ResourceName=missing) == "DBSnapshotNotFound"
    backed_up(rds, "db1", START, latest=START + 700)
    auto = f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{AUTOMATED}"
    assert rds("ListTagsForResource", ResourceName=auto)["TagList"] == []
    assert rds.code("AddTagsToResource", ResourceName=auto, Tags=[{"Key": "x", "Value": "y"}]) \
        == "InvalidParameterCombination"


# -- the snapshots of DeleteDBInstance and StopDBInstance -------------------------------------------------
def test_final_snapshot_of_a_delete(rds: Rds) -> None:
    ready(rds, CopyTagsToSnapshot=True, Tags=[{"Key": "app", "Value": "x"}])
    snapshot(rds, "taken")
    assert rds.code("DeleteDBInstance", DBInstanceIdentifier="db1", FinalDBSnapshotIdentifier="taken") \
        == "DBSnapshotAlreadyExists"
    assert rds.spec("db1")["desired"] == "available"  # nothing changed
    db = rds("DeleteDBInstance", DBInstanceIdentifier="db1",
             FinalDBSnapshotIdentifier="db1-final")["DBInstance"]
    assert db["DBInstanceStatus"] == "deleting"
    final = described(rds, DBSnapshotIdentifier="db1-final")[0]
    assert final["Status"] == "creating" and final["SnapshotType"] == "manual"
    assert final["TagList"] == [{"Key": "app", "Value": "x"}]
    assert rds.spec("db1")["final_snapshot"]["identifier"] == "db1-final"
    rds.create("db2")
    err = rds.error("DeleteDBInstance", DBInstanceIdentifier="db2", FinalDBSnapshotIdentifier="db2-final")
    assert err.code == "InvalidDBInstanceState" and "final snapshot cannot be taken" in err.message
    rds("DeleteDBInstance", DBInstanceIdentifier="db2", SkipFinalSnapshot=True)
    assert rds.code("DescribeDBSnapshots", DBSnapshotIdentifier="db2-final") == "DBSnapshotNotFound"


def test_snapshot_of_a_stop(rds: Rds) -> None:
    ready(rds)
    snapshot(rds, "taken")
    assert rds.code("StopDBInstance", DBInstanceIdentifier="db1", DBSnapshotIdentifier="taken") \
        == "DBSnapshotAlreadyExists"
    db = rds("StopDBInstance", DBInstanceIdentifier="db1", DBSnapshotIdentifier="Before-Stop")["DBInstance"]
    assert db["DBInstanceStatus"] == "stopping" and rds.spec("db1")["stop_snapshot"] == "before-stop"
    assert described(rds, DBSnapshotIdentifier="before-stop")[0]["DBInstanceIdentifier"] == "db1"
