"""What one SQL statement a second tells about a PostgreSQL instance, and the AWS/RDS metrics of it.

The statement reads pg_stat_activity (connections; active sessions, on CPU when they wait on nothing:
DBLoad, DBLoadCPU, DBLoadNonCPU), pg_stat_database (commits, deadlocks), the block I/O the server does
(pg_stat_io from PostgreSQL 16: reads, writes and extends with their times — track_io_timing is on, as
on RDS —; before 16, pg_stat_database's blocks read and pg_stat_bgwriter's buffers written), WAL
(pg_stat_wal: the writes of WAL count as write I/O, as RDS counts them, its bytes as write throughput
and TransactionLogsGeneration), the oldest unfrozen transaction id, replication slots and replay
lag. Counters become per-second rates between two samples. (The size of pg_wal is read by Kura from
the directory: pg_ls_waldir() was nearly half the statement's cost in the server.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BLOCK = 8192

_ACTIVITY = """(SELECT count(*) AS connections,
        count(*) FILTER (WHERE state = 'active' AND wait_event IS NULL) AS on_cpu,
        count(*) FILTER (WHERE state = 'active' AND wait_event IS NOT NULL) AS waiting
    FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) a"""
_DATABASE = """(SELECT coalesce(sum(xact_commit), 0) AS commits, coalesce(sum(deadlocks), 0) AS deadlocks,
        coalesce(sum(blks_read), 0) AS blks_read, coalesce(sum(blk_read_time), 0) AS blk_read_time,
        coalesce(sum(blk_write_time), 0) AS blk_write_time FROM pg_stat_database) d"""
# reads, read bytes, read ms, writes (with extends), write bytes, write ms — of data files
_IO_16 = """(SELECT coalesce(sum(reads), 0) AS reads, coalesce(sum(reads * op_bytes), 0) AS read_bytes,
        coalesce(sum(read_time), 0) AS read_time,
        coalesce(sum(coalesce(writes, 0) + coalesce(extends, 0)), 0) AS writes,
        coalesce(sum((coalesce(writes, 0) + coalesce(extends, 0)) * op_bytes), 0) AS write_bytes,
        coalesce(sum(coalesce(write_time, 0) + coalesce(extend_time, 0)), 0) AS write_time
    FROM pg_stat_io WHERE object <> 'wal') io"""
_IO_18 = """(SELECT coalesce(sum(reads), 0) AS reads, coalesce(sum(read_bytes), 0) AS read_bytes,
        coalesce(sum(read_time), 0) AS read_time,
        coalesce(sum(coalesce(writes, 0) + coalesce(extends, 0)), 0) AS writes,
        coalesce(sum(coalesce(write_bytes, 0) + coalesce(extend_bytes, 0)), 0) AS write_bytes,
        coalesce(sum(coalesce(write_time, 0) + coalesce(extend_time, 0)), 0) AS write_time
    FROM pg_stat_io) io"""
_IO_15 = f"""LATERAL (SELECT d.blks_read AS reads, d.blks_read * {BLOCK} AS read_bytes,
        d.blk_read_time AS read_time,
        b.buffers_checkpoint + b.buffers_clean + b.buffers_backend AS writes,
        (b.buffers_checkpoint + b.buffers_clean + b.buffers_backend) * {BLOCK} AS write_bytes,
        d.blk_write_time AS write_time FROM pg_stat_bgwriter b) io"""
_WAL_17 = "(SELECT wal_write, wal_bytes FROM pg_stat_wal) w"
_WAL_18 = "(SELECT 0 AS wal_write, wal_bytes FROM pg_stat_wal) w"  # its writes are in pg_stat_io from 18
_REST = """(SELECT max(age(datfrozenxid)) AS xid_age FROM pg_database) x,
    (SELECT pg_is_in_recovery() AS recovery,
        CASE WHEN NOT pg_is_in_recovery() THEN NULL
             WHEN pg_last_wal_receive_lsn() IS NOT NULL
                  AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
             ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END AS replica_lag,
        (SELECT max(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn))
         FROM pg_replication_slots WHERE restart_lsn IS NOT NULL) AS slot_lag) r"""


def sql_for(major: int) -> str:
    io = _IO_18 if major >= 18 else _IO_16 if major >= 16 else _IO_15
    return (f"SELECT a.connections, a.on_cpu, a.waiting, d.commits, d.deadlocks, io.reads, io.read_bytes, "
            f"io.read_time, io.writes, io.write_bytes, io.write_time, w.wal_write, w.wal_bytes, x.xid_age, "
            f"r.recovery, r.replica_lag, r.slot_lag FROM {_ACTIVITY}, {_DATABASE}, {io}, "
            f"{_WAL_18 if major >= 18 else _WAL_17}, {_REST}")


@dataclass(frozen=True, slots=True)
class Counters:
    """Cumulative counters (rates come from two of them)."""

    commits: float
    deadlocks: float
    reads: float
    read_bytes: float
    read_ms: float
    writes: float  # data-file writes and extends
    write_bytes: float
    write_ms: float
    wal_writes: float
    wal_bytes: float


@dataclass(frozen=True, slots=True)
class Sample:
    connections: int
    on_cpu: int
    waiting: int
    counters: Counters
    xid_age: int
    recovery: bool
    replica_lag: float | None
    slot_lag: float | None


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def parse(row: list[str | None]) -> Sample:
    """The statement's row, as libpq's text values."""
    (connections, on_cpu, waiting, commits, deadlocks, reads, read_bytes, read_time, writes, write_bytes,
     write_time, wal_write, wal_bytes, xid_age, recovery, replica_lag, slot_lag) = row
    counters = Counters(_num(commits), _num(deadlocks), _num(reads), _num(read_bytes), _num(read_time),
                        _num(writes), _num(write_bytes), _num(write_time), _num(wal_write), _num(wal_bytes))
    return Sample(int(_num(connections)), int(_num(on_cpu)), int(_num(waiting)), counters, int(_num(xid_age)),
                  recovery in ("t", "true"), float(replica_lag) if replica_lag is not None else None,
                  float(slot_lag) if slot_lag is not None else None)


Metric = tuple[str, float, str]  # (name, value, unit)


def gauges(s: Sample) -> list[Metric]:
    out: list[Metric] = [
        ("DatabaseConnections", float(s.connections), "Count"),
        ("DBLoad", float(s.on_cpu + s.waiting), "None"),
        ("DBLoadCPU", float(s.on_cpu), "None"),
        ("DBLoadNonCPU", float(s.waiting), "None"),
        ("MaximumUsedTransactionIDs", float(s.xid_age), "Count"),
    ]
    if s.slot_lag is not None:
        out.append(("OldestReplicationSlotLag", max(0.0, s.slot_lag), "Bytes"))
    if s.recovery and s.replica_lag is not None:
        out.append(("ReplicaLag", max(0.0, s.replica_lag), "Seconds"))
    return out


def rates(before: Counters, after: Counters, seconds: float, own_commits: float = 0.0) -> list[Metric]:
    """Per-second rates over the interval; a counter that went back (a restart, a stats reset) is
    measured from zero rather than reported negative. `own_commits`: the collector's own statements
    (each is a transaction) in the interval, which are not the instance's load."""
    if seconds <= 0:
        return []

    def delta(name: str) -> float:
        a, b = float(getattr(before, name)), float(getattr(after, name))
        return b - a if b >= a else b

    reads, writes = delta("reads"), delta("writes")
    write_ops = writes + delta("wal_writes")
    return [
        ("CommitThroughput", max(0.0, delta("commits") - own_commits) / seconds, "Count/Second"),
        ("Deadlocks", delta("deadlocks") / seconds, "Count/Second"),
        ("ReadIOPS", reads / seconds, "Count/Second"),
        ("WriteIOPS", write_ops / seconds, "Count/Second"),
        ("ReadThroughput", delta("read_bytes") / seconds, "Bytes/Second"),
        ("WriteThroughput", (delta("write_bytes") + delta("wal_bytes")) / seconds, "Bytes/Second"),
        ("ReadLatency", delta("read_ms") / 1000.0 / reads if reads else 0.0, "Seconds"),
        ("WriteLatency", delta("write_ms") / 1000.0 / writes if writes else 0.0, "Seconds"),
        ("TransactionLogsGeneration", delta("wal_bytes") / seconds, "Bytes/Second"),
    ]
