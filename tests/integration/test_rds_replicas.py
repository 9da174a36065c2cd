"""Read replicas on real PostgreSQL streaming replication through a real `kura up` and boto3: a replica
serves reads at its own endpoint and refuses writes, follows its source within moments, cascades,
reports its state, is promoted into a writable standalone instance, and leaves no slot behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from kura.control.rds import nodes
from tests.integration.test_rds_lifecycle import (
    connect,
    create,
    describe,
    running,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("replicas") / "home") as server:
        yield server


def count(inst: dict[str, Any]) -> int:
    with connect(inst) as conn:
        row = conn.execute("SELECT count(*) FROM t").fetchone()
        assert row is not None
        return int(row[0])


def slots(inst: dict[str, Any]) -> list[str]:
    with connect(inst) as conn:
        return [r[0] for r in conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall()]


def test_replica_cascade_and_promotion(kura: KuraServer) -> None:
    rds = kura.client("rds")
    create(rds, "primary-db", BackupRetentionPeriod=1, DBInstanceClass="db.m5.large")
    src = wait_status(rds, "primary-db", "available", 60)
    with connect(src) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t SELECT generate_series(1, 1000)")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="replica-1",
                                        SourceDBInstanceIdentifier="primary-db",
                                        DBInstanceClass="db.t3.micro")
    rep = wait_status(rds, "replica-1", "available", 90)
    assert rep["ReadReplicaSourceDBInstanceIdentifier"] == "primary-db"
    assert rep["Endpoint"]["Address"] != src["Endpoint"]["Address"]
    assert count(rep) == 1000
    with connect(rep) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO t VALUES (-1)")
    started = time.monotonic()
    with connect(src) as conn:
        conn.execute("INSERT INTO t SELECT generate_series(1001, 2000)")
    wait_for(lambda: count(rep) == 2000, 10, "the replica to follow")
    print(f"replica caught up in {time.monotonic() - started:.3f} s")
    assert describe(rds, "primary-db")["ReadReplicaDBInstanceIdentifiers"] == ["replica-1"]
    infos = wait_for(lambda: describe(rds, "replica-1").get("StatusInfos"), 10, "status infos")
    assert infos[0]["StatusType"] == "read replication" and infos[0]["Normal"]

    rds.create_db_instance_read_replica(DBInstanceIdentifier="replica-2",
                                        SourceDBInstanceIdentifier="replica-1")
    cascade = wait_status(rds, "replica-2", "available", 90)
    with connect(src) as conn:
        conn.execute("INSERT INTO t VALUES (5000)")
    wait_for(lambda: count(cascade) == 2001, 10, "the cascaded replica to follow")

    # a source of replicas keeps backups (AWS refuses retention 0 here)
    rds.promote_read_replica(DBInstanceIdentifier="replica-1", BackupRetentionPeriod=1)
    promoted = wait_for(lambda: (lambda i: i if i["DBInstanceStatus"] == "available"
                                 and "ReadReplicaSourceDBInstanceIdentifier" not in i else None)(
        describe(rds, "replica-1")), 60, "replica-1 promoted")
    with connect(promoted) as conn:
        conn.execute("INSERT INTO t VALUES (-1)")  # writable now
    wait_for(lambda: count(cascade) == 2002, 10, "replica-2 follows the promoted replica-1")
    assert "replica-1" not in (describe(rds, "primary-db").get("ReadReplicaDBInstanceIdentifiers") or [])
    wait_for(lambda: not [s for s in slots(src) if "replica_1" in s], 10, "replica-1's slot dropped")
    with connect(src) as conn:
        conn.execute("INSERT INTO t VALUES (6000)")  # the old source goes on, alone
    assert count(promoted) == 2002

    rds.delete_db_instance(DBInstanceIdentifier="replica-2", SkipFinalSnapshot=True)
    wait_for(lambda: not [s for s in slots(promoted) if "replica_2" in s], 30, "replica-2's slot dropped")
    rds.delete_db_instance(DBInstanceIdentifier="replica-1", SkipFinalSnapshot=True)
    rds.delete_db_instance(DBInstanceIdentifier="primary-db", SkipFinalSnapshot=True)


def test_deleting_the_source_promotes_its_replica(kura: KuraServer) -> None:
    rds = kura.client("rds")
    create(rds, "doomed", BackupRetentionPeriod=1)
    src = wait_status(rds, "doomed", "available", 60)
    with connect(src) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="orphan", SourceDBInstanceIdentifier="doomed")
    rep = wait_status(rds, "orphan", "available", 90)
    wait_for(lambda: count(rep) == 1, 10, "the replica to have the row")
    rds.delete_db_instance(DBInstanceIdentifier="doomed", SkipFinalSnapshot=True)

    def writable() -> bool:
        try:
            with connect(rep) as conn:
                conn.execute("INSERT INTO t VALUES (2)")
            return True
        except psycopg.errors.ReadOnlySqlTransaction:
            return False

    wait_for(writable, 60, "the orphaned replica to be promoted")
    # writable as soon as pg_promote returns; the record says so once the promotion step is checkpointed
    wait_for(lambda: "ReadReplicaSourceDBInstanceIdentifier" not in describe(rds, "orphan"), 10,
             "orphan shown as standalone")
    rds.delete_db_instance(DBInstanceIdentifier="orphan", SkipFinalSnapshot=True)
