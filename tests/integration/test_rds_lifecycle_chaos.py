"""Crashes: Kura killed with -9 adopts the running postmaster; a postmaster killed with -9 is started
again with an event; a postmaster that cannot start with its parameters is `incompatible-parameters`."""

from __future__ import annotations

import os
import signal

import psycopg
import pytest

from kura.control.rds import nodes
from tests.integration.test_rds_lifecycle import (
    alive,
    connect,
    create,
    describe,
    engine_major,
    messages,
    postmaster_pid,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")


def _log(server: KuraServer) -> str:
    return (server.home.parent / f"kura-{server.port}.log").read_text(errors="replace")


def test_kill9_of_kura_adopts_the_running_postmaster(server: KuraServer) -> None:
    rds = server.client("rds")
    create(rds, "adopted")
    pid = postmaster_pid(server, "adopted")
    assert pid is not None
    conn = connect(describe(rds, "adopted"))
    conn.execute("CREATE TABLE t (v int)")
    server.kill9()
    conn.execute("INSERT INTO t VALUES (1)")  # the data plane keeps serving while Kura is down

    server.start()
    rds = server.client("rds")
    # The start-up resync has looked at the instance once it logs it as available again.
    wait_for(lambda: _log(server).count("id=adopted verdict=succeeded outcome=\"DB instance adopted is "
                                        "available (postmaster running)\"") >= 2, 20, "the adoption")
    assert postmaster_pid(server, "adopted") == pid and alive(pid)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)  # same session, never restarted
    conn.close()
    assert describe(rds, "adopted")["DBInstanceStatus"] == "available"
    assert "DB instance restarted" not in messages(rds, "adopted")


def test_kill9_of_the_postmaster_restarts_it_with_an_event(server: KuraServer) -> None:
    rds = server.client("rds")
    create(rds, "crashy")
    pid = postmaster_pid(server, "crashy")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: (new := postmaster_pid(server, "crashy")) is not None and new != pid and alive(new),
             20, "a new postmaster")
    inst = wait_status(rds, "crashy", "available")

    def answers() -> bool:
        try:
            with connect(inst) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    wait_for(answers, 20, "the restarted instance to answer")
    wait_for(lambda: "DB instance restarted" in messages(rds, "crashy"), 10, "the restart event")


def test_parameters_that_prevent_start_then_corrected(server: KuraServer) -> None:
    rds = server.client("rds")
    family = f"postgres{engine_major()}"
    rds.create_db_parameter_group(DBParameterGroupName="broken", DBParameterGroupFamily=family,
                                  Description="huge pages that this host does not have")
    rds.modify_db_parameter_group(DBParameterGroupName="broken", Parameters=[
        {"ParameterName": "huge_pages", "ParameterValue": "on", "ApplyMethod": "pending-reboot"}])
    rds.create_db_instance(DBInstanceIdentifier="picky", Engine="postgres", DBInstanceClass="db.t3.micro",
                           MasterUsername="master", MasterUserPassword="Master-pass-1", AllocatedStorage=20,
                           DBName="app", DBParameterGroupName="broken")
    wait_status(rds, "picky", "incompatible-parameters")
    assert any("invalid parameters" in m for m in messages(rds, "picky"))

    rds.modify_db_parameter_group(DBParameterGroupName="broken", Parameters=[
        {"ParameterName": "huge_pages", "ParameterValue": "try", "ApplyMethod": "pending-reboot"}])
    assert describe(rds, "picky")["DBInstanceStatus"] == "incompatible-parameters"  # until rebooted
    rds.reboot_db_instance(DBInstanceIdentifier="picky")
    inst = wait_status(rds, "picky", "available", timeout=30)
    with connect(inst) as conn:
        assert conn.execute("SHOW huge_pages").fetchone() == ("try",)
        assert conn.execute("SELECT current_database()").fetchone() == ("app",)
