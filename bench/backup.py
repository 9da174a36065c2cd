"""RDS backups: base backup, point-in-time restore and the latest restorable time, against PostgreSQL's own
tools run by hand on the same instance, in the same run.

One DB instance (boto3 CreateDBInstance, db.m5.large, TLS as its master user) holds a pgbench database
(`pgbench -i -s 68` ≈ 1 GiB; --quick: -s 5). It is created with BackupRetentionPeriod=0, loaded, and
then given BackupRetentionPeriod=1 (ModifyDBInstance, ApplyImmediately): Kura's first automated base
backup is then one of the loaded database — with backups on from creation the automated base backup is
one of an empty database and no API takes another before the next day's backup window.

- base backup: CreateDBSnapshot → DescribeDBSnapshots `available` (a pg_basebackup -F t -X fetch to
  stdout into Kura's backup storage) vs `pg_basebackup -D <dir> -F t -X fetch -c fast` run by hand as
  Kura's superuser over the instance's private socket, alternated; plus the automated base backup's own
  duration (its "Backing up" → "Finished" events) and ModifyDBInstance → LatestRestorableTime shown
  (goal: snapshot/raw ≤ 1.2);
- latest restorable time lag: DescribeDBInstances every 0.5 s under `pgbench -c 2 -j 2 -T 30`
  (unthrottled; --quick: 5 s), lag = now - LatestRestorableTime (goal: p95 ≤ 5 s);
- point-in-time restore to an instant right after that write phase (a commit follows it 0.5 s later):
  RestoreDBInstanceToPointInTime → `available` vs by hand: the raw base backup taken right after Kura's
  automated one, extracted with tar, the WAL since it copied out of pg_wal (a slot of ours kept it),
  recovery to the same time by the same engine with the same parameter values, up to promotion and a
  first query (goal: Kura/raw ≤ 1.3). Both restores are checked to hold the source's state at the
  target and not the commit after it. Kura runs with KURA_LOG_LEVEL=DEBUG, which logs each step of the
  restore as it is done: the JSON splits Kura's restore time by step.

Rounds (full / --quick): 5 / 1 snapshot-vs-pg_basebackup pairs, 5 / 1 restore pairs, in alternating
order; the ratios judged are of the medians, the medians of the pairs' own ratios are shown too (a
shared host's disk is noisy: the pairs run back to back). Everything runs on loopback addresses and
in one temporary directory, removed at the end.

    python bench/backup.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import percentile, write_result
from kura.control.rds import nodes
from kura.engines import osuser
from kura.engines.postgres import backup, pgproc
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.templates import SUPERUSER, TemplateCache
from kura.engines.postgres.types import NodeConfig, PgEngine
from tests.integration.test_rds_lifecycle import stop_leftovers
from tests.kura_fixture import KuraServer, free_port

PASSWORD = "bench-password-1"
USER, DB, SOURCE = "bench", "bench", "bench-src"
RAW_SLOT = "bench_raw"
_START = re.compile(r"write-ahead log start point: ([0-9A-F]+/[0-9A-F]+) on timeline (\d+)")
_STATE = "SELECT count(*), coalesce(sum(delta), 0), (SELECT count(*) FROM bench_marker) FROM pgbench_history"


class Bench:
    """The Kura server, the source instance and where raw work happens."""

    def __init__(self, server: KuraServer, scratch: Path) -> None:
        self.server, self.scratch = server, scratch
        self.rds: Any = None  # once the server runs
        self.run_as = osuser.engine_user()
        self.engine: PgEngine = nodes.engines()[0]
        self.inst: dict[str, Any] = {}
        self.raw_nodes: list[PgNode] = []

    @property
    def pgdata(self) -> Path:
        return self.server.home / "data" / "rds" / self.server.region / SOURCE / "pgdata"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """Kura's own superuser over the source's private socket (what Kura's backups connect as)."""
        pf = pgproc.read_pidfile(self.pgdata)
        assert pf is not None and pf.socket_dir is not None, "the source instance is not running"
        return psycopg.connect(host=pf.socket_dir, port=pf.port, user=SUPERUSER, dbname=dbname,
                               autocommit=True, application_name="bench_raw")

    def master(self, inst: dict[str, Any]) -> psycopg.Connection[Any]:
        ep = inst["Endpoint"]
        return psycopg.connect(host=ep["Address"], port=ep["Port"], user=USER, password=PASSWORD, dbname=DB,
                               sslmode="require", connect_timeout=10, autocommit=True)

    def pgbench(self, *args: str, timeout: float = 3600) -> str:
        ep = self.inst["Endpoint"]
        env = {**osuser.BASE_ENV, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"}
        done = subprocess.run([str(self.engine.tool("pgbench")), "-h", ep["Address"], "-p", str(ep["Port"]),
                               "-U", USER, *args, DB], env=env, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"pgbench {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout + done.stderr


POLL = 0.1  # seconds between Describe calls while timing; each costs the 2-core host CPU on both sides


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = POLL) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(interval)


def describe(rds: Any, ident: str) -> dict[str, Any]:
    return dict(rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0])


def available(rds: Any, ident: str) -> dict[str, Any] | None:
    inst = describe(rds, ident)
    if inst["DBInstanceStatus"] in ("failed", "incompatible-parameters"):
        said = [e["Message"] for e in rds.describe_events(SourceIdentifier=ident,
                                                          SourceType="db-instance")["Events"]]
        raise RuntimeError(f"{ident} is {inst['DBInstanceStatus']}: {said[-3:]}")
    return inst if inst["DBInstanceStatus"] == "available" else None


def gone(rds: Any, ident: str) -> bool:
    try:
        describe(rds, ident)
    except rds.exceptions.DBInstanceNotFoundFault:
        return True
    return False


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- setup ---------------------------------------------------------------------------------------------

def create_source(b: Bench, scale: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    b.rds.create_db_instance(DBInstanceIdentifier=SOURCE, Engine="postgres", DBInstanceClass="db.m5.large",
                             MasterUsername=USER, MasterUserPassword=PASSWORD, AllocatedStorage=20,
                             DBName=DB, BackupRetentionPeriod=0)
    b.inst = wait_for("the source instance", lambda: available(b.rds, SOURCE), 300)
    created = time.perf_counter() - t0
    version = str(b.inst["EngineVersion"])
    b.engine = next((e for e in nodes.engines() if e.version == version), b.engine)
    t0 = time.perf_counter()
    # server-side data generation (G): the same tables as client-side, without COPY over TLS
    b.pgbench("-i", "-s", str(scale), "-I", "dtGvp", "-q")
    loaded = time.perf_counter() - t0
    with b.master(b.inst) as conn:
        conn.execute("CREATE TABLE bench_marker (at timestamptz DEFAULT clock_timestamp())")
        size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        shown = {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                 for name in ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_level")}
    return {"engine": version, "instance_class": "db.m5.large", "pgbench_scale": scale,
            "database_bytes": size, "database_gib": round(size / 2**30, 3), "create_s": round(created, 3),
            "pgbench_init_s": round(loaded, 3), "settings": shown}


# -- base backups --------------------------------------------------------------------------------------

def kura_snapshot(b: Bench, n: int) -> dict[str, Any]:
    ident = f"bench-snap-{n}"
    t0 = time.perf_counter()
    b.rds.create_db_snapshot(DBInstanceIdentifier=SOURCE, DBSnapshotIdentifier=ident)

    def done() -> bool:
        snap = b.rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]
        if snap["Status"] == "failed":
            raise RuntimeError(f"snapshot {ident} failed")
        return bool(snap["Status"] == "available")

    wait_for(f"snapshot {ident}", done, 3600)
    took = time.perf_counter() - t0
    path = b.server.home / "backups" / "rds" / b.server.region / "snapshots" / f"{ident}.tar"
    size = path.stat().st_size if path.exists() else None
    b.rds.delete_db_snapshot(DBSnapshotIdentifier=ident)
    wait_for(f"{ident} deleted", lambda: not path.exists(), 60)
    return {"s": round(took, 3), "bytes": size}


def raw_basebackup(b: Bench, dest: Path) -> dict[str, Any]:
    """pg_basebackup by hand, as Kura's superuser over the instance's socket (Kura's options, to a dir)."""
    pf = pgproc.read_pidfile(b.pgdata)
    assert pf is not None
    conninfo = f"host={pf.socket_dir} port={pf.port} user={SUPERUSER} application_name=bench_raw"
    cmd = [str(b.engine.tool("pg_basebackup")), "-D", str(dest), "-F", "t", "-X", "fetch", "-c", "fast", "-v",
           "-d", conninfo]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=osuser.BASE_ENV, timeout=3600)
    took = time.perf_counter() - t0
    found = _START.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"pg_basebackup failed: {done.stderr[-2000:]}")
    return {"s": round(took, 3), "bytes": tree_bytes(dest), "start_lsn": found.group(1),
            "timeline": int(found.group(2))}


def base_backups(b: Bench, rounds: int) -> dict[str, Any]:
    kura, raw = [], []
    for n in range(rounds):  # alternated, so that a noisy moment or a warm cache favours neither side
        for side in ("raw", "kura") if n % 2 == 0 else ("kura", "raw"):
            if side == "kura":
                kura.append(kura_snapshot(b, n))
            else:
                dest = b.scratch / f"basebackup-{n}"
                raw.append(raw_basebackup(b, dest))
                shutil.rmtree(dest)
    return {"kura_snapshot": kura, "raw_pg_basebackup": raw}


def automated_base(b: Bench) -> dict[str, Any]:
    """Turn backups on: Kura takes its first automated base backup, of the loaded database."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    t0 = time.perf_counter()
    b.rds.modify_db_instance(DBInstanceIdentifier=SOURCE, BackupRetentionPeriod=1, ApplyImmediately=True)

    def restorable() -> bool:
        inst = describe(b.rds, SOURCE)
        return bool(inst.get("LatestRestorableTime")) and inst["DBInstanceStatus"] == "available"

    wait_for("the first automated backup", restorable, 3600)
    api_s = time.perf_counter() - t0
    events = b.rds.describe_events(SourceIdentifier=SOURCE, SourceType="db-instance",
                                   StartTime=since)["Events"]
    began = [e["Date"] for e in events if e["Message"] == "Backing up DB instance"]
    ended = [e for e in events if e["Message"].startswith("Finished DB Instance backup")]
    out: dict[str, Any] = {"modify_to_latest_restorable_time_s": round(api_s, 3)}
    if began and ended:
        out["events_backing_up_to_finished_s"] = round((ended[-1]["Date"] - began[-1]).total_seconds(), 3)
        mib = re.search(r"\(([\d.]+) MiB", ended[-1]["Message"])
        out["bytes"] = int(float(mib.group(1)) * 2**20) if mib else None
    out["start_lsn"] = _kura_base_start(b)
    return out


def _kura_base_start(b: Bench) -> str | None:
    """The automated base backup's start LSN, from the backup_label in its tar (unencrypted: plain)."""
    dbi = describe(b.rds, SOURCE)["DbiResourceId"]
    tars = sorted((b.server.home / "backups" / "rds" / b.server.region / dbi / "base").glob("*.tar"))
    if not tars:
        return None
    done = subprocess.run(["tar", "-xOf", str(tars[-1]), "backup_label"], capture_output=True, text=True)
    found = re.search(r"START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+)", done.stdout)
    return found.group(1) if found else None


# -- write phase: the latest restorable time under load, and the restore target -----------------------

def write_phase(b: Bench, seconds: int) -> dict[str, Any]:
    ep = b.inst["Endpoint"]
    env = {**osuser.BASE_ENV, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"}
    cmd = [str(b.engine.tool("pgbench")), "-h", ep["Address"], "-p", str(ep["Port"]), "-U", USER, "-n",
           "-c", "2", "-j", "2", "-T", str(seconds), DB]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        lags: list[float] = []
        missing = 0
        tick = time.monotonic()
        try:
            while proc.poll() is None:
                latest = describe(b.rds, SOURCE).get("LatestRestorableTime")
                if latest is None:
                    missing += 1
                else:
                    lags.append(time.time() - latest.timestamp())
                tick += 0.5
                time.sleep(max(0.0, tick - time.monotonic()))
        finally:
            if proc.poll() is None:  # a failed poll: pgbench ends with us
                proc.terminate()
                proc.wait()
        out.seek(0)
        said = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed: {said[-2000:]}")
    tps = re.search(r"tps = ([\d.]+)", said)
    with b.master(b.inst) as conn:
        expected = tuple(conn.execute(_STATE).fetchone() or ())
        target_lsn = str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]
        target = round(time.time(), 3)
        time.sleep(0.5)
        conn.execute("INSERT INTO bench_marker DEFAULT VALUES")  # a commit after the target
        marked = time.time()
    wait_for("the latest restorable time to pass the marker commit",
             lambda: (lambda t: t is not None and t.timestamp() >= marked)(
                 describe(b.rds, SOURCE).get("LatestRestorableTime")), 60)
    return {"seconds": seconds, "tps": float(tps.group(1)) if tps else None, "lag_s": lags,
            "polls_without_latest_restorable_time": missing, "target": target, "target_lsn": target_lsn,
            "expected_state": [int(v) for v in expected]}


# -- point-in-time restores ----------------------------------------------------------------------------

_STEP = re.compile(r"^(\S+ \S+) DEBUG kura\.control kind=rds\.db-instance id=(\S+) op=restore step=(\S+) ")


def kura_steps(b: Bench, ident: str, since: float, until: float) -> dict[str, float]:
    """The restore's steps, from Kura's own log (KURA_LOG_LEVEL=DEBUG: a line as each step is done):
    the first one also holds the API call and the wait for the reconciler."""
    log = b.server.home.parent / f"kura-{b.server.port}.log"
    out, last = {}, since
    for line in log.read_text(errors="replace").splitlines():
        found = _STEP.match(line)
        if found and found.group(2) == ident:
            at = dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time
            out[found.group(3)] = round(at - last, 3)
            last = at
    out["seen_available_and_first_query"] = round(until - last, 3)
    return out


def kura_pitr(b: Bench, n: int, target: float) -> dict[str, Any]:
    ident = f"bench-pitr-{n}"
    since = time.time()
    t0 = time.perf_counter()
    b.rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=SOURCE, TargetDBInstanceIdentifier=ident,
        RestoreTime=dt.datetime.fromtimestamp(target, dt.UTC), BackupRetentionPeriod=0)
    inst = wait_for(f"{ident} available", lambda: available(b.rds, ident), 3600)
    with b.master(inst) as conn:
        state = [int(v) for v in conn.execute(_STATE).fetchone() or ()]
    took = time.perf_counter() - t0
    steps = kura_steps(b, ident, since, since + took)
    b.rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    wait_for(f"{ident} deleted", lambda: gone(b.rds, ident), 300, interval=0.2)
    return {"s": round(took, 3), "steps_s": steps, "state": state}


def _parameter_group_settings(conf: str) -> dict[str, str]:
    """The parameter values in a kura.conf (its '# Parameter group' section), for the raw restore."""
    section = conf.split("# Parameter group", 1)[1].split("# Kura's own", 1)[0]
    found = {}
    for line in section.splitlines():
        name, sep, value = line.partition(" = ")
        if sep and value.startswith("'") and value.endswith("'"):
            found[name.strip()] = value[1:-1].replace("''", "'").replace("\\\\", "\\")
    return found


def raw_pitr(b: Bench, n: int, base_dir: Path, start_lsn: str, timeline: int,
             target: float) -> dict[str, Any]:
    where = b.scratch / f"raw-restore-{n}"
    where.mkdir()
    osuser.grant_traverse(where, b.run_as)
    datadir = where / "data"
    node = PgNode(b.engine, datadir, socket_dir=where / "sock", log_dir=where / "log", run_as=b.run_as,
                  templates=TemplateCache(where / "cache", b.run_as))
    b.raw_nodes.append(node)
    marks = {}
    t0 = time.perf_counter()
    datadir.mkdir(mode=0o700)
    subprocess.run(["tar", "-x", "-f", str(base_dir / "base.tar"), "-C", str(datadir)], check=True,
                   env=osuser.BASE_ENV)
    marks["extract"] = time.perf_counter()
    with b.admin() as conn:
        current = str(conn.execute("SELECT pg_walfile_name(pg_current_wal_flush_lsn())").fetchone()[0])  # type: ignore[index]
    first = backup.segment_of(start_lsn, timeline)
    wanted = sorted(p for p in (b.pgdata / "pg_wal").iterdir()
                    if backup.SEGMENT.match(p.name) and first[8:] <= p.name[8:] <= current[8:])
    staged = datadir / backup.RESTORE_WAL
    staged.mkdir()
    subprocess.run(["cp", *map(str, wanted), str(staged)], check=True, env=osuser.BASE_ENV)
    marks["stage_wal"] = time.perf_counter()
    when = dt.datetime.fromtimestamp(target, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    backup.prepare_recovery(datadir, when, b.run_as)  # the same recovery settings as Kura's
    settings = _parameter_group_settings((datadir / "kura.conf").read_text())
    node.configure(NodeConfig("127.0.0.1", free_port(), settings, ()))
    marks["configure"] = time.perf_counter()
    node.start(timeout=3600)
    backup.wait_promoted(node, 3600)
    state = [int(str(v)) for v in node.execute(_STATE, dbname=DB)[0]]
    marks["recover_promote_query"] = time.perf_counter()
    took = marks["recover_promote_query"] - t0
    phases, last = {}, t0
    for name, at in marks.items():
        phases[name] = round(at - last, 3)
        last = at
    node.stop()
    shutil.rmtree(where)
    b.raw_nodes.remove(node)
    return {"s": round(took, 3), "phases_s": phases, "state": state, "wal_segments": len(wanted),
            "wal_bytes": sum(p.stat().st_size for p in wanted), "wal_from": first, "wal_to": current}


def verify_seconds(b: Bench, base_dir: Path) -> float:
    """What pg_verifybackup (which Kura's restore runs, the raw one does not) costs on this backup."""
    where = b.scratch / "verify"
    where.mkdir()
    subprocess.run(["tar", "-x", "-f", str(base_dir / "base.tar"), "-C", str(where)], check=True)
    shutil.copy(base_dir / "backup_manifest", where / "backup_manifest")
    t0 = time.perf_counter()
    done = subprocess.run([str(b.engine.tool("pg_verifybackup")), "-n", "-q", str(where)],
                          capture_output=True, text=True, env=osuser.BASE_ENV)
    took = time.perf_counter() - t0
    shutil.rmtree(where)
    return round(took, 3) if done.returncode == 0 else float("nan")


# -- the run -------------------------------------------------------------------------------------------

def run(b: Bench, quick: bool) -> dict[str, Any]:
    scale, rounds, seconds, pitr_rounds = (5, 1, 5, 1) if quick else (68, 5, 30, 5)
    source = create_source(b, scale)
    bases = base_backups(b, rounds)
    automated = automated_base(b)
    with b.admin() as conn:  # our own slot keeps the WAL the raw restore copies out of pg_wal
        conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", (RAW_SLOT,))
    raw_base_dir = b.scratch / "basebackup-pitr"
    raw_base = raw_basebackup(b, raw_base_dir)
    writes = write_phase(b, seconds)
    kura_runs, raw_runs = [], []
    for n in range(pitr_rounds):
        for side in ("kura", "raw") if n % 2 == 0 else ("raw", "kura"):
            if side == "kura":
                kura_runs.append(kura_pitr(b, n, writes["target"]))
            else:
                raw_runs.append(raw_pitr(b, n, raw_base_dir, raw_base["start_lsn"], raw_base["timeline"],
                                         writes["target"]))
    verify = verify_seconds(b, raw_base_dir)
    with b.admin() as conn:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (RAW_SLOT,))
    shutil.rmtree(raw_base_dir)
    return {"source": source, "bases": bases, "automated": automated, "writes": writes,
            "kura_pitr": kura_runs, "raw_pitr": raw_runs, "raw_base": raw_base, "verify_s": verify}


KURA_SNAPSHOT = ("CreateDBSnapshot → DescribeDBSnapshots available (polled every 100 ms): the API call, "
                 "the snapshot reconciler, pg_basebackup -D - -F t -X fetch -c fast (tar with the WAL "
                 "and the manifest in it) streamed through Kura into its backup storage (plain: the "
                 "instance is not encrypted), the snapshot's status update")
RAW_BASE = ("pg_basebackup -D <dir> -F t -X fetch -c fast -v as rdsadmin over the instance's "
            "private socket (base.tar + backup_manifest): same instance, same run, alternated with "
            "the snapshots")
AUTOMATED = ("the instance is created with BackupRetentionPeriod=0 and loaded, then ModifyDBInstance "
             "BackupRetentionPeriod=1 ApplyImmediately: Kura's first automated base backup is then "
             "one of the loaded database. events_backing_up_to_finished_s: its 'Backing up DB "
             "instance' → 'Finished DB Instance backup' events (the base backup alone); "
             "modify_to_latest_restorable_time_s adds starting the WAL stream and the first "
             "LatestRestorableTime")
KURA_PITR = ("RestoreDBInstanceToPointInTime (BackupRetentionPeriod=0: no first backup of the new "
             "instance) → DescribeDBInstances available (polled every 100 ms) → a first query as the "
             "master user over TLS: the restore's endpoint, certificate and secret steps, its "
             "automated base backup unpacked (tar fed through Kura), pg_verifybackup, every archived "
             "WAL segment since the base backup's start copied out plus the live partial one, "
             "recovery to the target time and promotion, master user and database steps")
RAW_PITR = ("tar -x of the raw base backup (the same database, taken right after Kura's automated "
            "one), cp of the WAL segments from its start to the current one out of the source's "
            "pg_wal (kept by a slot of ours), the same recovery settings and the same parameter "
            "values (the source's kura.conf parameter group section), the same engine started and "
            "polled until promoted, a first query over the socket; no pg_verifybackup (what it "
            "costs on this backup: pg_verifybackup_s)")
LAG = ("DescribeDBInstances every 0.5 s while pgbench -n -c 2 -j 2 (unthrottled, TPC-B-like) "
       "writes through the endpoint; lag = the time the answer arrived - LatestRestorableTime")


def report(r: dict[str, Any], quick: bool) -> tuple[dict[str, Any], str]:
    bases, writes, auto = r["bases"], r["writes"], r["automated"]
    snap_p50 = percentile([x["s"] for x in bases["kura_snapshot"]], 50)
    raw_p50 = percentile([x["s"] for x in bases["raw_pg_basebackup"]], 50)
    base_ratio = round(snap_p50 / raw_p50, 3)
    kura_pitr = percentile([x["s"] for x in r["kura_pitr"]], 50)
    raw_pitr = percentile([x["s"] for x in r["raw_pitr"]], 50)
    pitr_ratio = round(kura_pitr / raw_pitr, 3)
    paired = {name: round(percentile([k["s"] / r["s"] for k, r in zip(kura, raw, strict=True)], 50), 3)
              for name, kura, raw in (("base_backup", bases["kura_snapshot"], bases["raw_pg_basebackup"]),
                                      ("pitr", r["kura_pitr"], r["raw_pitr"]))}
    lags: list[float] = writes["lag_s"]
    lag = {"n": len(lags), "p50_s": round(percentile(lags, 50), 3), "p95_s": round(percentile(lags, 95), 3),
           "max_s": round(max(lags), 3) if lags else float("nan")}
    expected = writes["expected_state"]
    same = all(x["state"] == expected for x in r["kura_pitr"] + r["raw_pitr"])
    goals = {"base_backup_ratio_le_1_2": base_ratio <= 1.2, "pitr_ratio_le_1_3": pitr_ratio <= 1.3,
             "lag_p95_le_5s": lag["p95_s"] <= 5.0, "restores_hold_the_target_state": same}
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    data = {
        "host_detail": {"platform": platform.platform(), "memory_gib": round(memory / 2**30, 1)},
        "source": r["source"],
        "base_backup": {
            "kura_snapshot_p50_s": snap_p50, "raw_pg_basebackup_p50_s": raw_p50, "ratio": base_ratio,
            "paired_ratio_p50": paired["base_backup"],
            "kura_snapshot_runs": bases["kura_snapshot"],
            "raw_pg_basebackup_runs": bases["raw_pg_basebackup"],
            "kura_automated": auto, "kura_includes": KURA_SNAPSHOT, "raw_includes": RAW_BASE,
            "automated_includes": AUTOMATED,
        },
        "latest_restorable_time_lag": {
            **lag, "pgbench_tps": writes["tps"], "seconds": writes["seconds"], "measured": LAG,
            "samples_s": [round(x, 3) for x in lags],
            "polls_without_latest_restorable_time": writes["polls_without_latest_restorable_time"]},
        "point_in_time_restore": {
            "kura_p50_s": kura_pitr, "raw_p50_s": raw_pitr, "ratio": pitr_ratio,
            "paired_ratio_p50": paired["pitr"], "kura_runs": r["kura_pitr"],
            "raw_runs": r["raw_pitr"], "target": writes["target"], "target_lsn": writes["target_lsn"],
            "expected_state": expected,
            "state_is": "pgbench_history count, sum(delta); rows of a marker committed 0.5 s after it",
            "kura_base_start_lsn": auto.get("start_lsn"), "raw_base_backup": r["raw_base"],
            "pg_verifybackup_s": r["verify_s"], "kura_includes": KURA_PITR, "raw_includes": RAW_PITR,
        },
        "goals": goals,
    }
    summary = (f"backup{' (quick)' if quick else ''}: {r['source']['database_gib']} GiB pgbench db; base "
               f"backup: snapshot p50 {snap_p50:.2f}s vs pg_basebackup {raw_p50:.2f}s "
               f"(ratio {base_ratio:.2f}), "
               f"automated {auto.get('events_backing_up_to_finished_s')}s; PITR {kura_pitr:.2f}s vs raw "
               f"{raw_pitr:.2f}s (ratio {pitr_ratio:.2f}); LatestRestorableTime lag p50 {lag['p50_s']}s p95 "
               f"{lag['p95_s']}s max {lag['max_s']}s; goals {goals}")
    return data, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run for CI")
    args = parser.parse_args()
    if not nodes.engines():
        print("no PostgreSQL installed", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="kura-bench-backup-"))
    tmp.chmod(0o711)  # the engine user reaches the raw restores' directories
    (tmp / "home").mkdir()
    (tmp / "scratch").mkdir()
    # DEBUG: Kura logs each step of the restore as it is done (kura_steps)
    server = KuraServer(home=tmp / "home", port=free_port(), env_extra={"KURA_LOG_LEVEL": "DEBUG"})
    b = Bench(server, tmp / "scratch")
    try:
        server.start()
        b.rds = server.client("rds")
        result = run(b, args.quick)
    finally:
        for node in b.raw_nodes:
            with contextlib.suppress(Exception):
                node.stop()
        server.stop()  # SIGTERM + stop-all: the postmasters and WAL streamers too
        stop_leftovers(server.home)
        shutil.rmtree(tmp, ignore_errors=True)
    data, summary = report(result, args.quick)
    write_result("backup" + ("_quick" if args.quick else ""), data, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
