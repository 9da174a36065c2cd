"""Chaos on an Aurora DB cluster, under a committing writer: Kura killed (-9) in the middle of
FailoverDBCluster (the failover is checkpointed in the cluster's status: the restarted Kura carries it
on); then, on the same cluster with two readers whose commits wait for either: the writer's postmaster
killed (-9) — the most advanced reader becomes the writer within 5 s —, both readers frozen (commits
stop waiting for them), and, with KURA_SLOW=1, the new writer's postmaster stopped (SIGSTOP: not
answering) — another failover. Afterwards every acknowledged commit is present, the cluster endpoint
serves writes and each old writer streams as a reader."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kura.control.rds import nodes
from kura.engines.postgres import pgproc
from tests.ha_writer import HaWriter, missing
from tests.integration.test_rds_clusters import cluster, endpoint, in_recovery, query, writer_and_reader
from tests.integration.test_rds_lifecycle import PASSWORD, connect, running, wait_for, wait_status
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
MEMBERS = {"kc-1", "kc-2", "kc-3"}


@pytest.fixture
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("cluster-chaos") / "home") as server:
        yield server


def writers(rds: Any) -> set[tuple[str, bool]]:
    return {(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in cluster(rds, "kc")["DBClusterMembers"]}


def test_kill9_of_kura_during_a_failover_then_of_the_writer(kura: KuraServer) -> None:
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
    rds.create_db_instance(DBInstanceIdentifier="kc-3", DBClusterIdentifier="kc", Engine="aurora-postgresql",
                           DBInstanceClass="db.t3.medium", PromotionTier=2)
    wait_status(rds, "kc-3", "available", 120)
    new = _writer_fails(kura, rds, found, "kc-2", signal.SIGKILL, "ledger2")
    _readers_frozen(kura, rds, found, new)
    if os.environ.get("KURA_SLOW") == "1":  # the long version (make test-all): a writer that stops answering
        _writer_fails(kura, rds, found, new, signal.SIGSTOP, "ledger4")


def _postmaster(kura: KuraServer, ident: str) -> int:
    pidfile = kura.home / "data" / "rds" / kura.region / ident / "pgdata" / "postmaster.pid"
    return int(pidfile.read_text().split()[0])


def _after(writer: HaWriter, instant: float) -> int:
    return len([t for t in list(writer.acked.values()) if t > instant])


def _events(rds: Any) -> list[str]:
    return [e["Message"] for e in rds.describe_events(SourceType="db-cluster", SourceIdentifier="kc",
                                                       Duration=60)["Events"]]


def _writer_fails(kura: KuraServer, rds: Any, found: dict[str, Any], old: str, sig: int, table: str) -> str:
    """`old` writes, the two others read with commits waiting for any one of them: `sig` to `old`'s
    postmaster (SIGKILL: gone; SIGSTOP: stopped, its backends still committing) under load fails over to a
    reader within 5 s with no acknowledged commit lost; the other reader follows the new writer and `old`
    comes back as a reader."""
    readers = sorted(MEMBERS - {old})
    wait_for(lambda: query(endpoint(found), "SHOW synchronous_standby_names") == [
        f'ANY 1 ("{readers[0]}", "{readers[1]}")'], 60, "commits to wait for either reader")
    assert query(endpoint(found), f"CREATE TABLE {table} (id int PRIMARY KEY)") == []
    writer = HaWriter(found["Endpoint"], int(found["Port"]), PASSWORD, table=table)
    writer.start()
    wait_for(lambda: len(writer.acked) > 50, 20, "the writer commits")
    before, pid, at = len(_events(rds)), _postmaster(kura, old), time.time()
    os.kill(pid, sig)
    try:
        new = wait_for(lambda: next((m for m, w in writers(rds) if w and m != old), None), 30, "a new writer")
        described = time.time() - at
        wait_for(lambda: _after(writer, at + described) > 20, 30, "commits through the new writer")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # fenced (killed) by then, unless the failover did not happen
    writer.stop()
    rto = writer.outage(at)
    print(f"writer {old} {signal.Signals(sig).name}: {new} writes; DescribeDBClusters said so after "
          f"{described:.2f} s; no commit for {rto:.2f} s")
    with connect(endpoint(found)) as conn:
        present = {r[0] for r in conn.execute(f"SELECT id FROM {table}").fetchall()}
    assert not missing(writer, present), f"acknowledged commits lost: {missing(writer, present)[:10]}"
    assert writer.refused == [], f"connection attempts failed: {writer.refused[:3]}"
    assert rto <= 5.0, f"no commit for {rto:.2f} s"
    events = _events(rds)[before:]
    assert f"Started cross AZ failover to DB instance: {new}" in events, events
    assert f"Completed failover to DB instance: {new}" in events, events
    others = sorted(MEMBERS - {new})
    wait_for(lambda: query(endpoint(found), "SHOW synchronous_standby_names") == [
        f'ANY 1 ("{others[0]}", "{others[1]}")'], 90, "the other reader and the old writer to follow")
    back = wait_status(rds, old, "available", 60)
    assert in_recovery(back) is True
    wait_for(lambda: query(back, f"SELECT count(*) FROM {table}") == [len(present)], 60,
             "the old writer to have every row")
    return str(new)


def _signal_all(kura: KuraServer, ident: str, sig: int) -> None:
    """`sig` to a member's postmaster and every process it started (stopped first, continued last)."""
    postmaster = _postmaster(kura, ident)
    kids = pgproc.children(postmaster)
    for pid in ([postmaster, *kids] if sig == signal.SIGSTOP else [*kids, postmaster]):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _readers_frozen(kura: KuraServer, rds: Any, found: dict[str, Any], new: str) -> None:
    """Both readers frozen (SIGSTOP, their connections stay open): commits stop waiting for them within
    seconds, an event says so, and they wait for the readers again once these run again (SIGCONT)."""
    readers = sorted(MEMBERS - {new})
    assert query(endpoint(found), "CREATE TABLE ledger3 (id int PRIMARY KEY)") == []
    writer = HaWriter(found["Endpoint"], int(found["Port"]), PASSWORD, table="ledger3")
    writer.start()
    wait_for(lambda: len(writer.acked) > 50, 20, "the writer commits")
    before, at = len(_events(rds)), time.time()
    try:
        for ident in readers:
            _signal_all(kura, ident, signal.SIGSTOP)
        wait_for(lambda: any(m.startswith("No reader DB instance is streaming")
                             for m in _events(rds)[before:]), 10, "commits to stop waiting for the readers")
        degraded = time.time()
        wait_for(lambda: _after(writer, degraded) > 20, 30, "commits without the readers")
    finally:
        for ident in readers:
            _signal_all(kura, ident, signal.SIGCONT)
    stall = writer.outage(at)
    wait_for(lambda: query(endpoint(found), "SHOW synchronous_standby_names") == [
        f'ANY 1 ("{readers[0]}", "{readers[1]}")'], 60, "commits to wait for the readers again")
    writer.stop()
    print(f"readers frozen: commits stalled {stall:.2f} s")
    assert not writer.refused and stall < 5.0, (writer.refused[:3], stall)
    assert any(m.startswith("Reader DB instances are synchronous") for m in _events(rds)[before:])
    with connect(endpoint(found)) as conn:
        present = {r[0] for r in conn.execute("SELECT id FROM ledger3").fetchall()}
    assert not missing(writer, present)
