"""Automated backups, point-in-time restore and snapshots on real PostgreSQL through a real `kura up`
and boto3: a writer records when each row was committed; restores to random instants are checked row
by row; a snapshot restores to an identical pg_dump; a deleted instance's retained backups restore."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kura.control.rds import nodes
from tests.integration.test_rds_lifecycle import (
    PASSWORD,
    connect,
    create,
    describe,
    messages,
    running,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
RESTORES = 10


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("backups") / "home") as server:
        yield server


class Writer(threading.Thread):
    """Inserts a row every few ms; for each: the time before COMMIT was sent and when it was acked."""

    def __init__(self, inst: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.inst, self.stop_at = inst, threading.Event()
        self.rows: dict[int, tuple[float, float]] = {}

    def run(self) -> None:
        with connect(self.inst) as conn:
            n = 0
            while not self.stop_at.is_set():
                n += 1
                before = time.time()
                conn.execute("INSERT INTO ledger (id) VALUES (%s)", (n,))
                self.rows[n] = (before, time.time())
                time.sleep(random.uniform(0.002, 0.03))


def rows(inst: dict[str, Any]) -> set[int]:
    with connect(inst) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM ledger").fetchall()}


def latest(rds: Any, ident: str) -> float:
    found = describe(rds, ident).get("LatestRestorableTime")
    return found.timestamp() if found else 0.0


def restore_checks(seen: set[int], written: dict[int, tuple[float, float]], at: float) -> None:
    missing = sorted(i for i, (_, acked) in written.items() if acked <= at and i not in seen)
    extra = sorted(i for i, (before, _) in written.items() if before > at and i in seen)
    assert not missing, f"rows committed before {at} missing: {missing[:10]}"
    assert not extra, f"rows committed after {at} present: {extra[:10]}"


def test_point_in_time_restores_are_exact_row_by_row(kura: KuraServer) -> None:
    rds = kura.client("rds")
    # a larger class than the restores': max_connections & co. shrink across the restore
    create(rds, "ledger-db", BackupRetentionPeriod=1, DBInstanceClass="db.m5.large")
    inst = wait_status(rds, "ledger-db", "available", 60)
    with connect(inst) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
    wait_for(lambda: describe(rds, "ledger-db").get("LatestRestorableTime"), 30, "a restorable time")
    writer = Writer(inst)
    writer.start()
    lags = []
    for _ in range(8):
        time.sleep(1)
        lags.append(time.time() - latest(rds, "ledger-db"))
    writer.stop_at.set()
    writer.join()
    assert sorted(lags)[len(lags) // 2] < 5, f"LatestRestorableTime lags: {lags}"
    last_ack = max(a for _, a in writer.rows.values())
    wait_for(lambda: latest(rds, "ledger-db") >= last_ack, 20,
             "the latest restorable time to pass the last commit")
    backups = rds.describe_db_instance_automated_backups(DBInstanceIdentifier="ledger-db")
    window = backups["DBInstanceAutomatedBackups"][0]["RestoreWindow"]
    first = min(b for b, _ in writer.rows.values())
    instants = sorted(random.uniform(max(first, window["EarliestTime"].timestamp()), last_ack)
                      for _ in range(RESTORES))
    for i, at in enumerate(instants):
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="ledger-db", TargetDBInstanceIdentifier=f"pitr-{i}",
            RestoreTime=dt.datetime.fromtimestamp(at, dt.UTC), DBInstanceClass="db.t3.micro",
            BackupRetentionPeriod=0)
    rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="ledger-db",
                                             TargetDBInstanceIdentifier="pitr-latest",
                                             UseLatestRestorableTime=True, BackupRetentionPeriod=0)
    # an instant after the last commit: recovery runs out of WAL before any commit after it
    quiet = last_ack + 1.0
    wait_for(lambda: latest(rds, "ledger-db") >= quiet, 20, "restorable past the quiet instant")
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="ledger-db", TargetDBInstanceIdentifier="pitr-quiet",
        RestoreTime=dt.datetime.fromtimestamp(quiet, dt.UTC), BackupRetentionPeriod=0)
    for i, at in enumerate(instants):
        restored = wait_status(rds, f"pitr-{i}", "available", 120)
        restore_checks(rows(restored), writer.rows, at)
    with connect(inst) as big, connect(restored) as small:
        shown = [int(c.execute("SHOW max_connections").fetchone()[0]) for c in (big, small)]  # type: ignore[index]
        assert shown[1] < shown[0], shown
    newest = wait_status(rds, "pitr-latest", "available", 120)
    assert rows(newest) == set(writer.rows)
    with connect(newest) as conn:  # promoted, writable, the master password of the source
        conn.execute("INSERT INTO ledger (id) VALUES (-1)")
    assert rows(wait_status(rds, "pitr-quiet", "available", 120)) == set(writer.rows)
    rds.delete_db_instance(DBInstanceIdentifier="pitr-quiet", SkipFinalSnapshot=True)
    for i in range(RESTORES):
        rds.delete_db_instance(DBInstanceIdentifier=f"pitr-{i}", SkipFinalSnapshot=True)
    rds.delete_db_instance(DBInstanceIdentifier="pitr-latest", SkipFinalSnapshot=True)


def pg_dump(inst: dict[str, Any]) -> str:
    ep = inst["Endpoint"]
    engine = nodes.engines()[0]
    done = subprocess.run([str(engine.tool("pg_dump")), "-h", ep["Address"], "-p", str(ep["Port"]), "-U",
                           "master", "-d", "app", "--no-comments"],
                          env={"PGPASSWORD": PASSWORD, "PGSSLMODE": "require", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # \restrict lines carry a random key per dump (PostgreSQL's fix for CVE-2025-8714)
    return "\n".join(line for line in done.stdout.splitlines() if not line.startswith(("\\restrict",
                                                                                        "\\unrestrict")))


def test_snapshot_restore_final_snapshot_and_retained_backups(kura: KuraServer) -> None:
    rds = kura.client("rds")
    create(rds, "snap-src", BackupRetentionPeriod=1, StorageEncrypted=True)
    src = wait_status(rds, "snap-src", "available", 60)
    with connect(src) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g, md5(g::text) || 'secret-marker' "
                     "FROM generate_series(1, 5000) g")
    rds.create_db_snapshot(DBInstanceIdentifier="snap-src", DBSnapshotIdentifier="snap-1")
    snap = wait_for(lambda: (lambda s: s if s["Status"] == "available" else None)(
        rds.describe_db_snapshots(DBSnapshotIdentifier="snap-1")["DBSnapshots"][0]), 60, "snapshot")
    assert snap["Encrypted"] and snap["PercentProgress"] == 100
    before = pg_dump(src)
    with connect(src) as conn:
        conn.execute("INSERT INTO t VALUES (-1, 'after the snapshot')")
    # no row value in the clear anywhere in the backup storage of an encrypted instance
    for path in (kura.home / "backups").rglob("*"):
        if path.is_file():
            assert b"secret-marker" not in path.read_bytes(), path

    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="from-snap", DBSnapshotIdentifier="snap-1",
                                             DBInstanceClass="db.t3.micro", BackupRetentionPeriod=0)
    restored = wait_status(rds, "from-snap", "available", 120)
    assert restored["StorageEncrypted"]
    assert pg_dump(restored) == before

    last_ack = time.time()
    wait_for(lambda: latest(rds, "snap-src") >= last_ack, 30,
             "restorable up to the last row")
    rds.delete_db_instance(DBInstanceIdentifier="snap-src", FinalDBSnapshotIdentifier="snap-final",
                           DeleteAutomatedBackups=False)
    wait_for(lambda: not [i for i in rds.describe_db_instances()["DBInstances"]
                          if i["DBInstanceIdentifier"] == "snap-src"], 60, "snap-src deleted")
    final = rds.describe_db_snapshots(DBSnapshotIdentifier="snap-final")["DBSnapshots"][0]
    assert final["Status"] == "available"
    retained = rds.describe_db_instance_automated_backups(DBInstanceIdentifier="snap-src")
    ab = retained["DBInstanceAutomatedBackups"][0]
    assert ab["Status"] == "retained"
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceAutomatedBackupsArn=ab["DBInstanceAutomatedBackupsArn"],
        TargetDBInstanceIdentifier="from-retained", UseLatestRestorableTime=True, BackupRetentionPeriod=0)
    again = wait_status(rds, "from-retained", "available", 120)
    with connect(again) as conn:
        assert conn.execute("SELECT v FROM t WHERE id = -1").fetchone() == ("after the snapshot",)
    rds.delete_db_instance_automated_backup(DbiResourceId=ab["DbiResourceId"])
    wait_for(lambda: not rds.describe_db_instance_automated_backups(
        DBInstanceIdentifier="snap-src")["DBInstanceAutomatedBackups"], 30, "retained backups deleted")
    for ident in ("from-snap", "from-retained"):
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    rds.delete_db_snapshot(DBSnapshotIdentifier="snap-1")


def test_a_missing_wal_segment_fails_the_restore_naming_the_gap(kura: KuraServer) -> None:
    rds = kura.client("rds")
    create(rds, "gap-db", BackupRetentionPeriod=1)
    inst = wait_status(rds, "gap-db", "available", 60)
    wait_for(lambda: latest(rds, "gap-db"), 30, "a restorable time")
    with connect(inst) as conn:
        conn.execute("CREATE TABLE filler (id int, pad text)")
        conn.execute("INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 60000) g")
        conn.execute("INSERT INTO filler VALUES (-1, 'last')")
    done = time.time()
    wait_for(lambda: latest(rds, "gap-db") >= done, 30, "restorable up to the last row")
    dbi = describe(rds, "gap-db")["DbiResourceId"]
    wal = kura.home / "backups" / "rds" / kura.region / dbi / "wal"
    segments = sorted(p for p in wal.iterdir() if len(p.name) == 24)
    assert len(segments) >= 3, segments
    gone = segments[len(segments) // 2]
    gone.unlink()
    rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="gap-db",
                                             TargetDBInstanceIdentifier="gap-restore",
                                             UseLatestRestorableTime=True, BackupRetentionPeriod=0)
    wait_status(rds, "gap-restore", "failed", 120)
    events = rds.describe_events(SourceIdentifier="gap-restore", SourceType="db-instance")["Events"]
    said = " ".join(e["Message"] for e in events)
    assert "missing or damaged" in said and "latest restorable time is" in said, said
    rds.delete_db_instance(DBInstanceIdentifier="gap-restore", SkipFinalSnapshot=True)
    rds.delete_db_instance(DBInstanceIdentifier="gap-db", SkipFinalSnapshot=True)


def test_stop_with_a_snapshot_and_final_snapshot_of_a_stopped_instance(kura: KuraServer) -> None:
    rds = kura.client("rds")
    create(rds, "stop-db", BackupRetentionPeriod=0)
    inst = wait_status(rds, "stop-db", "available", 60)
    with connect(inst) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t VALUES (1)")
    rds.stop_db_instance(DBInstanceIdentifier="stop-db", DBSnapshotIdentifier="at-stop")
    wait_status(rds, "stop-db", "stopped", 60)
    at_stop = rds.describe_db_snapshots(DBSnapshotIdentifier="at-stop")["DBSnapshots"][0]
    assert at_stop["Status"] == "available"  # taken before the instance stopped
    rds.delete_db_instance(DBInstanceIdentifier="stop-db", FinalDBSnapshotIdentifier="stopped-final")
    wait_for(lambda: not [i for i in rds.describe_db_instances()["DBInstances"]
                          if i["DBInstanceIdentifier"] == "stop-db"], 60, "stop-db deleted")
    for snap, ident in (("at-stop", "from-stop"), ("stopped-final", "from-final")):
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=snap,
                                                 BackupRetentionPeriod=0)
    for ident in ("from-stop", "from-final"):
        with connect(wait_status(rds, ident, "available", 120)) as conn:
            assert conn.execute("SELECT id FROM t").fetchall() == [(1,)]
            assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone() == (0,)
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)


def test_a_full_backup_disk_is_an_event_and_the_instance_goes_on(kura: KuraServer) -> None:
    rds = kura.client("rds")
    create(rds, "full-db", BackupRetentionPeriod=1)
    inst = wait_status(rds, "full-db", "available", 60)
    wait_for(lambda: latest(rds, "full-db"), 30, "a restorable time")
    area = kura.home / "backups" / "rds" / kura.region / describe(rds, "full-db")["DbiResourceId"] / "wal"
    tiny = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(area)], capture_output=True)
    if tiny.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {tiny.stderr.decode().strip()}")
    try:
        with connect(inst) as conn:
            conn.execute("CREATE TABLE filler (id int, pad text)")
            conn.execute("INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g")
        wait_for(lambda: any("backup storage is full" in m for m in messages(rds, "full-db")), 30,
                 "the backup-storage-full event")
        with connect(inst) as conn:  # the instance itself goes on
            conn.execute("INSERT INTO filler VALUES (-1, 'still writable')")
    finally:
        subprocess.run(["umount", str(area)], check=True)
    done = time.time()
    wait_for(lambda: latest(rds, "full-db") >= done, 30, "backups resume once there is space")
    assert any("free space again" in m for m in messages(rds, "full-db"))
    rds.delete_db_instance(DBInstanceIdentifier="full-db", SkipFinalSnapshot=True)
