"""kill -9 of the WAL streamer and of Kura itself while a writer commits: the stream comes back (or
was never interrupted: pg_receivewal outlives Kura), the latest restorable time keeps advancing, and a
restore to the latest restorable time has every acknowledged row."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from kura.control.rds import nodes
from kura.engines.postgres import pgproc
from tests.integration.test_rds_backups import Writer, latest, rows
from tests.integration.test_rds_lifecycle import (
    connect,
    create,
    running,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")


@pytest.fixture
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("backup-chaos") / "home") as server:
        yield server


def streamer_pid(server: KuraServer, ident: str) -> int | None:
    pidfile = server.home / "data" / "rds" / server.region / ident / "wal-stream.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pgproc.alive(pid) else None


def test_kill9_of_the_streamer_and_of_kura_lose_no_acknowledged_row(kura: KuraServer) -> None:
    rds = kura.client("rds")
    create(rds, "chaos-db", BackupRetentionPeriod=1)
    inst = wait_status(rds, "chaos-db", "available", 60)
    with connect(inst) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
    first = wait_for(lambda: streamer_pid(kura, "chaos-db"), 30, "pg_receivewal running")
    writer = Writer(inst)
    writer.start()
    time.sleep(1)
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: (lambda p: p if p and p != first else None)(streamer_pid(kura, "chaos-db")),
                      15, "pg_receivewal started again")
    time.sleep(1)
    kura.kill9()
    time.sleep(1)
    assert streamer_pid(kura, "chaos-db") == second  # the stream outlives Kura
    kura.start()
    time.sleep(1)
    writer.stop_at.set()
    writer.join()
    last_ack = max(a for _, a in writer.rows.values())
    wait_for(lambda: latest(rds, "chaos-db") >= last_ack, 30, "restorable up to the last commit")
    rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="chaos-db",
                                             TargetDBInstanceIdentifier="chaos-restore",
                                             UseLatestRestorableTime=True, BackupRetentionPeriod=0)
    restored = wait_status(rds, "chaos-restore", "available", 120)
    assert rows(restored) >= set(writer.rows)
    rds.delete_db_instance(DBInstanceIdentifier="chaos-restore", SkipFinalSnapshot=True)
