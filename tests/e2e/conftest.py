"""End-to-end RDS fixtures: one real Kura server shared by the e2e RDS modules, and the helpers they use
to run the seeds' shell, psql and the AWS CLI against it.

Each module names its own resources (seed 000's `auratime-*`, seed 004's `langpont-*`, the TLS test's
`tls-*`), so they share the server without meeting. Every test deletes the instances it made and waits
for `db-instance-deleted`; the session's end deletes whatever a failed test left, stops the server and,
as a last resort, the postmasters still running under its home, then removes the home.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kura.config import Paths
from kura.server import stop_all_marker
from tests.kura_fixture import KuraServer, free_port

VENV_BIN = Path(sys.executable).parent  # this venv's `aws` and `kura`
PSQL = shutil.which("psql") or "/usr/bin/psql"


@pytest.fixture(scope="session")
def rds_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    """A Kura (SigV4 on, default settings) for the e2e RDS tests; cleaned up to the last process."""
    home = tmp_path_factory.mktemp("e2e-rds") / "home"
    server = KuraServer(home=home, port=free_port(), env_extra={"KURA_LOG_LEVEL": "DEBUG"})
    server.start()
    try:
        yield server
    finally:
        try:
            for ident in instance_ids(server):
                delete_instance(server, ident)
        finally:
            with contextlib.suppress(OSError):
                stop_all_marker(Paths(home)).touch()  # `kura down --all`
            server.stop()
            stop_postmasters(home)
            shutil.rmtree(home, ignore_errors=True)


# -- processes and polling ----------------------------------------------------------------------------

def alive(pid: int) -> bool:
    """Judged by /proc state: a zombie is not alive (see ARCHITECTURE.md's pitfalls)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def stop_postmasters(home: Path, timeout: float = 20.0) -> None:
    """Fast-shutdown (SIGINT) every postmaster whose data directory lies under `home`, by its own pid."""
    pids = []
    for pidfile in home.glob("**/postmaster.pid"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().split()[0])
            if alive(pid):
                os.kill(pid, signal.SIGINT)
                pids.append(pid)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def wait_for(cond: Callable[[], Any], timeout: float, what: str, pause: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = cond()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(pause)


# -- RDS through boto3 ----------------------------------------------------------------------------------

def instance_ids(server: KuraServer) -> list[str]:
    rds = server.client("rds")
    return [d["DBInstanceIdentifier"] for page in rds.get_paginator("describe_db_instances").paginate()
            for d in page["DBInstances"]]


def describe(server: KuraServer, ident: str) -> dict[str, Any]:
    return dict(server.client("rds").describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0])


def wait_status(server: KuraServer, ident: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
    seen: list[str] = []

    def check() -> dict[str, Any] | None:
        db = describe(server, ident)
        if not seen or seen[-1] != db["DBInstanceStatus"]:
            seen.append(db["DBInstanceStatus"])
        return db if db["DBInstanceStatus"] == status else None

    try:
        return dict(wait_for(check, timeout, f"{ident} to be {status}", pause=0.05))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; statuses seen: {seen}") from None


def delete_instance(server: KuraServer, ident: str, timeout: float = 90.0) -> None:
    """Delete an instance and wait for the `db-instance-deleted` waiter; deletion protection is turned
    off first (ModifyDBInstance needs the instance in a modifiable state, so that is waited for)."""
    rds = server.client("rds")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            db = describe(server, ident)
        except rds.exceptions.DBInstanceNotFoundFault:
            return
        status = db["DBInstanceStatus"]
        if status == "deleting":
            break
        if db["DeletionProtection"]:
            if status in ("available", "storage-full", "incompatible-parameters", "failed"):
                rds.modify_db_instance(DBInstanceIdentifier=ident, DeletionProtection=False,
                                       ApplyImmediately=True)
        elif status not in ("creating", "modifying", "rebooting", "starting", "stopping", "backing-up"):
            rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
            break
        time.sleep(0.1)
    rds.get_waiter("db_instance_deleted").wait(
        DBInstanceIdentifier=ident,
        WaiterConfig={"Delay": 1, "MaxAttempts": max(1, int(deadline - time.monotonic()))})


def engine_version(server: KuraServer, major: int) -> str | None:
    """The newest installed minor of `major` Kura offers, or None."""
    versions = server.client("rds").describe_db_engine_versions(
        Engine="postgres", DBParameterGroupFamily=f"postgres{major}")["DBEngineVersions"]
    found = sorted((v["EngineVersion"] for v in versions), key=lambda v: tuple(map(int, v.split("."))))
    return found[-1] if found else None


def require_postgres16(server: KuraServer) -> str:
    version = engine_version(server, 16)
    if version is None:
        pytest.skip("PostgreSQL 16 is not installed here (kura engines install 16, or make install)")
    return version


def ca_bundle(server: KuraServer, dest: Path) -> Path:
    """`kura ca-bundle --home <home>` written to `dest`, as a user would get their sslrootcert."""
    kura = VENV_BIN / "kura"
    cmd = [str(kura)] if kura.exists() else [sys.executable, "-m", "kura"]
    out = subprocess.run([*cmd, "ca-bundle", "--home", str(server.home)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("-----BEGIN CERTIFICATE-----"), out[:200]
    dest.write_text(out)
    return dest


# -- shell and psql ------------------------------------------------------------------------------------

def shell_env(server: KuraServer, **extra: str) -> dict[str, str]:
    env = server.env
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def bash(server: KuraServer, script: str, cwd: Path, timeout: float = 240.0, check: bool = True,
         **extra: str) -> subprocess.CompletedProcess[str]:
    """Run `script` with bash -euo pipefail in `cwd`, with the AWS CLI pointed at the server."""
    proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd,
                          env=shell_env(server, **extra), capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def psql(host: str, port: int, user: str, password: str, dbname: str, *commands: str,
         sslmode: str = "prefer", check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """`psql -At -c … -c …` (one line per result row), ON_ERROR_STOP on."""
    args = [PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", user,
            "-d", dbname]
    for command in commands:
        args += ["-c", command]
    proc = subprocess.run(args, env={**os.environ, "PGPASSWORD": password, "PGSSLMODE": sslmode,
                                     "PGCONNECT_TIMEOUT": "10", **env},
                          capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, f"psql failed ({proc.returncode}): {proc.stderr}"
    return proc


def show(db: dict[str, Any], password: str, names: list[str], dbname: str) -> dict[str, str]:
    """`SHOW name` for each name through psql, as a dict."""
    ep = db["Endpoint"]
    out = psql(ep["Address"], ep["Port"], db["MasterUsername"], password, dbname,
               *[f"SHOW {n}" for n in names]).stdout.splitlines()
    assert len(out) == len(names), out
    return dict(zip(names, out, strict=True))


def aws_error(server: KuraServer, *args: str) -> str:
    """Run the AWS CLI expecting a failure; its stderr."""
    proc: Any = server.aws(*args, check=False)
    assert proc.returncode != 0, f"aws {' '.join(args)} succeeded: {proc.stdout}"
    return str(proc.stderr)
