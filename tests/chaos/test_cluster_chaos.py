"""Chaos on an Aurora DB cluster: Kura killed (-9) in the middle of FailoverDBCluster, under a committing
writer. The failover is checkpointed in the cluster's status: the restarted Kura carries it on, and
afterwards every acknowledged commit is present and the cluster endpoint serves writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kura.control.rds import nodes
from tests.ha_writer import HaWriter, missing
from tests.integration.test_rds_clusters import cluster, endpoint, in_recovery, query, writer_and_reader
from tests.integration.test_rds_lifecycle import PASSWORD, connect, running, wait_for, wait_status
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")


@pytest.fixture
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("cluster-chaos") / "home") as server:
        yield server


def writers(rds: Any) -> set[tuple[str, bool]]:
    return {(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in cluster(rds, "kc")["DBClusterMembers"]}


def test_kill9_of_kura_during_a_cluster_failover(kura: KuraServer) -> None:
    rds = kura.client("rds")
    found = writer_and_reader(rds, "kc")
    ledger = "CREATE TABLE IF NOT EXISTS ledger (id int PRIMARY KEY)"
    wait_for(lambda: query(endpoint(found), ledger) is not None, 30, "the cluster endpoint")
    writer = HaWriter(found["Endpoint"], int(found["Port"]), PASSWORD)
    writer.start()
    wait_for(lambda: len(writer.acked) > 20, 10, "the writer commits")
    rds.failover_db_cluster(DBClusterIdentifier="kc", TargetDBInstanceIdentifier="kc-2")
    deadline = time.monotonic() + 5  # kill Kura as soon as the failover has begun (its first step)
    while time.monotonic() < deadline and not any(
            e["Message"].startswith("Started cross AZ failover") for e in rds.describe_events(
                SourceType="db-cluster", SourceIdentifier="kc")["Events"]):
        time.sleep(0.01)
    kura.kill9()
    time.sleep(1)
    kura.start()
    wait_for(lambda: writers(rds) == {("kc-1", False), ("kc-2", True)} and cluster(rds, "kc")["Status"]
             == "available", 90, "the failover to complete after the restart")
    acked = len(writer.acked)
    wait_for(lambda: len(writer.acked) > acked + 20, 60, "commits through the new writer")
    writer.stop()
    with connect(endpoint(found)) as conn:
        present = {r[0] for r in conn.execute("SELECT id FROM ledger").fetchall()}
    assert not missing(writer, present), f"acknowledged commits lost: {missing(writer, present)[:10]}"
    old = wait_status(rds, "kc-1", "available", 90)
    wait_for(lambda: in_recovery(old) is True, 60, "the old writer to stream from the new one")

