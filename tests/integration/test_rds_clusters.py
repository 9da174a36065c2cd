"""Aurora PostgreSQL DB clusters through a real `kura up`, boto3 and psycopg: a cluster and its
endpoints, a writer and a reader (a real streaming standby) as its DB instances, writes through the
cluster endpoint and reads through the reader endpoint, the cluster's storage outliving its writer,
snapshots and restores, FailoverDBCluster under a committing writer, and the refusals RDS makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import psycopg
import pytest

from kura.config import Settings
from kura.control.rds import autostart, nodes
from kura.net import tls
from kura.services.rds.records import KIND_CLUSTER
from tests.ha_writer import HaWriter, missing
from tests.integration.test_rds_lifecycle import (
    PASSWORD,
    connect,
    running,
    stopped_days_ago,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("clusters") / "home") as server:
        yield server


def cluster(rds: Any, ident: str) -> dict[str, Any]:
    return dict(rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0])


def endpoint(found: dict[str, Any], which: str = "Endpoint") -> dict[str, Any]:
    return {"Endpoint": {"Address": found[which], "Port": found["Port"]}}


def refused(code: str, call: Any, **params: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**params)
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    return str(caught.value.response["Error"]["Message"])


def member(rds: Any, ident: str, **extra: Any) -> None:
    rds.create_db_instance(DBInstanceIdentifier=ident, DBClusterIdentifier="aurora",
                           Engine="aurora-postgresql", DBInstanceClass="db.serverless", **extra)



def query(target: dict[str, Any], sql: str) -> list[Any] | None:
    """The first column of every row (none for a command), or None while the endpoint does not answer."""
    try:
        with connect(target) as conn:
            cur = conn.execute(sql)
            return [r[0] for r in cur.fetchall()] if cur.description else []
    except psycopg.Error:
        return None


def in_recovery(target: dict[str, Any]) -> bool | None:
    found = query(target, "SELECT pg_is_in_recovery()")
    return bool(found[0]) if found else None


def _notes(target: dict[str, Any]) -> list[str] | None:
    return query(target, "SELECT note FROM notes ORDER BY id")


def _count(target: dict[str, Any]) -> int | None:
    found = query(target, "SELECT count(*) FROM ledger")
    return int(found[0]) if found else None


def _show(target: dict[str, Any], name: str) -> str | None:
    found = query(target, f"SHOW {name}")
    return str(found[0]) if found else None


def writer_and_reader(rds: Any, ident: str) -> dict[str, Any]:
    """A provisioned cluster `ident` with DB instances `ident`-1 (the writer) and `ident`-2 (a reader)."""
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername="master",
                          MasterUserPassword=PASSWORD, DatabaseName="app")
    found = wait_for(lambda: (c := cluster(rds, ident))["Status"] == "available" and c, 30, "the cluster")
    for member in (f"{ident}-1", f"{ident}-2"):
        rds.create_db_instance(DBInstanceIdentifier=member, DBClusterIdentifier=ident,
                               Engine="aurora-postgresql", DBInstanceClass="db.t3.medium")
        wait_status(rds, member, "available", 120)
    return dict(found)


def test_writer_and_reader_behind_the_cluster_endpoints(kura: KuraServer) -> None:
    rds = kura.client("rds")
    made = rds.create_db_cluster(DBClusterIdentifier="aurora", Engine="aurora-postgresql",
                                 MasterUsername="master", MasterUserPassword=PASSWORD, DatabaseName="app",
                                 ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 2},
                                 Tags=[{"Key": "team", "Value": "db"}])["DBCluster"]
    assert (made["Engine"], made["EngineMode"], made["StorageType"]) == ("aurora-postgresql", "provisioned",
                                                                         "aurora")
    assert made["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 2.0}
    found = wait_for(lambda: (c := cluster(rds, "aurora"))["Status"] == "available" and c, 30, "the cluster")
    assert found["Endpoint"] != found["ReaderEndpoint"] and found["DBClusterMembers"] == []
    assert refused("InvalidParameterCombination", rds.create_db_instance, DBInstanceIdentifier="x",
                   DBClusterIdentifier="aurora", Engine="aurora-postgresql", DBInstanceClass="db.serverless",
                   MasterUsername="other")
    assert refused("InvalidParameterCombination", rds.create_db_instance, DBInstanceIdentifier="x",
                   Engine="postgres", DBInstanceClass="db.serverless", MasterUsername="m",
                   MasterUserPassword=PASSWORD, AllocatedStorage=20)

    member(rds, "aurora-w")
    writer = wait_status(rds, "aurora-w", "available", 120)
    assert (writer["DBClusterIdentifier"], writer["Engine"]) == ("aurora", "aurora-postgresql")
    member(rds, "aurora-r", PromotionTier=2)
    reader = wait_status(rds, "aurora-r", "available", 120)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in reader and reader["PromotionTier"] == 2
    found = cluster(rds, "aurora")
    assert {(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in found["DBClusterMembers"]} == {
        ("aurora-w", True), ("aurora-r", False)}

    # writes through the cluster endpoint, reads (on the standby) through the reader endpoint
    wait_for(lambda: in_recovery(endpoint(found)) is False, 30, "the cluster endpoint to reach the writer")
    bundle = str(tls.write_bundle(Settings(home=kura.home).paths))
    for which in ("Endpoint", "ReaderEndpoint"):  # the members' certificates name the cluster's endpoints
        with connect(endpoint(found, which), sslmode="verify-full", sslrootcert=bundle) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    with connect(endpoint(found)) as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO notes VALUES (1, 'through the cluster endpoint')")
    wait_for(lambda: in_recovery(endpoint(found, "ReaderEndpoint")) is True, 30, "the reader endpoint")
    wait_for(lambda: _notes(endpoint(found, "ReaderEndpoint")) == ["through the cluster endpoint"], 30,
             "the row on the reader")
    wait_for(lambda: cluster(rds, "aurora").get("EarliestRestorableTime"), 60, "a restorable time")

    _custom_endpoints(rds)
    _snapshot_and_restores(rds)
    _stop_and_start(kura, found)
    assert refused("InvalidDBClusterStateFault", rds.delete_db_cluster, DBClusterIdentifier="aurora",
                   SkipFinalSnapshot=True)
    assert "readers" in refused("InvalidDBClusterStateFault", rds.delete_db_instance,
                                DBInstanceIdentifier="aurora-w")
    assert refused("InvalidParameterCombination", rds.stop_db_instance, DBInstanceIdentifier="aurora-r")

    # the cluster's storage outlives its writer: the next writer has the data
    rds.delete_db_instance(DBInstanceIdentifier="aurora-r")
    wait_for(lambda: len(cluster(rds, "aurora")["DBClusterMembers"]) == 1, 60, "the reader deleted")
    rds.delete_db_instance(DBInstanceIdentifier="aurora-w")
    wait_for(lambda: not cluster(rds, "aurora")["DBClusterMembers"], 60, "the writer deleted")
    member(rds, "aurora-w2")
    wait_status(rds, "aurora-w2", "available", 180)
    assert cluster(rds, "aurora")["DBClusterMembers"][0]["IsClusterWriter"]
    wait_for(lambda: _notes(endpoint(found)) == ["through the cluster endpoint"], 30,
             "the data in the new writer")
    with connect(endpoint(found)) as conn:
        conn.execute("INSERT INTO notes VALUES (2, 'after')")  # the new writer writes

    rds.delete_db_instance(DBInstanceIdentifier="aurora-w2")
    wait_for(lambda: not cluster(rds, "aurora")["DBClusterMembers"], 60, "the writer deleted")
    _final_snapshot(rds)


def _final_snapshot(rds: Any) -> None:
    """DeleteDBCluster's final snapshot is of the cluster's storage (its deleted writer's continuous
    backup) and restores as a cluster with every commit."""
    assert refused("InvalidParameterCombination", rds.delete_db_cluster, DBClusterIdentifier="aurora")
    assert refused("InvalidParameterCombination", rds.delete_db_cluster, DBClusterIdentifier="aurora",
                   SkipFinalSnapshot=True, FinalDBSnapshotIdentifier="aurora-final")
    assert refused("DBClusterSnapshotAlreadyExistsFault", rds.delete_db_cluster, DBClusterIdentifier="aurora",
                   FinalDBSnapshotIdentifier="aurora-snap-copy")
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="aurora-snap-copy")
    assert rds.delete_db_cluster(DBClusterIdentifier="aurora", FinalDBSnapshotIdentifier="aurora-final")[
        "DBCluster"]["Status"] == "deleting"
    wait_for(lambda: not any(c["DBClusterIdentifier"] == "aurora"
                             for c in rds.describe_db_clusters()["DBClusters"]), 60, "the cluster deleted")
    assert refused("DBClusterNotFoundFault", rds.describe_db_clusters, DBClusterIdentifier="aurora")
    snap = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="aurora-final")[
        "DBClusterSnapshots"][0]
    assert (snap["Status"], snap["SnapshotType"], snap["DBClusterIdentifier"]) == ("available", "manual",
                                                                                   "aurora")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="aurora-again",
                                         SnapshotIdentifier="aurora-final", Engine="aurora-postgresql")
    wait_for(lambda: cluster(rds, "aurora-again")["Status"] == "available", 30, "the restored cluster")
    rds.create_db_instance(DBInstanceIdentifier="aurora-again-w", DBClusterIdentifier="aurora-again",
                           Engine="aurora-postgresql", DBInstanceClass="db.t3.medium")
    wait_status(rds, "aurora-again-w", "available", 180)
    assert _notes(endpoint(cluster(rds, "aurora-again"))) == ["through the cluster endpoint", "after"]
    rds.delete_db_instance(DBInstanceIdentifier="aurora-again-w")
    wait_for(lambda: not cluster(rds, "aurora-again")["DBClusterMembers"], 60, "the writer deleted")
    rds.delete_db_cluster(DBClusterIdentifier="aurora-again", SkipFinalSnapshot=True)
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="aurora-final")
    wait_for(lambda: not rds.describe_db_clusters()["DBClusters"], 30, "the clusters deleted")


def _stop_and_start(kura: KuraServer, found: dict[str, Any]) -> None:
    """StopDBCluster stops every DB instance (they refuse to be stopped one by one); StartDBCluster
    brings them back with the data, and so does a stop of seven days."""
    rds = kura.client("rds")
    assert rds.stop_db_cluster(DBClusterIdentifier="aurora")["DBCluster"]["Status"] == "stopping"
    wait_for(lambda: cluster(rds, "aurora")["Status"] == "stopped", 90, "the cluster stopped")
    assert refused("InvalidDBClusterStateFault", rds.stop_db_cluster, DBClusterIdentifier="aurora")
    assert rds.start_db_cluster(DBClusterIdentifier="aurora")["DBCluster"]["Status"] == "starting"
    wait_for(lambda: cluster(rds, "aurora")["Status"] == "available", 90, "the cluster started")
    for ident in ("aurora-w", "aurora-r"):
        wait_status(rds, ident, "available", 60)
    wait_for(lambda: _notes(endpoint(found, "ReaderEndpoint")) == ["through the cluster endpoint"], 30,
             "the data after the start")

    # stopped for seven days (its stop time moved back in the store): AWS starts it, so does Kura
    rds.stop_db_cluster(DBClusterIdentifier="aurora")
    wait_for(lambda: cluster(rds, "aurora")["Status"] == "stopped", 90, "the cluster stopped again")
    stopped_days_ago(kura, KIND_CLUSTER, "aurora", 7)
    wait_for(lambda: cluster(rds, "aurora")["Status"] == "available", 90, "the cluster started by itself")
    for ident in ("aurora-w", "aurora-r"):
        wait_status(rds, ident, "available", 60)
    said = [e["Message"] for e in rds.describe_events(SourceType="db-cluster", SourceIdentifier="aurora")[
        "Events"]]
    assert autostart.CLUSTER_STARTED in said, said


def _custom_endpoints(rds: Any) -> None:
    """A READER custom endpoint over the reader, an ANY one over the writer alone."""
    for ident, kind, members in (("only-reads", "READER", ["aurora-r"]), ("the-writer", "ANY", ["aurora-w"])):
        made = rds.create_db_cluster_endpoint(DBClusterIdentifier="aurora",
                                              DBClusterEndpointIdentifier=ident, EndpointType=kind,
                                              StaticMembers=members)
        assert (made["EndpointType"], made["CustomEndpointType"]) == ("CUSTOM", kind)
    listed = wait_for(lambda: (e := rds.describe_db_cluster_endpoints(DBClusterIdentifier="aurora")[
        "DBClusterEndpoints"]) and all(i["Status"] == "available" for i in e) and e, 30, "custom endpoints")
    by_type = {(i["EndpointType"], i["DBClusterEndpointIdentifier"]): i["Endpoint"] for i in listed}
    assert set(by_type) == {("WRITER", "aurora"), ("READER", "aurora"), ("CUSTOM", "only-reads"),
                            ("CUSTOM", "the-writer")}
    port = cluster(rds, "aurora")["Port"]
    for ident, recovering in (("only-reads", True), ("the-writer", False)):
        target = {"Endpoint": {"Address": by_type[("CUSTOM", ident)], "Port": port}}
        wait_for(lambda target=target, recovering=recovering: in_recovery(target) is recovering, 30,
                 f"custom endpoint {ident}")
        rds.delete_db_cluster_endpoint(DBClusterEndpointIdentifier=ident)
    wait_for(lambda: len(rds.describe_db_cluster_endpoints(DBClusterIdentifier="aurora")[
        "DBClusterEndpoints"]) == 2, 30, "the custom endpoints deleted")


def _snapshot_and_restores(rds: Any) -> None:
    """A manual cluster snapshot and a copy of it, a cluster restored from the copy, one restored to the
    latest restorable time and a clone (copy-on-write): each has no DB instance until one is added, and
    that writer has the data; what the clone and its source write afterwards stays on their side."""
    snap = rds.create_db_cluster_snapshot(DBClusterIdentifier="aurora",
                                          DBClusterSnapshotIdentifier="aurora-snap")["DBClusterSnapshot"]
    assert (snap["DBClusterIdentifier"], snap["SnapshotType"]) == ("aurora", "manual")
    wait_for(lambda: rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="aurora-snap")[
        "DBClusterSnapshots"][0]["Status"] == "available", 60, "the cluster snapshot")
    listed = rds.describe_db_cluster_snapshots(DBClusterIdentifier="aurora")["DBClusterSnapshots"]
    assert {s["SnapshotType"] for s in listed} == {"manual", "automated"}
    assert all(not s.get("DBClusterIdentifier") for s in rds.describe_db_snapshots()["DBSnapshots"])
    copied = rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier="aurora-snap",
                                          TargetDBClusterSnapshotIdentifier="aurora-snap-copy")[
        "DBClusterSnapshot"]
    assert copied["SourceDBClusterSnapshotArn"].endswith(":cluster-snapshot:aurora-snap")
    wait_for(lambda: rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="aurora-snap-copy")[
        "DBClusterSnapshots"][0]["Status"] == "available", 60, "the copy")
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="aurora-snap")  # the copy stands alone
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="aurora-from-snap",
                                         SnapshotIdentifier="aurora-snap-copy", Engine="aurora-postgresql")
    rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier="aurora-pitr",
                                            SourceDBClusterIdentifier="aurora", UseLatestRestorableTime=True)
    for ident in ("aurora-clone", "aurora-clone2"):  # the second one never gets a DB instance
        clone = rds.restore_db_cluster_to_point_in_time(
            DBClusterIdentifier=ident, SourceDBClusterIdentifier="aurora", RestoreType="copy-on-write",
            UseLatestRestorableTime=True)["DBCluster"]
        assert clone["Status"] == "creating"
    restores = ("aurora-from-snap", "aurora-pitr", "aurora-clone")
    for ident in restores:
        restored = wait_for(lambda ident=ident: (c := cluster(rds, ident))["Status"] == "available" and c, 60,
                            f"cluster {ident}")
        assert restored["DBClusterMembers"] == [] and restored["MasterUsername"] == "master"
        rds.create_db_instance(DBInstanceIdentifier=f"{ident}-w", DBClusterIdentifier=ident,
                               Engine="aurora-postgresql", DBInstanceClass="db.t3.medium")
    for ident in restores:
        wait_status(rds, f"{ident}-w", "available", 180)
        assert _notes(endpoint(cluster(rds, ident))) == ["through the cluster endpoint"]
    _clone_is_independent(endpoint(cluster(rds, "aurora")), endpoint(cluster(rds, "aurora-clone")))
    for ident in restores:
        rds.delete_db_instance(DBInstanceIdentifier=f"{ident}-w")
    for ident in restores:
        wait_for(lambda ident=ident: not cluster(rds, ident)["DBClusterMembers"], 60,
                 f"{ident}'s writer gone")
        rds.delete_db_cluster(DBClusterIdentifier=ident, SkipFinalSnapshot=True)
    _final_snapshot_of_a_clone(rds)


def _final_snapshot_of_a_clone(rds: Any) -> None:
    """A clone that never had a DB instance: its final snapshot is of its volume, and restores."""
    wait_for(lambda: cluster(rds, "aurora-clone2")["Status"] == "available", 60, "the second clone")
    rds.delete_db_cluster(DBClusterIdentifier="aurora-clone2", FinalDBSnapshotIdentifier="clone2-final")
    wait_for(lambda: rds.describe_db_cluster_snapshots(DBClusterIdentifier="aurora-clone2")[
        "DBClusterSnapshots"][0]["Status"] == "available", 60, "the clone's final snapshot")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="from-clone2", SnapshotIdentifier="clone2-final",
                                         Engine="aurora-postgresql")
    wait_for(lambda: cluster(rds, "from-clone2")["Status"] == "available", 30, "the restored clone")
    rds.create_db_instance(DBInstanceIdentifier="from-clone2-w", DBClusterIdentifier="from-clone2",
                           Engine="aurora-postgresql", DBInstanceClass="db.t3.medium")
    wait_status(rds, "from-clone2-w", "available", 180)
    assert _notes(endpoint(cluster(rds, "from-clone2"))) == ["through the cluster endpoint"]
    rds.delete_db_instance(DBInstanceIdentifier="from-clone2-w")
    wait_for(lambda: not cluster(rds, "from-clone2")["DBClusterMembers"], 60, "from-clone2's writer gone")
    rds.delete_db_cluster(DBClusterIdentifier="from-clone2", SkipFinalSnapshot=True)
    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="clone2-final")


def _clone_is_independent(source: dict[str, Any], clone: dict[str, Any]) -> None:
    assert query(clone, "INSERT INTO notes VALUES (9, 'in the clone')") == []
    assert query(source, "CREATE TABLE after_the_clone (id int)") == []
    assert _notes(clone) == ["through the cluster endpoint", "in the clone"]
    assert _notes(source) == ["through the cluster endpoint"]
    assert query(clone, "SELECT to_regclass('after_the_clone') IS NULL") == [True]


def test_failover_moves_the_writer_without_losing_a_commit(kura: KuraServer) -> None:
    """FailoverDBCluster under a committing writer: the reader becomes the writer, the old writer a
    reader streaming from it, the cluster endpoint follows, and every acknowledged commit is there."""
    rds = kura.client("rds")
    found = writer_and_reader(rds, "fo")
    wait_for(lambda: in_recovery(endpoint(found)) is False, 30, "the cluster endpoint")
    with connect(endpoint(found)) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY)")
    writer = HaWriter(found["Endpoint"], int(found["Port"]), PASSWORD)
    writer.start()
    wait_for(lambda: len(writer.acked) > 20, 10, "the writer commits")
    assert refused("InvalidParameterValue", rds.failover_db_cluster, DBClusterIdentifier="fo",
                   TargetDBInstanceIdentifier="fo-1")  # the writer itself
    answer = rds.failover_db_cluster(DBClusterIdentifier="fo", TargetDBInstanceIdentifier="fo-2")["DBCluster"]
    assert answer["Status"] == "failing-over"
    wait_for(lambda: {(m["DBInstanceIdentifier"], m["IsClusterWriter"])
                      for m in cluster(rds, "fo")["DBClusterMembers"]} == {("fo-1", False), ("fo-2", True)}
             and cluster(rds, "fo")["Status"] == "available", 60, "the failover")
    acked = len(writer.acked)
    wait_for(lambda: len(writer.acked) > acked + 20, 30, "commits through the new writer")
    writer.stop()
    with connect(endpoint(found)) as conn:
        present = {r[0] for r in conn.execute("SELECT id FROM ledger").fetchall()}
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    assert not missing(writer, present), f"acknowledged commits lost: {missing(writer, present)[:10]}"
    assert writer.refused == [], f"connection attempts failed: {writer.refused[:3]}"
    old = wait_status(rds, "fo-1", "available", 60)
    wait_for(lambda: in_recovery(old) is True, 60, "the old writer to stream from the new one")
    wait_for(lambda: _count(old) == len(present), 60, "the old writer to have every row")
    events = rds.describe_events(SourceType="db-cluster", SourceIdentifier="fo")["Events"]
    assert any(e["Message"] == "Completed failover to DB instance: fo-2" for e in events), events






def test_cluster_parameter_group_applies_to_members(kura: KuraServer) -> None:
    """Seed 001's cluster parameter group (log_statement, log_min_duration_statement,
    shared_preload_libraries) runs on the cluster's writer; a later change applies live."""
    rds = kura.client("rds")
    major = max(e.major for e in nodes.engines())
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName="audit", Description="seed 001",
                                          DBParameterGroupFamily=f"aurora-postgresql{major}")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="audit", Parameters=[
        {"ParameterName": "log_statement", "ParameterValue": "all", "ApplyMethod": "immediate"},
        {"ParameterName": "log_min_duration_statement", "ParameterValue": "1000", "ApplyMethod": "immediate"},
        {"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements",
         "ApplyMethod": "pending-reboot"}])
    rds.create_db_cluster(DBClusterIdentifier="audited", Engine="aurora-postgresql",
                          EngineVersion=str(major), MasterUsername="master", MasterUserPassword=PASSWORD,
                          DatabaseName="app", DBClusterParameterGroupName="audit")
    found = wait_for(lambda: (c := cluster(rds, "audited"))["Status"] == "available" and c, 30, "the cluster")
    rds.create_db_instance(DBInstanceIdentifier="audited-1", DBClusterIdentifier="audited",
                           Engine="aurora-postgresql", DBInstanceClass="db.t3.medium")
    writer = wait_status(rds, "audited-1", "available", 120)
    assert (_show(writer, "log_statement"), _show(writer, "log_min_duration_statement")) == ("all", "1s")
    assert _show(writer, "shared_preload_libraries") == "pg_stat_statements"
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="audit", Parameters=[
        {"ParameterName": "log_min_duration_statement", "ParameterValue": "500", "ApplyMethod": "immediate"}])
    wait_for(lambda: _show(endpoint(found), "log_min_duration_statement") == "500ms", 30, "the change live")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="audit", Parameters=[
        {"ParameterName": "max_locks_per_transaction", "ParameterValue": "128",
         "ApplyMethod": "pending-reboot"}])
    wait_for(lambda: rds.describe_db_instances(DBInstanceIdentifier="audited-1")["DBInstances"][0][
        "DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot", 30, "the change pending")
    assert _show(endpoint(found), "max_locks_per_transaction") == "64"
    rebooting = rds.reboot_db_instance(DBInstanceIdentifier="audited-1")["DBInstance"]
    assert rebooting["DBInstanceStatus"] == "rebooting"
    wait_status(rds, "audited-1", "available", 60)  # RebootDBInstance of a cluster's DB instance
    assert wait_for(lambda: _show(endpoint(found), "max_locks_per_transaction") == "128", 30, "the reboot")
    rds.delete_db_instance(DBInstanceIdentifier="audited-1")
    wait_for(lambda: not cluster(rds, "audited")["DBClusterMembers"], 60, "the writer deleted")
    rds.delete_db_cluster(DBClusterIdentifier="audited", SkipFinalSnapshot=True)
    wait_for(lambda: all(c["DBClusterIdentifier"] != "audited"
                         for c in rds.describe_db_clusters()["DBClusters"]), 30, "the cluster deleted")
    rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName="audit")
