"""CreateDBInstanceReadReplica and PromoteReadReplica over a real SQLite store: the replica's spec
(defaults from its source, the source named for the reconciler, no backups), cascading, every refusal,
what DescribeDBInstances shows of replicas and sources, and the guards other operations keep around
them. Instances are made ready, and replicas replicating, as the reconcilers would."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_INSTANCE
from tests.unit.test_rds_automated_backups import automated, ready
from tests.unit.test_rds_instances import ACCOUNT, PASSWORD, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]

SOURCE_KEYS = ("ReadReplicaSourceDBInstanceIdentifier", "ReadReplicaSourceDbiResourceId")


def source(rds: Rds, ident: str = "db1", **params: Any) -> dict[str, Any]:
    """An available instance with backups on (one base backup taken)."""
    base: dict[str, Any] = {"DBInstanceClass": "db.m6g.large", "AllocatedStorage": 50, "DBName": "app",
                            "Port": 5433, "BackupRetentionPeriod": 7,
                            "Tags": [{"Key": "team", "Value": "db"}]}
    ready(rds, ident, **{**base, **params})
    rds.backed_up(ident)
    return rds.describe(ident)


def replica(rds: Rds, ident: str, src: str = "db1", **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = rds("CreateDBInstanceReadReplica", DBInstanceIdentifier=ident,
                              SourceDBInstanceIdentifier=src, **params)["DBInstance"]
    return out


def replicating(rds: Rds, ident: str, **replication: Any) -> None:
    """Play the reconciler: the replica cloned its source and streams from it."""
    rds.available(ident, role="replica",
                  replication={"state": "replicating", "lag": 0.0, "error": None, "measured_at": 0.0,
                               **replication})


def refused(rds: Rds, ident: str = "rep1", src: str | None = "db1", **params: Any) -> AwsError:
    """The error CreateDBInstanceReadReplica answers."""
    return rds.error("CreateDBInstanceReadReplica", DBInstanceIdentifier=ident,
                     SourceDBInstanceIdentifier=src, **params)


def promote(rds: Rds, ident: str, **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = rds("PromoteReadReplica", DBInstanceIdentifier=ident, **params)["DBInstance"]
    return out


def events(rds: Rds, ident: str) -> list[tuple[str, list[str]]]:
    found = rds("DescribeEvents", SourceType="db-instance", SourceIdentifier=ident)["Events"]
    return [(e["Message"], e["EventCategories"]) for e in found]


# -- CreateDBInstanceReadReplica ---------------------------------------------------------------------
def test_a_replica_takes_its_source_settings(rds: Rds) -> None:
    rds("CreateDBParameterGroup", DBParameterGroupName="pg16", DBParameterGroupFamily="postgres16",
        Description="mine")
    src = source(rds, AutoMinorVersionUpgrade=False, DBParameterGroupName="pg16", StorageType="gp3",
                 PubliclyAccessible=False)
    db = replica(rds, "Rep1")
    assert db["DBInstanceIdentifier"] == "rep1" and db["DBInstanceStatus"] == "creating"
    assert db["ReadReplicaSourceDBInstanceIdentifier"] == "db1"
    assert db["ReadReplicaDBInstanceIdentifiers"] == []
    assert db["DBInstanceClass"] == "db.m6g.large" and db["AllocatedStorage"] == 50
    assert db["StorageType"] == "gp3" and db["Iops"] == 3000 and db["StorageThroughput"] == 125
    assert db["EngineVersion"] == "16.11" and db["MasterUsername"] == "admin_user" and db["DBName"] == "app"
    assert db["BackupRetentionPeriod"] == 0 and "LatestRestorableTime" not in db
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "pg16"
    assert db["AutoMinorVersionUpgrade"] is False and db["PubliclyAccessible"] is False
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == src["DBSubnetGroup"]["DBSubnetGroupName"]
    assert db["VpcSecurityGroups"] == src["VpcSecurityGroups"]
    assert db["MultiAZ"] is False and db["StorageEncrypted"] is False and db["DeletionProtection"] is False
    assert db["TagList"] == [] and db["DbiResourceId"] != src["DbiResourceId"]
    assert db["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    spec = rds.spec("rep1")
    assert spec["ReadReplicaSourceDBInstanceIdentifier"] == "db1"
    assert spec["ReadReplicaSourceDbiResourceId"] == src["DbiResourceId"]
    assert spec["Port"] == 5433 and spec["desired"] == "available" and "restore_from" not in spec
    assert "master_password_sealed" not in spec and spec["ManageMasterUserPassword"] is False
    assert rds.store.get(KIND_AUTOMATED_BACKUP, REGION, spec["DbiResourceId"]) is None
    assert [b["DBInstanceIdentifier"] for b in automated(rds)] == ["db1"]
    assert events(rds, "rep1") == [
        ("Read replica creation requested (source: DB instance db1)", ["creation"])]
    assert ("Creating read replica rep1", ["read replica"]) in events(rds, "db1")
    assert rds.describe("db1")["ReadReplicaDBInstanceIdentifiers"] == ["rep1"]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in rds.describe("db1")
    assert "StatusInfos" not in rds.describe("db1")


def test_a_replica_with_its_own_settings(rds: Rds) -> None:
    source(rds)
    _, subnets, group = rds.network()
    rds("CreateDBSubnetGroup", DBSubnetGroupName="private", DBSubnetGroupDescription="p", SubnetIds=subnets)
    rds("CreateDBParameterGroup", DBParameterGroupName="pg16", DBParameterGroupFamily="postgres16",
        Description="mine")
    db = replica(rds, "rep1", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db1", DBInstanceClass="db.t3.small",
                 AllocatedStorage=100, StorageType="io1", Iops=1000, MaxAllocatedStorage=200, Port=6000,
                 DBSubnetGroupName="private", VpcSecurityGroupIds=[group], AvailabilityZone=f"{REGION}c",
                 PubliclyAccessible=True, AutoMinorVersionUpgrade=False, DBParameterGroupName="pg16",
                 EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=31,
                 MonitoringInterval=30, MonitoringRoleArn=f"arn:aws:iam::{ACCOUNT}:role/em",
                 DeletionProtection=True, CopyTagsToSnapshot=True, EnableIAMDatabaseAuthentication=True,
                 EnableCloudwatchLogsExports=["postgresql"], CACertificateIdentifier="rds-ca-ecc384-g1",
                 OptionGroupName="default:postgres-16", Tags=[{"Key": "role", "Value": "reader"}])
    assert db["DBInstanceClass"] == "db.t3.small" and db["AllocatedStorage"] == 100
    assert db["StorageType"] == "io1" and db["Iops"] == 1000 and db["MaxAllocatedStorage"] == 200
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "private" and db["AvailabilityZone"] == f"{REGION}c"
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": group, "Status": "active"}]
    assert db["PubliclyAccessible"] is True and db["AutoMinorVersionUpgrade"] is False
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "pg16"
    assert db["PerformanceInsightsEnabled"] is True and db["PerformanceInsightsRetentionPeriod"] == 31
    assert db["MonitoringInterval"] == 30 and db["DeletionProtection"] is True
    assert db["CopyTagsToSnapshot"] is True and db["IAMDatabaseAuthenticationEnabled"] is True
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert db["CACertificateIdentifier"] == "rds-ca-ecc384-g1"
    assert db["TagList"] == [{"Key": "role", "Value": "reader"}] and db["BackupRetentionPeriod"] == 0
    spec = rds.spec("rep1")
    assert spec["Port"] == 6000 and spec["ReadReplicaSourceDBInstanceIdentifier"] == "db1"


def test_a_multi_az_replica_is_recorded(rds: Rds) -> None:
    source(rds)
    db = replica(rds, "rep1", MultiAZ=True)
    assert db["MultiAZ"] is True and rds.spec("rep1")["MultiAZ"] is True
    err = refused(rds, "rep2", MultiAZ=True, AvailabilityZone=f"{REGION}a")
    assert err.code == "InvalidParameterCombination"


def test_a_replica_of_an_encrypted_source_is_encrypted(rds: Rds) -> None:
    src = source(rds, StorageEncrypted=True)
    db = replica(rds, "rep1")
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == src["KmsKeyId"]
    key = rds.call("kms", "CreateKey")["KeyMetadata"]["Arn"]
    db = replica(rds, "rep2", KmsKeyId=key)
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == key != src["KmsKeyId"]
    assert refused(rds, "rep3", KmsKeyId="alias/nope").code == "KMSKeyNotAccessibleFault"


def test_no_encrypted_replica_of_an_unencrypted_source(rds: Rds) -> None:
    source(rds)
    key = rds.call("kms", "CreateKey")["KeyMetadata"]["Arn"]
    err = refused(rds, KmsKeyId=key)
    assert err.code == "InvalidParameterCombination" and "unencrypted" in err.message


def test_the_source_must_be_available_with_backups(rds: Rds) -> None:
    rds.create("fresh", BackupRetentionPeriod=1)
    err = refused(rds, src="fresh")
    assert err.code == "InvalidDBInstanceState" and "creating" in err.message
    ready(rds, "nobackups", BackupRetentionPeriod=0)
    err = refused(rds, src="nobackups")
    assert err.code == "InvalidDBInstanceState" and "Automated backups are not enabled" in err.message
    source(rds, "db1")
    rds("StopDBInstance", DBInstanceIdentifier="db1")
    assert refused(rds).code == "InvalidDBInstanceState"
    assert rds.code("DescribeDBInstances", DBInstanceIdentifier="rep1") == "DBInstanceNotFound"


def test_create_refusals(rds: Rds) -> None:
    source(rds)
    rds("CreateDBParameterGroup", DBParameterGroupName="pg15", DBParameterGroupFamily="postgres15",
        Description="older")

    def code(**params: Any) -> str:
        return refused(rds, **params).code

    err = refused(rds, src="nope")
    assert err.code == "DBInstanceNotFound" and err.status == 404
    assert refused(rds, src=f"arn:aws:rds:{REGION}:999999999999:db:db1").code == "DBInstanceNotFound"
    assert refused(rds, src=f"arn:aws:rds:us-west-2:{ACCOUNT}:db:db1").code \
        == "InvalidParameterCombination"  # cross-Region replicas: not implemented
    assert refused(rds, "db1").code == "DBInstanceAlreadyExists"
    assert refused(rds, "rep--1").code == "InvalidParameterValue"
    assert refused(rds, src=None).code == "InvalidParameterCombination"
    assert refused(rds, src=None, SourceDBClusterIdentifier="c1").code == "InvalidParameterCombination"
    for name, value in (("SourceRegion", "us-west-2"), ("PreSignedUrl", "https://x"),
                        ("ReplicaMode", "mounted"), ("UpgradeStorageConfig", True),
                        ("DatabaseInsightsMode", "advanced"),
                        ("TagSpecifications", [{"ResourceType": "auto-backup", "Tags": []}]),
                        ("Domain", "d-1"), ("NetworkType", "DUAL")):
        assert code(**{name: value}) == "InvalidParameterCombination", name
    err = refused(rds, AllocatedStorage=40)
    assert err.code == "InvalidParameterCombination" and "less than the source's (50 GiB)" in err.message
    assert code(DBParameterGroupName="pg15") == "InvalidParameterCombination"
    assert code(DBParameterGroupName="nope") == "DBParameterGroupNotFound"
    assert code(DBInstanceClass="db.bogus") == "InvalidParameterValue"
    assert code(DBSubnetGroupName="nope") == "DBSubnetGroupNotFoundFault"
    assert code(CACertificateIdentifier="nope") == "CertificateNotFound"
    assert code(OptionGroupName="mine") == "OptionGroupNotFoundFault"
    assert code(Port=80) == "InvalidParameterValue"
    assert code(MonitoringInterval=30) == "InvalidParameterCombination"
    assert code(StorageType="gp2", Iops=1000) == "InvalidParameterCombination"
    assert [r["DBInstanceIdentifier"] for r in rds("DescribeDBInstances")["DBInstances"]] == ["db1"]


# -- cascading ---------------------------------------------------------------------------------------
def test_replicas_of_replicas_down_to_three(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    err = refused(rds, "rep2", "rep1")
    assert err.code == "InvalidDBInstanceState"  # rep1 is still creating
    replicating(rds, "rep1")
    db = replica(rds, "rep2", "rep1")  # a replica has no backups, and needs none to be a source
    assert db["ReadReplicaSourceDBInstanceIdentifier"] == "rep1"
    assert rds.spec("rep2")["ReadReplicaSourceDbiResourceId"] == rds.spec("rep1")["DbiResourceId"]
    replicating(rds, "rep2")
    replica(rds, "rep3", "rep2")
    replicating(rds, "rep3")
    err = refused(rds, "rep4", "rep3")
    assert err.code == "InvalidParameterCombination" and "chain of 3" in err.message
    assert rds.describe("db1")["ReadReplicaDBInstanceIdentifiers"] == ["rep1"]
    assert rds.describe("rep1")["ReadReplicaDBInstanceIdentifiers"] == ["rep2"]
    assert rds.describe("rep2")["ReadReplicaSourceDBInstanceIdentifier"] == "rep1"


def test_at_most_fifteen_replicas_of_a_source(rds: Rds) -> None:
    source(rds)
    for i in range(15):
        replica(rds, f"rep{i:02d}")
    assert rds.describe("db1")["ReadReplicaDBInstanceIdentifiers"] == [f"rep{i:02d}" for i in range(15)]
    err = refused(rds, "rep15")
    assert err.code == "InvalidParameterCombination" and "15 read replicas" in err.message


# -- views -------------------------------------------------------------------------------------------
def test_status_infos_follow_the_replication(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1", lag=2.5)
    db = rds.describe("rep1")
    assert db["DBInstanceStatus"] == "available"
    assert db["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    replicating(rds, "rep1", state="error", error="the source DB instance is not running")
    assert rds.describe("rep1")["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": False, "Status": "error",
         "Message": "the source DB instance is not running"}]


def test_a_replica_promoted_by_the_reconciler_is_standalone(rds: Rds) -> None:
    """The source deleted, the reconciler promotes its replicas (status.role "primary")."""
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    rds("DeleteDBInstance", DBInstanceIdentifier="db1", SkipFinalSnapshot=True)  # allowed with replicas
    assert rds.describe("rep1")["ReadReplicaSourceDBInstanceIdentifier"] == "db1"
    rds.set_status("rep1", role="primary", replication=None)
    db = rds.describe("rep1")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in db and "StatusInfos" not in db
    assert db["DBInstanceStatus"] == "available"
    assert rds.code("PromoteReadReplica", DBInstanceIdentifier="rep1") == "InvalidDBInstanceState"


def test_a_namesake_of_the_source_is_not_its_source(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    res = rds.store.get(KIND_INSTANCE, REGION, "db1")
    assert res is not None
    rds.store.update(res, spec={**res.spec, "DbiResourceId": "db-RECREATED"})
    assert rds.describe("db1")["ReadReplicaDBInstanceIdentifiers"] == []


# -- PromoteReadReplica ------------------------------------------------------------------------------
def test_promote_turns_backups_on_and_lets_the_reconciler_promote(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    window = rds.spec("rep1")["PreferredBackupWindow"]
    db = promote(rds, "rep1")
    assert db["DBInstanceStatus"] == "modifying"  # until the reconciler promoted it (status.role)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in db and "StatusInfos" not in db
    assert db["BackupRetentionPeriod"] == 1 and db["PreferredBackupWindow"] == window  # RDS's default: 1
    spec = rds.spec("rep1")
    assert not any(k in spec for k in SOURCE_KEYS)
    ab = rds.store.get(KIND_AUTOMATED_BACKUP, REGION, spec["DbiResourceId"])
    assert ab is not None and ab.spec["desired"] == "active" and ab.spec["BackupRetentionPeriod"] == 1
    assert rds.describe("db1")["ReadReplicaDBInstanceIdentifiers"] == []
    assert events(rds, "rep1")[-1] == ("Read replica promotion requested", ["read replica"])
    assert rds.code("PromoteReadReplica", DBInstanceIdentifier="rep1") == "InvalidDBInstanceState"
    rds.set_status("rep1", role="primary", replication=None)
    assert rds.describe("rep1")["DBInstanceStatus"] == "backing-up"  # its first automated backup


def test_promote_with_a_retention_and_window(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    db = promote(rds, "rep1", BackupRetentionPeriod=5, PreferredBackupWindow="09:00-09:30")
    assert db["BackupRetentionPeriod"] == 5 and db["PreferredBackupWindow"] == "09:00-09:30"
    (ab,) = [b for b in automated(rds) if b["DBInstanceIdentifier"] == "rep1"]
    assert ab["BackupRetentionPeriod"] == 5 and ab["PreferredBackupWindow"] == "09:00-09:30"
    replica(rds, "rep2")
    replicating(rds, "rep2")
    db = promote(rds, "rep2", BackupRetentionPeriod=0)
    assert db["BackupRetentionPeriod"] == 0
    assert sorted(b["DBInstanceIdentifier"] for b in automated(rds)) == ["db1", "rep1"]


def test_promote_refusals(rds: Rds) -> None:
    source(rds)
    err = rds.error("PromoteReadReplica", DBInstanceIdentifier="db1")
    assert err.code == "InvalidDBInstanceState" and err.message == "DB instance db1 is not a read replica."
    assert rds.code("PromoteReadReplica", DBInstanceIdentifier="nope") == "DBInstanceNotFound"
    replica(rds, "rep1")
    err = rds.error("PromoteReadReplica", DBInstanceIdentifier="rep1")
    assert err.code == "InvalidDBInstanceState" and "creating" in err.message
    replicating(rds, "rep1")
    replica(rds, "rep2", "rep1")
    err = rds.error("PromoteReadReplica", DBInstanceIdentifier="rep1", BackupRetentionPeriod=0)
    assert err.code == "InvalidParameterCombination" and "source of read replicas" in err.message
    assert rds.code("PromoteReadReplica", DBInstanceIdentifier="rep1", BackupRetentionPeriod=36) \
        == "InvalidParameterValue"
    assert rds.code("PromoteReadReplica", DBInstanceIdentifier="rep1", PreferredBackupWindow="9-10") \
        == "InvalidParameterValue"
    assert rds.code("PromoteReadReplica", DBInstanceIdentifier="rep1", TagSpecifications=[
        {"ResourceType": "auto-backup", "Tags": []}]) == "InvalidParameterCombination"
    assert rds.spec("rep1")["ReadReplicaSourceDBInstanceIdentifier"] == "db1"  # nothing changed
    db = promote(rds, "rep1", BackupRetentionPeriod=2)  # rep2 now follows a standalone instance
    assert db["ReadReplicaDBInstanceIdentifiers"] == ["rep2"]


# -- guards in the other operations ------------------------------------------------------------------
def test_modify_keeps_replicas_without_backups(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    err = rds.error("ModifyDBInstance", DBInstanceIdentifier="rep1", BackupRetentionPeriod=1,
                    ApplyImmediately=True)
    assert err.code == "InvalidDBInstanceState"
    assert err.message == "DB Backups not supported on a read replica for engine postgres"
    err = rds.error("ModifyDBInstance", DBInstanceIdentifier="rep1", MasterUserPassword=PASSWORD)
    assert err.code == "InvalidParameterCombination" and "read replica" in err.message
    assert rds.code("ModifyDBInstance", DBInstanceIdentifier="rep1",
                    ManageMasterUserPassword=True) == "InvalidParameterCombination"
    db = rds("ModifyDBInstance", DBInstanceIdentifier="rep1", DBInstanceClass="db.t3.small",
             BackupRetentionPeriod=0, ApplyImmediately=True)["DBInstance"]
    assert db["DBInstanceClass"] == "db.t3.small" and db["ReadReplicaSourceDBInstanceIdentifier"] == "db1"
    err = rds.error("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=0,
                    ApplyImmediately=True)
    assert err.code == "InvalidParameterCombination" and "source of read replicas" in err.message
    assert rds("ModifyDBInstance", DBInstanceIdentifier="db1", BackupRetentionPeriod=3,
               ApplyImmediately=True)["DBInstance"]["BackupRetentionPeriod"] == 3


def test_replicas_and_their_sources_do_not_stop(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    err = rds.error("StopDBInstance", DBInstanceIdentifier="rep1")
    assert err.code == "InvalidParameterCombination" and "Read-Replica" in err.message
    err = rds.error("StopDBInstance", DBInstanceIdentifier="db1")
    assert err.code == "InvalidParameterCombination" and "(rep1)" in err.message


def test_deleting_a_replica_takes_no_final_snapshot(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    err = rds.error("DeleteDBInstance", DBInstanceIdentifier="rep1", FinalDBSnapshotIdentifier="last")
    assert err.code == "InvalidParameterCombination" and "replica" in err.message
    assert rds.code("DeleteDBInstance", DBInstanceIdentifier="rep1") == "InvalidParameterCombination"
    db = rds("DeleteDBInstance", DBInstanceIdentifier="rep1", SkipFinalSnapshot=True)["DBInstance"]
    assert db["DBInstanceStatus"] == "deleting"
    assert rds.describe("db1")["ReadReplicaDBInstanceIdentifiers"] == ["rep1"]  # until it is gone


def test_snapshots_but_no_point_in_time_restore_of_a_replica(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    snap = rds("CreateDBSnapshot", DBInstanceIdentifier="rep1", DBSnapshotIdentifier="of-rep1")["DBSnapshot"]
    assert snap["DBInstanceIdentifier"] == "rep1" and snap["Status"] == "creating"
    assert rds.code("RestoreDBInstanceToPointInTime", TargetDBInstanceIdentifier="x",
                    SourceDBInstanceIdentifier="rep1",
                    UseLatestRestorableTime=True) == "PointInTimeRestoreNotEnabled"


def test_reboot_of_a_replica(rds: Rds) -> None:
    source(rds)
    replica(rds, "rep1")
    replicating(rds, "rep1")
    db = rds("RebootDBInstance", DBInstanceIdentifier="rep1")["DBInstance"]
    assert db["DBInstanceStatus"] == "rebooting"
    assert rds.code("RebootDBInstance", DBInstanceIdentifier="rep1",
                    ForceFailover=True) == "InvalidParameterCombination"  # not Multi-AZ
