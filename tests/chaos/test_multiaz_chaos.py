"""Chaos on Multi-AZ instances, with real processes: kill -9 of the router, of Kura in the middle of a
failover, of the standby and then of the primary before the standby is synchronous again, and a failover
during a running base backup — each while a writer commits continuously through the endpoint. Afterwards
every acknowledged commit is present and the endpoint serves writes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kura.control.rds import nodes
from kura.net.router.control import RouterControl
from tests.ha_writer import HaWriter
from tests.integration.test_rds_lifecycle import connect, describe, messages, running, wait_for, wait_status
from tests.integration.test_rds_multiaz import (
    SYNCED,
    check_nothing_lost,
    make,
    primary_pid,
    replication,
    standby_pid,
    writer_for,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
STARTED, DONE = "Multi-AZ instance failover started", "Multi-AZ instance failover completed"


@pytest.fixture
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("multiaz-chaos") / "home") as server:
        yield server


def commits_after(writer: HaWriter, instant: float, n: int = 20) -> bool:
    return len([t for t in list(writer.acked.values()) if t > instant]) >= n


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_kill9_of_the_router_brings_it_back(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "chaos-router")
    writer = writer_for(inst)
    router = RouterControl(kura.home / "router")
    first = router.pid()
    assert first is not None
    workers = {int(p.stem.split("-")[1]) for p in router.stats_files()}  # they stop by themselves
    at = time.time()
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: (router.pid() or first) != first, 30, "the router started again")
    # A steered connection outlives the router, so the writer's commits prove nothing: the new router
    # serves once the old workers are gone and its own listen on the endpoint.
    address = (inst["Endpoint"]["Address"], inst["Endpoint"]["Port"])
    wait_for(lambda: not any(alive(pid) for pid in workers), 30, "the old workers gone")
    assert router.wait_listening(address, 30), "the new router does not listen on the endpoint"
    with connect(inst) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    wait_for(lambda: commits_after(writer, time.time() - 0.5, 5), 30, "commits after the restart")
    failed = list(writer.refused)
    writer.refused.clear()  # refusals while no router listened are expected: count them, don't fail
    check_nothing_lost(rds, "chaos-router", writer)
    print(f"router down: {len(failed)} connection attempts failed; longest gap {writer.outage(at):.2f} s")


def test_kill9_of_kura_during_a_failover(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "chaos-kura")
    writer = writer_for(inst)
    before = len(messages(rds, "chaos-kura"))
    at = time.time()
    os.kill(primary_pid(kura, "chaos-kura"), signal.SIGKILL)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and STARTED not in messages(rds, "chaos-kura")[before:]:
        time.sleep(0.01)
    kura.kill9()
    time.sleep(1)
    kura.start()
    wait_for(lambda: DONE in messages(rds, "chaos-kura")[before:], 60, "the failover to complete")
    wait_for(lambda: commits_after(writer, at), 60, "commits after the failover")
    check_nothing_lost(rds, "chaos-kura", writer)
    wait_for(lambda: SYNCED in messages(rds, "chaos-kura")[before:], 60, "a synchronous standby again")
    print(f"kura killed mid-failover: no commit for {writer.outage(at):.2f} s")


def test_a_standby_that_is_not_synchronous_is_never_promoted(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "chaos-nosync")
    zone = inst["AvailabilityZone"]
    writer = writer_for(inst)
    before = len(messages(rds, "chaos-nosync"))
    os.kill(standby_pid(kura, "chaos-nosync"), signal.SIGKILL)
    wait_for(lambda: any("without synchronous replication" in m
                         for m in messages(rds, "chaos-nosync")[before:]), 30, "the standby to be lost")
    at = time.time()
    os.kill(primary_pid(kura, "chaos-nosync"), signal.SIGKILL)  # before the standby is synchronous again
    wait_for(lambda: commits_after(writer, at), 60, "commits after the primary restarted")
    check_nothing_lost(rds, "chaos-nosync", writer)
    after = messages(rds, "chaos-nosync")[before:]
    assert STARTED not in after, f"a failover happened although the standby was not synchronous: {after}"
    assert describe(rds, "chaos-nosync")["AvailabilityZone"] == zone  # restarted in place
    wait_for(lambda: replication(describe(rds, "chaos-nosync")) == [("kura_member_2", "streaming", "sync")],
             60, "a synchronous standby again")


def test_a_failover_during_a_base_backup(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "chaos-backup", BackupRetentionPeriod=1)
    with connect(inst) as conn:  # enough data that a snapshot takes a moment
        conn.execute("CREATE TABLE filler AS SELECT g AS id, repeat('x', 900) AS pad "
                     "FROM generate_series(1, 300000) g")
    writer = writer_for(inst)
    before = len(messages(rds, "chaos-backup"))
    rds.create_db_snapshot(DBInstanceIdentifier="chaos-backup", DBSnapshotIdentifier="during-failover")
    wait_for(lambda: _snapshot(rds, "during-failover")["Status"] == "creating", 10, "the snapshot to start")
    time.sleep(0.3)
    at = time.time()
    os.kill(primary_pid(kura, "chaos-backup"), signal.SIGKILL)
    wait_for(lambda: DONE in messages(rds, "chaos-backup")[before:], 30, "the failover")
    wait_for(lambda: commits_after(writer, at), 60, "commits after the failover")
    check_nothing_lost(rds, "chaos-backup", writer)
    final = wait_for(lambda: (lambda s: s if s["Status"] in ("available", "failed") else None)(
        _snapshot(rds, "during-failover")), 180, "the snapshot to finish one way or the other")
    print(f"snapshot taken across the failover: {final['Status']}")
    rds.create_db_snapshot(DBInstanceIdentifier="chaos-backup", DBSnapshotIdentifier="after-failover")
    wait_for(lambda: _snapshot(rds, "after-failover")["Status"] == "available", 180, "a later snapshot")
    wait_status(rds, "chaos-backup", "available", 60)


def _snapshot(rds: Any, ident: str) -> dict[str, Any]:
    return dict(rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0])
