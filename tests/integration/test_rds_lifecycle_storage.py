"""Allocated storage as a real quota: storage-full refuses writes (reads go on, nothing is corrupted),
more storage lifts it, and MaxAllocatedStorage grows the allocation by itself.

KURA_STORAGE_UNIT_BYTES makes one "GiB" of AllocatedStorage 4 MiB here, so 20 GiB is 80 MiB: a fresh
instance uses about 50 MiB of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from kura.control.rds import nodes
from kura.services.rds.records import KIND_INSTANCE
from kura.store.sqlite import SqliteStore
from tests.integration.test_rds_lifecycle import (
    connect,
    create,
    describe,
    make_server,
    messages,
    scalar,
    stop_leftovers,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
UNIT = 4 * 1024 * 1024
FILL = "INSERT INTO fill SELECT repeat(md5(random()::text), 32) FROM generate_series(1, 2000)"  # ~2.5 MiB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    srv = make_server(tmp_path_factory.mktemp("rds-storage") / "home", KURA_STORAGE_UNIT_BYTES=str(UNIT),
                      KURA_RDS_POLL_SECONDS="0.2")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        stop_leftovers(srv.home)


def _status(server: KuraServer, ident: str) -> dict[str, Any]:
    store = SqliteStore(server.home / "state.db")
    try:
        res = store.get(KIND_INSTANCE, server.region, ident)
        assert res is not None
        return dict(res.status)
    finally:
        store.close()


def _fill_until(inst: dict[str, Any], stop: Any, limit: int = 80) -> bool:
    """Insert ~2.5 MiB at a time until `stop()` or an insert is refused; True when refused."""
    for _ in range(limit):
        if stop():
            return False
        try:
            with connect(inst) as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS fill (v text)")
                conn.execute(FILL)
        except psycopg.errors.ReadOnlySqlTransaction:
            return True
        except psycopg.OperationalError:
            continue  # our session was terminated by the fence mid-insert
    raise AssertionError("filled 200 MiB without the quota acting")


def test_storage_full_refuses_writes_then_more_storage_lifts_it(server: KuraServer) -> None:
    rds = server.client("rds")
    create(rds, "full-db")
    inst = describe(rds, "full-db")
    _fill_until(inst, lambda: describe(rds, "full-db")["DBInstanceStatus"] == "storage-full")
    inst = wait_status(rds, "full-db", "storage-full", timeout=20)
    with connect(inst) as conn:
        rows = scalar(conn, "SELECT count(*) FROM fill")
        assert rows > 0  # reads go on
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(FILL)
    status = _status(server, "full-db")
    assert status["storage"]["free_bytes"] == 0
    assert any("Allocated storage has been exhausted" in m for m in messages(rds, "full-db"))

    rds.modify_db_instance(DBInstanceIdentifier="full-db", AllocatedStorage=60, ApplyImmediately=True)
    inst = wait_status(rds, "full-db", "available", timeout=20)
    with connect(inst) as conn:
        conn.execute(FILL)
        assert scalar(conn, "SELECT count(*) FROM fill") > rows
        assert scalar(conn, "SELECT count(*) FROM pg_class") > 0  # catalog intact
    assert _status(server, "full-db")["applied"]["AllocatedStorage"] == 60


def test_max_allocated_storage_grows_it_before_it_fills(server: KuraServer) -> None:
    rds = server.client("rds")
    create(rds, "auto-db", MaxAllocatedStorage=40)
    inst = describe(rds, "auto-db")

    def grown() -> bool:
        return int(_status(server, "auto-db").get("applied", {}).get("AllocatedStorage", 20)) > 20

    refused = _fill_until(inst, grown)
    assert not refused
    wait_for(lambda: any("autoscaling-initiated" in m for m in messages(rds, "auto-db")), 10,
             "the autoscaling event")
    assert _status(server, "auto-db")["applied"]["AllocatedStorage"] == 30  # + max(10 GiB, 10 %), ≤ 40
    wait_for(lambda: _status(server, "auto-db")["storage"]["allocated_bytes"] == 30 * UNIT, 10,
             "the new quota to be measured against")
    assert describe(rds, "auto-db")["DBInstanceStatus"] == "available"


def test_measured_free_storage_is_recorded(server: KuraServer) -> None:
    rds = server.client("rds")
    create(rds, "measured-db", AllocatedStorage=30)
    wait_for(lambda: "storage" in _status(server, "measured-db"), 10, "a storage measurement")
    storage = _status(server, "measured-db")["storage"]
    assert storage["used_bytes"] > 10 * 1024 * 1024
    assert storage["used_bytes"] + storage["free_bytes"] == 30 * UNIT
