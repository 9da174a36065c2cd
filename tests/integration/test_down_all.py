"""`kura down` leaves database processes running (adopted next time); `kura down --all` stops them."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.integration.test_rds_lifecycle import (
    alive,
    connect,
    create,
    make_server,
    postmaster_pid,
    pytestmark,
    scalar,
    stop_leftovers,
    wait_for,
    wait_status,
)

__all__ = ["pytestmark"]


def _down(home: Path, *flags: str) -> None:
    res = subprocess.run([sys.executable, "-m", "kura", "down", "--home", str(home), *flags],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def _answers(inst: dict[str, Any]) -> bool:
    try:
        with connect(inst) as conn:
            return bool(scalar(conn, "SELECT 1") == 1)
    except psycopg.OperationalError:
        return False


def test_down_keeps_then_down_all_stops_postmasters(tmp_path: Path) -> None:
    server = make_server(tmp_path / "home")
    server.start()
    try:
        rds = server.client("rds")
        create(rds, "kept-db")
        pid = postmaster_pid(server, "kept-db")
        assert pid and alive(pid)
        status = subprocess.run([sys.executable, "-m", "kura", "status", "--home", str(server.home)],
                                capture_output=True, text=True, timeout=60, env={"COLUMNS": "200"})
        assert status.returncode == 0, status.stdout
        line = next(x for x in status.stdout.splitlines() if "kept-db" in x)
        assert "available" in line and ":5432" in line

        _down(server.home)
        assert alive(pid), "plain `kura down` must leave the postmaster running"
        server.start()
        assert postmaster_pid(server, "kept-db") == pid  # adopted, not restarted

        _down(server.home, "--all")
        wait_for(lambda: not alive(pid), 30, "the postmaster to stop after `kura down --all`")

        server.start()  # the desired state is still `available`: the next `up` starts it again
        rds = server.client("rds")
        inst = wait_status(rds, "kept-db", "available")
        def restarted() -> bool:
            new = postmaster_pid(server, "kept-db")
            return bool(new and new != pid and alive(new))

        wait_for(restarted, 30, "a new postmaster")
        wait_for(functools.partial(_answers, inst), 30, "the restarted instance to answer")
        rds.delete_db_instance(DBInstanceIdentifier="kept-db", SkipFinalSnapshot=True)
        rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier="kept-db",
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    finally:
        server.stop()
        stop_leftovers(server.home)
