"""The AWS/RDS measurements of one DB instance, taken every second by the collector.

One connection per instance stays open (the private unix socket, as the Kura superuser: PgNode.connect)
and runs one prepared statement a second (pg.py) through libpq's asynchronous calls, so a server that
stops answering costs the collector a one-second timeout, never a hang; the connection is then dropped
and made again later. The statement runs on the primary (a Multi-AZ standby is not measured), and never
during the instance's transitions (creating, stopping, rebooting…): only in the running states.

CPUUtilization is the instance's processes (the postmaster and its children, /proc via procfs) against
its CPU share: its class's vCPUs, at most the host's CPUs (a db.r5.4xlarge on a 2-core host shares
those 2), or for db.serverless the CPU quota of its control group. FreeableMemory is the class's memory
(db.serverless: its group's limit; at most the host's) less what its processes hold. FreeStorageSpace
is the allocated storage less the data directory's use, as the reconciler measures it (observe.usage).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq

from kura.control.rds import nodes, plan, routing
from kura.engines.postgres import pgproc
from kura.engines.postgres.node import PgNode
from kura.env import Env
from kura.metrics import pg, procfs
from kura.services.rds import classes
from kura.store.types import Resource

log = logging.getLogger("kura.metrics.rds")

NAMESPACE = "AWS/RDS"
TIMEOUT = 1.0  # seconds a statement may take before the connection is given up
RETRY = 5.0  # seconds between connection attempts to an instance that refused or timed out
_STATEMENT = b"kura_metrics"
APPLICATION = "kura-metrics"  # the collector's sessions in pg_stat_activity
_WHO = f"SELECT pg_backend_pid(), set_config('application_name', '{APPLICATION}', false)".encode()


@functools.cache
def host_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


class QueryTimeout(Exception):
    pass


def _wait(conn: pq.abc.PGconn, deadline: float) -> None:
    while conn.flush():
        if not select.select([], [conn.socket], [], max(0.0, deadline - time.monotonic()))[1]:
            raise QueryTimeout("write")


def _result(conn: pq.abc.PGconn, deadline: float) -> pq.abc.PGresult:
    found = None
    while True:
        while conn.is_busy():
            if not select.select([conn.socket], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise QueryTimeout("read")
            conn.consume_input()
        result = conn.get_result()
        if result is None:
            break
        found = result
    if found is None or found.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        message = found.error_message.decode(errors="replace") if found is not None else "no result"
        raise psycopg.OperationalError(message.strip())
    return found


@dataclass
class Probe:
    """What the collector keeps of one instance between seconds."""

    node_key: tuple[str, str] | None = None  # (engine version, primary member) the node was made for
    node: PgNode | None = None
    datadir: Path | None = None
    pid: int | None = None
    conn: psycopg.Connection[Any] | None = None
    backend: int | None = None  # the collector session's backend pid
    retry_at: float = 0.0
    counters: tuple[float, pg.Counters] | None = None  # (monotonic, counters)
    cpu: tuple[float, float] | None = None  # (monotonic, cpu seconds of the tree)
    statements: int = 0
    errors: int = field(default=0)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a broken socket: nothing to say goodbye to
                self.conn.close()
        self.conn = None
        self.backend = None
        self.counters = None

    def _connect(self, node: PgNode, major: int, now: float) -> None:
        self.conn = node.connect(connect_timeout=2)
        raw = self.conn.pgconn
        deadline = now + TIMEOUT
        raw.send_prepare(_STATEMENT, pg.sql_for(major).encode())
        _wait(raw, deadline)
        _result(raw, deadline)
        raw.send_query_params(_WHO, None)
        _wait(raw, deadline)
        value = _result(raw, deadline).get_value(0, 0)
        self.backend = int(value) if value is not None else None

    def query(self, node: PgNode, major: int, now: float) -> pg.Sample | None:
        """One statement's sample, or None (not connected now; the reason is logged once)."""
        if self.conn is None:
            if now < self.retry_at:
                return None
            try:
                self._connect(node, major, now)
            except Exception as exc:  # any failure: try again later
                self._failed(node, exc, now)
                return None
        assert self.conn is not None
        raw = self.conn.pgconn
        deadline = now + TIMEOUT
        try:
            raw.send_query_prepared(_STATEMENT, None)
            _wait(raw, deadline)
            result = _result(raw, deadline)
        except Exception as exc:
            self._failed(node, exc, now)
            return None
        self.statements += 1
        self.errors = 0
        return pg.parse([None if (v := result.get_value(0, i)) is None else v.decode()
                         for i in range(result.nfields)])

    def _failed(self, node: PgNode, exc: Exception, now: float) -> None:
        if not self.errors:
            log.info("metrics of %s paused: %s", node, exc)
        self.errors += 1
        self.close()
        self.retry_at = now + RETRY


def wal_bytes(directory: Path) -> int | None:
    """What pg_ls_waldir() sums: the files in pg_wal (segments, history and backup-label files)."""
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):  # a segment recycled meanwhile
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        return None
    return total


def cpu_share(res: Resource, cpus: int) -> float:
    serverless = res.status.get("serverless") or {}
    if res.spec.get("DBInstanceClass") == classes.SERVERLESS and serverless.get("cpus"):
        return min(float(serverless["cpus"]), float(cpus))
    found = classes.lookup(str(res.spec.get("DBInstanceClass") or ""))
    return float(min(found.vcpus if found else 2, cpus))


def memory_share(res: Resource) -> int:
    serverless = res.status.get("serverless") or {}
    if res.spec.get("DBInstanceClass") == classes.SERVERLESS and serverless.get("memory"):
        return min(int(serverless["memory"]), host_memory())
    found = classes.lookup(str(res.spec.get("DBInstanceClass") or ""))
    return min(found.memory_bytes if found else host_memory(), host_memory())


def measurable(res: Resource) -> bool:
    """Running (not creating, stopping, rebooting…, nor a Serverless v2 member paused at zero)."""
    return res.status.get("state") in plan.RUNNING and res.spec.get("desired") != "deleted" \
        and not routing.paused(res)


def sample(env: Env, res: Resource, probe: Probe, procs: procfs.ProcReader, now: float,
           cpus: int) -> list[pg.Metric]:
    """This second's metrics of one instance ([] when it is not running or not reachable)."""
    key = (str(res.status.get("engine_version") or ""), nodes.primary_member(res))
    if probe.node_key != key:
        probe.node, probe.node_key = nodes.node_for(env, res), key
    node = probe.node
    engine_major = int(str(res.status.get("engine_version") or "0").split(".")[0] or 0)
    if node is None or not engine_major:
        return []
    if probe.datadir != node.datadir:  # a failover moved the primary
        probe.close()
        probe.datadir, probe.pid, probe.cpu = node.datadir, None, None
    usage = procs.tree(probe.pid) if probe.pid is not None else None
    if usage is None:
        found = pgproc.read_pidfile(node.datadir)
        if found is None or not pgproc.is_live_postmaster(found):
            probe.close()
            probe.pid = probe.cpu = None
            return []
        if found.pid != probe.pid:
            probe.close()
            probe.pid, probe.cpu = found.pid, None
        usage = procs.tree(found.pid)
        if usage is None:
            return []
    out: list[pg.Metric] = []
    if usage.stopped:  # SIGSTOPped (a fenced or frozen primary): no statement, only what /proc says
        probe.close()
    else:
        out += _statement_metrics(probe, node, engine_major, now)
    if probe.cpu is not None and now > probe.cpu[0]:
        used = max(0.0, usage.cpu_seconds - probe.cpu[1]) / (now - probe.cpu[0])
        out.append(("CPUUtilization", min(100.0, 100.0 * used / cpu_share(res, cpus)), "Percent"))
    probe.cpu = (now, usage.cpu_seconds)
    out.append(("FreeableMemory", float(max(0, memory_share(res) - usage.memory_bytes)), "Bytes"))
    wal = wal_bytes(node.datadir / "pg_wal")
    if wal is not None:
        out.append(("TransactionLogsDiskUsage", float(wal), "Bytes"))
    storage = res.status.get("storage") or {}
    if "free_bytes" in storage:
        out.append(("FreeStorageSpace", float(storage["free_bytes"]), "Bytes"))
    return out


def _statement_metrics(probe: Probe, node: PgNode, major: int, now: float) -> list[pg.Metric]:
    before = probe.statements
    found = probe.query(node, major, now)
    if found is None:
        return []
    out = pg.gauges(found)
    if probe.counters is not None:
        then, counters = probe.counters
        own = probe.statements - before  # this statement's own transaction is counted next time
        out += pg.rates(counters, found.counters, now - then, own_commits=float(own))
    probe.counters = (now, found.counters)
    return out
