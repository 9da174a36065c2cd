"""RDS DB instances on real PostgreSQL through a real `kura up`: create → available → psql/psycopg,
parameter groups (dynamic and static), reboot, stop/start, delete.

The helpers and the `rds_kura` fixture here are shared by the other test_rds_lifecycle_* modules.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kura.config import Settings
from kura.control.rds import autostart, nodes
from kura.net import tls
from kura.net.router.control import RouterControl
from kura.services.rds.records import KIND_INSTANCE
from kura.store.sqlite import SqliteStore
from kura.store.types import VersionConflict
from tests.kura_fixture import KuraServer, free_port

PASSWORD = "Master-pass-1"
pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")


def engine_major() -> int:
    return nodes.engines()[0].major


def make_server(home: Path, **env: str) -> KuraServer:
    """A Kura of its own that polls its instances every 0.5 s (tests wait less for what polling finds)."""
    home.mkdir(parents=True, exist_ok=True)
    return KuraServer(home=home, port=free_port(), env_extra={"KURA_RDS_POLL_SECONDS": "0.5", **env})


@contextlib.contextmanager
def running(home: Path, **env: str) -> Iterator[KuraServer]:
    """A started Kura of its own; stopped afterwards, with the postmasters it left."""
    server = make_server(home, **env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        stop_leftovers(server.home)


@pytest.fixture(scope="module")
def rds_kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("rds") / "home") as server:
        yield server


def stop_leftovers(home: Path) -> None:
    """Stop the router and the postmasters a test left running (by their own pid: PostgreSQL's fast
    shutdown), and remove their socket directories when those live outside the home (/tmp/kura-…)."""
    RouterControl(home / "router").stop()
    for base in home.glob("data/rds/*/*"):
        for tail in ("", "2"):
            with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
                pid = int((base / f"pgdata{tail}" / "postmaster.pid").read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)  # a test may have stopped it
                    os.kill(pid, signal.SIGINT)
                wait_for(functools.partial(_gone, pid), 30, f"postmaster {pid} to stop")
            sockets = nodes.socket_dir(base, f"socket{tail}")
            if not sockets.is_relative_to(home):
                shutil.rmtree(sockets, ignore_errors=True)


def _gone(pid: int) -> bool:
    return not alive(pid)


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = cond()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stopped_days_ago(server: KuraServer, kind: str, ident: str, days: float) -> None:
    """Move a stopped resource's stop time (status stopped_at, recorded by its reconciler once it is
    stopped) `days` back in the running Kura's store: what seven days of waiting would do."""
    store = SqliteStore(server.home / "state.db")
    try:
        def moved() -> bool:
            res = store.get(kind, server.region, ident)
            if res is None or res.status.get("stopped_at") is None:
                return False
            try:
                at = float(res.status["stopped_at"]) - days * 86400
                store.update(res, status={**res.status, "stopped_at": at})
            except VersionConflict:
                return False
            return True

        wait_for(moved, 30, f"the stop time of {ident}")
    finally:
        store.close()


def describe(rds: Any, ident: str) -> dict[str, Any]:
    return dict(rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0])


def wait_status(rds: Any, ident: str, status: str, timeout: float = 30) -> dict[str, Any]:
    seen: list[str] = []

    def check() -> dict[str, Any] | None:
        inst = describe(rds, ident)
        if not seen or seen[-1] != inst["DBInstanceStatus"]:
            seen.append(inst["DBInstanceStatus"])
        return inst if inst["DBInstanceStatus"] == status else None

    try:
        return dict(wait_for(check, timeout, f"{ident} to be {status}"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; statuses seen: {seen}") from None


def create(rds: Any, ident: str, **extra: Any) -> float:
    """CreateDBInstance, then wait for `available`; returns the seconds it took."""
    params: dict[str, Any] = {"DBInstanceIdentifier": ident, "Engine": "postgres",
                              "DBInstanceClass": "db.t3.micro", "MasterUsername": "master",
                              "AllocatedStorage": 20, "DBName": "app", **extra}
    if not params.get("ManageMasterUserPassword"):
        params.setdefault("MasterUserPassword", PASSWORD)
    start = time.perf_counter()
    rds.create_db_instance(**params)
    wait_status(rds, ident, "available")
    took = time.perf_counter() - start
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    return took


def connect(inst: dict[str, Any], password: str = PASSWORD, user: str = "master", dbname: str = "app",
            **kw: Any) -> psycopg.Connection[Any]:
    ep = inst["Endpoint"]
    return psycopg.connect(host=ep["Address"], port=ep["Port"], user=user, password=password, dbname=dbname,
                           sslmode=kw.pop("sslmode", "require"), connect_timeout=5, autocommit=True, **kw)


def pgdata(server: KuraServer, ident: str) -> Path:
    return server.home / "data" / "rds" / server.region / ident / "pgdata"


def postmaster_pid(server: KuraServer, ident: str) -> int | None:
    try:
        return int((pgdata(server, ident) / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def scalar(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def messages(rds: Any, ident: str) -> list[str]:
    events = rds.describe_events(SourceIdentifier=ident, SourceType="db-instance", Duration=60)["Events"]
    return [e["Message"] for e in events]


# -- tests --------------------------------------------------------------------------------------------

def test_create_then_connect_as_master(rds_kura: KuraServer) -> None:
    rds = rds_kura.client("rds")
    took = create(rds, "app-db", EngineVersion=f"{engine_major()}.1")
    print(f"create-db-instance → available in {took:.3f} s")
    inst = describe(rds, "app-db")
    assert inst["Endpoint"]["Port"] == 5432 and inst["Endpoint"]["Address"].startswith("127.")
    assert inst["EngineVersion"] == nodes.engines()[0].version
    out = subprocess.run(["/usr/bin/psql", "-h", inst["Endpoint"]["Address"], "-p", "5432", "-U", "master",
                          "-d", "app", "-Atc", "SELECT current_user, ssl FROM pg_stat_ssl "
                          "WHERE pid = pg_backend_pid()"],
                         env={**os.environ, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "master|t"
    with connect(inst) as conn:
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
        assert row == (False, True, True)
        assert conn.execute("SELECT pg_has_role('rds_superuser', 'member')").fetchone() == (True,)
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
        conn.execute("CREATE USER app_user WITH PASSWORD 'App-pass-1'")
        conn.execute("GRANT CONNECT ON DATABASE app TO app_user")
        conn.execute("GRANT USAGE ON SCHEMA public TO app_user")
        conn.execute("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO app_user")
        conn.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO app_user")
        assert scalar(conn, "SELECT count(*) FROM pg_stat_statements") >= 0
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER SYSTEM SET work_mem = '1GB'")
    with connect(inst, user="app_user", password="App-pass-1") as conn:
        conn.execute("INSERT INTO items (name) VALUES ('one')")
        assert conn.execute("SELECT name FROM items").fetchall() == [("one",)]
    with pytest.raises(psycopg.OperationalError):  # rds.force_ssl is on by default from 15
        connect(inst, sslmode="disable").close()
    assert {"DB instance created"} <= set(messages(rds, "app-db"))
    note = f"Requested PostgreSQL {engine_major()}.1; running"
    assert any(m.startswith(note) for m in messages(rds, "app-db"))


def _group(rds: Any, name: str) -> None:
    rds.create_db_parameter_group(DBParameterGroupName=name, Description="lifecycle test",
                                  DBParameterGroupFamily=f"postgres{engine_major()}")


def _set(rds: Any, group: str, name: str, value: str, method: str) -> None:
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[
        {"ParameterName": name, "ParameterValue": value, "ApplyMethod": method}])


def _apply_status(rds: Any, ident: str) -> str:
    return str(describe(rds, ident)["DBParameterGroups"][0]["ParameterApplyStatus"])


def test_parameter_group_dynamic_then_static_then_reboot(rds_kura: KuraServer) -> None:
    rds = rds_kura.client("rds")
    _group(rds, "custom-params")
    _set(rds, "custom-params", "work_mem", "8192", "immediate")
    create(rds, "params-db", DBParameterGroupName="custom-params")
    inst = describe(rds, "params-db")
    pid = postmaster_pid(rds_kura, "params-db")
    with connect(inst) as conn:
        assert conn.execute("SHOW work_mem").fetchone() == ("8MB",)
        before = scalar(conn, "SHOW max_connections")
        _set(rds, "custom-params", "work_mem", "16384", "immediate")
        wait_for(lambda: conn.execute("SHOW work_mem").fetchone() == ("16MB",), 10, "work_mem to change")
        assert postmaster_pid(rds_kura, "params-db") == pid  # no restart
        wait_for(lambda: _apply_status(rds, "params-db") == "in-sync", 10, "in-sync")

        _set(rds, "custom-params", "max_connections", "123", "pending-reboot")
        wait_for(lambda: _apply_status(rds, "params-db") == "pending-reboot", 10, "pending-reboot")
        assert conn.execute("SHOW max_connections").fetchone() == (before,)
    assert describe(rds, "params-db")["DBInstanceStatus"] == "available"

    rds.reboot_db_instance(DBInstanceIdentifier="params-db")
    inst = wait_status(rds, "params-db", "available")
    wait_for(lambda: _apply_status(rds, "params-db") == "in-sync", 10, "in-sync after the reboot")
    assert postmaster_pid(rds_kura, "params-db") != pid
    with connect(inst) as conn:
        assert conn.execute("SHOW max_connections").fetchone() == ("123",)
        assert conn.execute("SHOW work_mem").fetchone() == ("16MB",)
    assert "DB instance restarted" in messages(rds, "params-db")


def test_class_change_restarts_with_new_memory_settings(rds_kura: KuraServer) -> None:
    rds = rds_kura.client("rds")
    create(rds, "class-db")
    with connect(describe(rds, "class-db")) as conn:
        small = scalar(conn, "SHOW max_connections")
    rds.modify_db_instance(DBInstanceIdentifier="class-db", DBInstanceClass="db.t3.small",
                           ApplyImmediately=True)
    inst = wait_for(lambda: (i := describe(rds, "class-db"))["DBInstanceStatus"] == "available"
                    and i["DBInstanceClass"] == "db.t3.small" and i, 30, "the class change")
    with connect(inst) as conn:
        assert int(scalar(conn, "SHOW max_connections")) > int(small)


def test_stop_start_then_delete(rds_kura: KuraServer) -> None:
    rds = rds_kura.client("rds")
    create(rds, "life-db")
    pid = postmaster_pid(rds_kura, "life-db")
    assert pid is not None and alive(pid)
    rds.stop_db_instance(DBInstanceIdentifier="life-db")
    wait_status(rds, "life-db", "stopped")
    assert not alive(pid)
    rds.start_db_instance(DBInstanceIdentifier="life-db")
    inst = wait_status(rds, "life-db", "available")
    with connect(inst) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # stopped for seven days (its stop time moved back in the store): started, as AWS does. A change to
    # the instance (a tag) wakes its reconciler rather than waiting for its next look (every 30 s).
    rds.stop_db_instance(DBInstanceIdentifier="life-db")
    wait_status(rds, "life-db", "stopped")
    stopped_days_ago(rds_kura, KIND_INSTANCE, "life-db", 7)
    rds.add_tags_to_resource(ResourceName=inst["DBInstanceArn"], Tags=[{"Key": "wake", "Value": "up"}])
    inst = wait_status(rds, "life-db", "available")
    assert autostart.INSTANCE_STARTED in messages(rds, "life-db")
    pid = postmaster_pid(rds_kura, "life-db")
    assert pid is not None
    data = pgdata(rds_kura, "life-db").parent
    rds.delete_db_instance(DBInstanceIdentifier="life-db", SkipFinalSnapshot=True)
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier="life-db",
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert not alive(pid)
    assert not data.exists()
    expected = {"DB instance stopped", "DB instance started", "DB instance deleted"}
    assert expected <= set(messages(rds, "life-db"))


def test_master_password_change(rds_kura: KuraServer) -> None:
    rds = rds_kura.client("rds")
    create(rds, "pw-db")
    rds.modify_db_instance(DBInstanceIdentifier="pw-db", MasterUserPassword="Another-pass-2",
                           ApplyImmediately=True)
    inst = describe(rds, "pw-db")

    def works() -> bool:
        try:
            connect(inst, password="Another-pass-2").close()
            return True
        except psycopg.OperationalError:
            return False

    wait_for(works, 15, "the new master password")
    with pytest.raises(psycopg.OperationalError):
        connect(inst).close()
    wait_status(rds, "pw-db", "available")


def _issuer(inst: dict[str, Any], bundle: Path) -> str:
    """The CN of the CA that signed the server's certificate, verified against the bundle (verify-full)."""
    with connect(inst, sslmode="verify-full", sslrootcert=str(bundle)) as conn:
        assert scalar(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
    address, port = inst["Endpoint"]["Address"], inst["Endpoint"]["Port"]
    with socket.create_connection((address, port), timeout=5) as raw:
        raw.sendall(struct.pack("!ii", 8, 80877103))  # PostgreSQL's SSLRequest
        assert raw.recv(1) == b"S"
        context = ssl.create_default_context(cafile=str(bundle))
        with context.wrap_socket(raw, server_hostname=address) as wrapped:
            cert: Any = wrapped.getpeercert()
    return str(dict(field[0] for field in cert["issuer"])["commonName"])


def test_verify_full_port_change_and_ca_rotation(rds_kura: KuraServer) -> None:
    rds = rds_kura.client("rds")
    create(rds, "tls-db")
    bundle = tls.write_bundle(Settings(home=rds_kura.home).paths)
    inst = describe(rds, "tls-db")
    assert "RSA2048" in _issuer(inst, bundle)

    rds.modify_db_instance(DBInstanceIdentifier="tls-db", DBPortNumber=6543, ApplyImmediately=True)
    inst = wait_for(lambda: (i := describe(rds, "tls-db"))["Endpoint"]["Port"] == 6543
                    and i["DBInstanceStatus"] == "available" and i, 30, "the port change")
    assert "RSA2048" in _issuer(inst, bundle)

    pid = postmaster_pid(rds_kura, "tls-db")
    rds.modify_db_instance(DBInstanceIdentifier="tls-db", CACertificateIdentifier="rds-ca-ecc384-g1",
                           ApplyImmediately=True)
    wait_for(lambda: "ECC384" in _issuer(inst, bundle), 15, "a certificate of the new CA")
    assert postmaster_pid(rds_kura, "tls-db") == pid  # a reload, not a restart
    wait_status(rds, "tls-db", "available")
