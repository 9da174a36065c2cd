"""The API rules of DeleteDBCluster's final snapshot, CopyDBClusterSnapshot and copy-on-write clones,
on a throwaway store (the reconcilers' part is tested against real PostgreSQL in
tests/integration/test_rds_clusters.py)."""

from __future__ import annotations

import datetime as dt

from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_CLUSTER, KIND_SNAPSHOT
from tests.unit.test_rds_clusters_api import make
from tests.unit.test_rds_instances import REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]


def _holds(rds: Rds, ident: str, dbi: str = "db-kept") -> None:
    """The cluster's storage is the continuous backup of its deleted last writer."""
    if rds.store.get(KIND_AUTOMATED_BACKUP, REGION, dbi) is None:
        rds.store.create(KIND_AUTOMATED_BACKUP, REGION, dbi, {"EngineVersion": "16.11",
                                                              "desired": "retained"})
    res = rds.store.get(KIND_CLUSTER, REGION, ident)
    assert res is not None
    storage = {"automated_backup": dbi, "time": None, "owned": True}
    rds.store.update(res, spec={**res.spec, "storage": storage})


def test_final_snapshot_rules(rds: Rds) -> None:
    make(rds, "c1", CopyTagsToSnapshot=True, Tags=[{"Key": "team", "Value": "db"}])
    assert rds.error("DeleteDBCluster", DBClusterIdentifier="c1").code == "InvalidParameterCombination"
    both = rds.error("DeleteDBCluster", DBClusterIdentifier="c1", SkipFinalSnapshot=True,
                     FinalDBSnapshotIdentifier="f1")
    assert (both.code, "both" in both.message) == ("InvalidParameterCombination", True)
    assert rds.code("DeleteDBCluster", DBClusterIdentifier="c1", FinalDBSnapshotIdentifier="bad--name") == \
        "InvalidParameterValue"
    empty = rds.error("DeleteDBCluster", DBClusterIdentifier="c1", FinalDBSnapshotIdentifier="c1-final")
    assert (empty.code, "SkipFinalSnapshot" in empty.message) == ("InvalidDBClusterStateFault", True)

    _holds(rds, "c1")
    deleted = rds("DeleteDBCluster", DBClusterIdentifier="c1", FinalDBSnapshotIdentifier="C1-Final")
    assert deleted["DBCluster"]["Status"] == "deleting"
    snap = rds("DescribeDBClusterSnapshots", DBClusterSnapshotIdentifier="c1-final")["DBClusterSnapshots"][0]
    assert (snap["Status"], snap["SnapshotType"], snap["DBClusterIdentifier"]) == ("creating", "manual", "c1")
    assert snap["TagList"] == [{"Key": "team", "Value": "db"}]
    stored = rds.store.get(KIND_SNAPSHOT, REGION, "c1-final")
    assert stored is not None and stored.spec["cluster_storage"]["automated_backup"] == "db-kept"
    assert rds.code("DeleteDBCluster", DBClusterIdentifier="c1", SkipFinalSnapshot=True) == \
        "InvalidDBClusterStateFault"  # already being deleted

    make(rds, "c2")
    _holds(rds, "c2")
    assert rds.code("DeleteDBCluster", DBClusterIdentifier="c2", FinalDBSnapshotIdentifier="c1-final") == \
        "DBClusterSnapshotAlreadyExistsFault"


def test_copy_cluster_snapshot(rds: Rds) -> None:
    make(rds, "c1")
    rds.store.create(KIND_SNAPSHOT, REGION, "s1", {"DBClusterIdentifier": "c1", "SnapshotType": "manual",
                                                   "EngineVersion": "16.11", "Tags": {"k": "v"},
                                                   "desired": "available"},
                     {"state": "available", "created": rds.clock.now()})
    copied = rds("CopyDBClusterSnapshot", SourceDBClusterSnapshotIdentifier="s1",
                 TargetDBClusterSnapshotIdentifier="s2", CopyTags=True)["DBClusterSnapshot"]
    assert (copied["Status"], copied["DBClusterIdentifier"], copied["SnapshotType"]) == ("creating", "c1",
                                                                                         "manual")
    assert copied["SourceDBClusterSnapshotArn"].endswith(":cluster-snapshot:s1")
    assert copied["TagList"] == [{"Key": "k", "Value": "v"}]
    stored = rds.store.get(KIND_SNAPSHOT, REGION, "s2")
    assert stored is not None and stored.spec["copy_of"] == "s1"
    assert rds.code("CopyDBClusterSnapshot", SourceDBClusterSnapshotIdentifier="s1",
                    TargetDBClusterSnapshotIdentifier="s2") == "DBClusterSnapshotAlreadyExistsFault"
    assert rds.code("CopyDBClusterSnapshot", SourceDBClusterSnapshotIdentifier="nope",
                    TargetDBClusterSnapshotIdentifier="s3") == "DBClusterSnapshotNotFoundFault"
    assert rds.code("CopyDBClusterSnapshot", SourceDBClusterSnapshotIdentifier="s2",
                    TargetDBClusterSnapshotIdentifier="s3") == "InvalidDBClusterSnapshotStateFault"


def test_clone_rules(rds: Rds) -> None:
    make(rds, "c1")
    when = dt.datetime.fromtimestamp(rds.clock.now(), dt.UTC)
    assert rds.code("RestoreDBClusterToPointInTime", DBClusterIdentifier="k1", SourceDBClusterIdentifier="c1",
                    RestoreType="copy-on-write", RestoreToTime=when) == "InvalidParameterCombination"
    assert rds.code("RestoreDBClusterToPointInTime", DBClusterIdentifier="k1", SourceDBClusterIdentifier="c1",
                    RestoreType="copy-on-write") == "InvalidParameterCombination"
    no_instance = rds.error("RestoreDBClusterToPointInTime", DBClusterIdentifier="k1",
                            SourceDBClusterIdentifier="c1", RestoreType="copy-on-write",
                            UseLatestRestorableTime=True)
    assert (no_instance.code, "no DB instance" in no_instance.message) == ("InvalidDBClusterStateFault", True)

    rds("CreateDBInstance", DBInstanceIdentifier="m1", DBClusterIdentifier="c1", Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large")
    assert rds.code("RestoreDBClusterToPointInTime", DBClusterIdentifier="k1", SourceDBClusterIdentifier="c1",
                    RestoreType="copy-on-write", UseLatestRestorableTime=True) == "InvalidDBClusterStateFault"
    rds.available("m1")
    clone = rds("RestoreDBClusterToPointInTime", DBClusterIdentifier="k1", SourceDBClusterIdentifier="c1",
                RestoreType="copy-on-write", UseLatestRestorableTime=True)["DBCluster"]
    assert (clone["Status"], clone["MasterUsername"]) == ("creating", "admin_user")
    stored = rds.store.get(KIND_CLUSTER, REGION, "k1")
    assert stored is not None and stored.spec["storage"]["volume"] == "k1"
    assert stored.spec["storage"]["source_instance"] == "m1"
    early = rds.error("CreateDBInstance", DBInstanceIdentifier="k1-w", DBClusterIdentifier="k1",
                      Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    assert (early.code, "clone" in early.message) == ("InvalidDBClusterStateFault", True)
    assert rds.code("DeleteDBCluster", DBClusterIdentifier="k1", FinalDBSnapshotIdentifier="k1-final") == \
        "InvalidDBClusterStateFault"  # nothing copied yet
