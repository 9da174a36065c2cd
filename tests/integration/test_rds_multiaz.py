"""Multi-AZ DB instances through a real `kura up`, boto3 and psycopg: a synchronous standby, automatic
failover when the primary is killed or stopped (SIGSTOP), reboot with failover, a lost standby, and
Multi-AZ turned off and on — each while a writer commits through the endpoint, and each ending with every
acknowledged commit present and no failed connection attempt."""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kura.control.rds import nodes
from tests.ha_writer import HaWriter, missing
from tests.integration.test_rds_lifecycle import (
    PASSWORD,
    connect,
    describe,
    messages,
    running,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
SYNCED = "Multi-AZ: the standby DB instance is synchronous; commits wait for it"


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("multiaz") / "home") as server:
        yield server


def make(rds: Any, ident: str, **extra: Any) -> dict[str, Any]:
    params = {"DBInstanceIdentifier": ident, "Engine": "postgres", "DBInstanceClass": "db.t3.micro",
              "MasterUsername": "master", "MasterUserPassword": PASSWORD, "AllocatedStorage": 20,
              "DBName": "app", "MultiAZ": True, **extra}
    rds.create_db_instance(**params)
    inst = wait_status(rds, ident, "available", 90)
    with connect(inst) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ledger (id int PRIMARY KEY)")
    return inst


def member_dirs(server: KuraServer, ident: str) -> list[Path]:
    base = server.home / "data" / "rds" / server.region / ident
    return [base / "pgdata", base / "pgdata2"]


def primary_pid(server: KuraServer, ident: str) -> int:
    """The postmaster of the member that is not a standby."""
    for datadir in member_dirs(server, ident):
        if (datadir / "PG_VERSION").exists() and not (datadir / "standby.signal").exists():
            return int((datadir / "postmaster.pid").read_text().split()[0])
    raise AssertionError(f"{ident} has no primary member")


def standby_pid(server: KuraServer, ident: str) -> int:
    for datadir in member_dirs(server, ident):
        if (datadir / "standby.signal").exists():
            return int((datadir / "postmaster.pid").read_text().split()[0])
    raise AssertionError(f"{ident} has no standby member")


def replication(inst: dict[str, Any]) -> list[tuple[str, str, str]]:
    with connect(inst) as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            "SELECT application_name, state, sync_state FROM pg_stat_replication "
            "WHERE application_name LIKE 'kura_member_%'").fetchall()]


def synced(rds: Any, ident: str, after: int) -> bool:
    return messages(rds, ident)[after:].count(SYNCED) > 0


def writer_for(inst: dict[str, Any]) -> HaWriter:
    ep = inst["Endpoint"]
    writer = HaWriter(ep["Address"], int(ep["Port"]), PASSWORD)
    writer.start()
    wait_for(lambda: len(writer.acked) > 20, 10, "the writer commits")
    return writer


def check_nothing_lost(rds: Any, ident: str, writer: HaWriter) -> None:
    writer.stop()
    with connect(describe(rds, ident)) as conn:
        present = {r[0] for r in conn.execute("SELECT id FROM ledger").fetchall()}
        conn.execute("INSERT INTO ledger (id) VALUES (-1)")  # the endpoint serves writes
    assert not missing(writer, present), f"acknowledged commits lost: {missing(writer, present)[:10]}"
    assert writer.refused == [], f"connection attempts failed: {writer.refused[:3]}"


def test_create_multi_az_has_a_synchronous_standby_that_refuses_clients(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "maz-create")
    assert inst["MultiAZ"] is True
    assert inst["SecondaryAvailabilityZone"] != inst["AvailabilityZone"]
    assert replication(inst) == [("kura_member_2", "streaming", "sync")]
    assert SYNCED in messages(rds, "maz-create")
    standby_conf = (member_dirs(kura, "maz-create")[1] / "kura.conf").read_text()
    address = re.search(r"listen_addresses = '([0-9.]+)'", standby_conf)
    assert address is not None and address.group(1) != inst["Endpoint"]["Address"]
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):  # not readable, as on RDS
        connect({"Endpoint": {"Address": address.group(1), "Port": 5432}})
    with connect(inst) as conn:
        if os.geteuid() == 0:  # steered by the kernel: the primary's own socket took the connection
            server_addr = conn.execute("SELECT host(inet_server_addr())").fetchone()
            assert server_addr == (inst["Endpoint"]["Address"],)
        status = subprocess.run([sys.executable, "-m", "kura", "status", "--home", str(kura.home)],
                                capture_output=True, text=True, timeout=30,
                                env={**os.environ, "COLUMNS": "200"})
    assert "Endpoint router" in status.stdout and f"rds/{kura.region}/maz-create" in status.stdout
    rds.delete_db_instance(DBInstanceIdentifier="maz-create", SkipFinalSnapshot=True)
    wait_for(lambda: not rds.describe_db_instances()["DBInstances"] or all(
        i["DBInstanceIdentifier"] != "maz-create" for i in rds.describe_db_instances()["DBInstances"]),
        60, "maz-create deleted")
    assert not any(d.exists() for d in member_dirs(kura, "maz-create"))


@pytest.mark.parametrize("how", ["kill9", "sigstop"])
def test_primary_failure_fails_over_without_losing_a_commit(kura: KuraServer, how: str) -> None:
    rds = kura.client("rds")
    ident = f"maz-{how}"
    inst = make(rds, ident)
    zones = (inst["AvailabilityZone"], inst["SecondaryAvailabilityZone"])
    writer = writer_for(inst)
    before = len(messages(rds, ident))
    pid = primary_pid(kura, ident)
    at = time.time()
    os.kill(pid, signal.SIGKILL if how == "kill9" else signal.SIGSTOP)
    wait_for(lambda: "Multi-AZ instance failover completed" in messages(rds, ident)[before:], 30,
             "the failover")
    wait_for(lambda: len([t for t in list(writer.acked.values()) if t > at]) > 20, 30, "commits after it")
    rto = writer.outage(at)
    check_nothing_lost(rds, ident, writer)
    assert rto < 10, f"no commit for {rto:.1f} s"
    after = describe(rds, ident)
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == zones[::-1]
    assert "Multi-AZ instance failover started" in messages(rds, ident)[before:]
    # the old primary is rebuilt as the new standby, synchronous again
    wait_for(lambda: synced(rds, ident, before), 60, "a synchronous standby again")
    assert replication(after) == [("kura_member_1", "streaming", "sync")]
    if how == "sigstop":
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    print(f"{how}: no acknowledged commit for {rto:.2f} s")


def test_reboot_with_failover_is_a_switchover(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "maz-switch")
    writer = writer_for(inst)
    before = len(messages(rds, "maz-switch"))
    at = time.time()
    rds.reboot_db_instance(DBInstanceIdentifier="maz-switch", ForceFailover=True)
    wait_status(rds, "maz-switch", "available", 60)
    wait_for(lambda: "Multi-AZ instance failover completed" in messages(rds, "maz-switch")[before:], 30,
             "the switchover")
    wait_for(lambda: len([t for t in list(writer.acked.values()) if t > at]) > 20, 30, "commits after it")
    check_nothing_lost(rds, "maz-switch", writer)
    assert describe(rds, "maz-switch")["AvailabilityZone"] == inst["SecondaryAvailabilityZone"]
    wait_for(lambda: synced(rds, "maz-switch", before), 60, "a synchronous standby again")


def test_lost_standby_degrades_then_comes_back(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "maz-standby")
    writer = writer_for(inst)
    before = len(messages(rds, "maz-standby"))
    at = time.time()
    os.kill(standby_pid(kura, "maz-standby"), signal.SIGKILL)
    wait_for(lambda: any("without synchronous replication" in m
                         for m in messages(rds, "maz-standby")[before:]), 30, "the degraded event")
    wait_for(lambda: synced(rds, "maz-standby", before), 60, "a synchronous standby again")
    rto = writer.outage(at)
    check_nothing_lost(rds, "maz-standby", writer)
    assert rto < 5, f"writes stalled {rto:.1f} s while the standby was lost"
    assert replication(inst) == [("kura_member_2", "streaming", "sync")]


def test_multi_az_off_and_on_online(kura: KuraServer) -> None:
    """Turning Multi-AZ on moves the endpoint to the router: the primary restarts once on its own address
    (connections meanwhile may fail, as in a reboot). Turning it off keeps the endpoint where it is."""
    rds = kura.client("rds")
    inst = make(rds, "maz-toggle", MultiAZ=False)
    assert replication(inst) == [] and "SecondaryAvailabilityZone" not in inst
    rds.modify_db_instance(DBInstanceIdentifier="maz-toggle", MultiAZ=True, ApplyImmediately=True)
    on = wait_status(rds, "maz-toggle", "modifying", 30)
    on = wait_status(rds, "maz-toggle", "available", 60)
    assert on["MultiAZ"] is True and on["SecondaryAvailabilityZone"]
    assert on["Endpoint"] == inst["Endpoint"]  # the same endpoint, now the router's
    assert replication(inst) == [("kura_member_2", "streaming", "sync")]
    writer = writer_for(inst)
    rds.modify_db_instance(DBInstanceIdentifier="maz-toggle", MultiAZ=False, ApplyImmediately=True)
    wait_for(lambda: replication(inst) == [], 60, "no standby")
    off = wait_status(rds, "maz-toggle", "available", 30)
    assert off["MultiAZ"] is False and "SecondaryAvailabilityZone" not in off
    wait_for(lambda: not member_dirs(kura, "maz-toggle")[1].exists(), 10, "the standby's data gone")
    check_nothing_lost(rds, "maz-toggle", writer)


def test_replica_follows_and_backups_continue_across_a_failover(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = make(rds, "maz-src", BackupRetentionPeriod=1)
    wait_status(rds, "maz-src", "available", 60)
    rds.create_db_instance_read_replica(DBInstanceIdentifier="maz-rep", SourceDBInstanceIdentifier="maz-src")
    rep = wait_status(rds, "maz-rep", "available", 90)
    writer = writer_for(inst)
    time.sleep(1.5)
    before_failover = time.time()
    time.sleep(0.5)
    before = len(messages(rds, "maz-src"))
    os.kill(primary_pid(kura, "maz-src"), signal.SIGKILL)
    wait_for(lambda: "Multi-AZ instance failover completed" in messages(rds, "maz-src")[before:], 30,
             "the failover")
    time.sleep(2)
    after_failover = time.time()
    time.sleep(1)
    check_nothing_lost(rds, "maz-src", writer)
    acked_before = {i for i, t in list(writer.acked.items()) if t <= before_failover}
    acked_after = {i for i, t in list(writer.acked.items()) if t <= after_failover}

    def replica_has_all() -> bool:
        with connect(rep) as conn:
            return bool(conn.execute("SELECT count(*) FROM ledger WHERE id = ANY(%s)",
                                     (sorted(acked_after),)).fetchone()[0] == len(acked_after))  # type: ignore[index]
    wait_for(replica_has_all, 60, "the replica to follow the new primary")
    assert describe(rds, "maz-rep")["StatusInfos"][0]["Status"] == "replicating"
    # point-in-time restores to an instant before the failover and to one after it
    wait_for(lambda: describe(rds, "maz-src")["LatestRestorableTime"].timestamp() >= after_failover, 60,
             "restorable past the failover")
    for name, at in (("maz-pitr-before", before_failover), ("maz-pitr-after", after_failover)):
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="maz-src", TargetDBInstanceIdentifier=name,
            RestoreTime=datetime.datetime.fromtimestamp(at, datetime.UTC), BackupRetentionPeriod=0)
    for name, at, acked in (("maz-pitr-before", before_failover, acked_before),
                            ("maz-pitr-after", after_failover, acked_after)):
        restored = wait_status(rds, name, "available", 120)
        with connect(restored) as conn:
            present = {r[0] for r in conn.execute("SELECT id FROM ledger").fetchall()}
            # a Single-AZ copy of a Multi-AZ source does not wait for the source's standby
            assert conn.execute("SHOW synchronous_standby_names").fetchone() == ("",)
            conn.execute("INSERT INTO ledger (id) VALUES (-2)")
        assert acked <= present, f"{name}: {len(acked - present)} acknowledged rows missing"
        later = {i for i, t in list(writer.acked.items()) if i in present and t > at + 1}
        assert not later, f"{name}: rows committed after the restore time are present"
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    rds.promote_read_replica(DBInstanceIdentifier="maz-rep")
    wait_for(lambda: "ReadReplicaSourceDBInstanceIdentifier" not in describe(rds, "maz-rep")
             and describe(rds, "maz-rep")["DBInstanceStatus"] == "available", 60, "the promotion")
    with connect(describe(rds, "maz-rep")) as conn:
        assert conn.execute("SHOW synchronous_standby_names").fetchone() == ("",)
        conn.execute("INSERT INTO ledger (id) VALUES (-3)")  # the promoted replica takes writes


def test_reboot_and_class_change_keep_the_standby_in_step(kura: KuraServer) -> None:
    """A reboot without failover restarts the primary in place (the router holds connections meanwhile);
    a new class restarts it with new memory settings, and the standby follows them."""
    rds = kura.client("rds")
    inst = make(rds, "maz-modify")
    writer = writer_for(inst)
    rds.reboot_db_instance(DBInstanceIdentifier="maz-modify")
    wait_status(rds, "maz-modify", "rebooting", 10)
    wait_status(rds, "maz-modify", "available", 60)
    assert describe(rds, "maz-modify")["AvailabilityZone"] == inst["AvailabilityZone"]  # no failover
    rds.modify_db_instance(DBInstanceIdentifier="maz-modify", DBInstanceClass="db.m5.large",
                           ApplyImmediately=True)
    wait_for(lambda: describe(rds, "maz-modify")["DBInstanceClass"] == "db.m5.large", 10, "the class")
    wait_status(rds, "maz-modify", "available", 60)
    with connect(inst) as conn:
        connections = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
    wait_for(lambda: replication(inst) == [("kura_member_2", "streaming", "sync")], 60,
             "a synchronous standby")
    standby = member_dirs(kura, "maz-modify")[1]
    assert f"max_connections = '{connections}'" in (standby / "kura.conf").read_text()
    time.sleep(1)
    check_nothing_lost(rds, "maz-modify", writer)
