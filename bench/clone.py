"""Aurora fast clones: RestoreDBClusterToPointInTime --restore-type copy-on-write against a full restore
(RestoreType full-copy) of the same cluster, in the same run: time and extra disk.

One Aurora PostgreSQL cluster (boto3 CreateDBCluster, a db.r6g.large writer) holds a pgbench database
(`pgbench -i -s 70` ≈ 1 GiB, generated server-side through the cluster endpoint; --quick: -s 4). Then,
alternated round by round, each restore with UseLatestRestorableTime:

- clone: RestoreType=copy-on-write → the cluster `available` (its volume copied from the running
  writer by the kernel: reflinks where the file system has them, copy_file_range where it has not) →
  CreateDBInstance of its writer → the first query through its cluster endpoint that sees every
  pgbench_accounts row → DescribeDBInstances `available`;
- full copy: RestoreType=full-copy → the same steps; the writer's data is the source writer's automated
  base backup (taken when it was created, before the load) with all the WAL since replayed.

Extra disk: the blocks allocated to the new writer's data directory (st_blocks; a reflinked file's
shared blocks would count in full: no tool sees sharing) and the file system's free space before the
restore and once its writer answers (statvfs: other processes share this disk, so that one is
indicative). Full runs also time `pg_basebackup -D <dir> -X stream -c fast` of the source writer over
its private socket: the other way to copy a running server, through a socket instead of the kernel.

Rounds (full / --quick): 2 / 1 of each, alternated. Everything runs on loopback addresses in one
temporary directory, removed at the end.

    python bench/clone.py [--quick]
"""

from __future__ import annotations

import argparse
import os
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
from kura.engines.postgres import pgproc
from kura.engines.postgres.templates import SUPERUSER
from kura.services.rds.records import KIND_CLUSTER
from kura.store.sqlite import SqliteStore
from tests.integration.test_rds_lifecycle import stop_leftovers
from tests.kura_fixture import KuraServer, free_port

PASSWORD = "bench-password-1"
USER, DB, SOURCE = "bench", "bench", "clone-src"
POLL = 0.1


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = POLL) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(interval)


def allocated(path: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Bench:
    def __init__(self, server: KuraServer) -> None:
        self.server = server
        self.rds: Any = server.client("rds")

    def cluster(self, ident: str) -> dict[str, Any]:
        return dict(self.rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0])

    def instance(self, ident: str) -> dict[str, Any]:
        return dict(self.rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0])

    def available(self, ident: str) -> dict[str, Any] | None:
        inst = self.instance(ident)
        if inst["DBInstanceStatus"] in ("failed", "incompatible-parameters"):
            said = [e["Message"] for e in self.rds.describe_events(SourceIdentifier=ident,
                                                                   SourceType="db-instance")["Events"]]
            raise RuntimeError(f"{ident} is {inst['DBInstanceStatus']}: {said[-3:]}")
        return inst if inst["DBInstanceStatus"] == "available" else None

    def pgdata(self, instance: str) -> Path:
        return self.server.home / "data" / "rds" / self.server.region / instance / "pgdata"

    def connect(self, cluster: dict[str, Any], timeout: int = 5) -> psycopg.Connection[Any]:
        return psycopg.connect(host=cluster["Endpoint"], port=cluster["Port"], user=USER, password=PASSWORD,
                               dbname=DB, sslmode="require", connect_timeout=timeout, autocommit=True)

    def accounts(self, cluster: dict[str, Any]) -> int | None:
        try:
            with self.connect(cluster, 2) as conn:
                return int(conn.execute("SELECT count(*) FROM pgbench_accounts").fetchone()[0])  # type: ignore[index]
        except psycopg.Error:
            return None

    def writer(self, cluster: str) -> None:
        self.rds.create_db_instance(DBInstanceIdentifier=f"{cluster}-w", DBClusterIdentifier=cluster,
                                    Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")

    def drop(self, cluster: str) -> None:
        self.rds.delete_db_instance(DBInstanceIdentifier=f"{cluster}-w")
        wait_for(f"{cluster}'s writer deleted", lambda: not self.cluster(cluster)["DBClusterMembers"], 300,
                 0.5)
        self.rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
        wait_for(f"{cluster} deleted", lambda: all(c["DBClusterIdentifier"] != cluster for c in
                                                   self.rds.describe_db_clusters()["DBClusters"]), 300, 0.5)


def create_source(b: Bench, scale: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    b.rds.create_db_cluster(DBClusterIdentifier=SOURCE, Engine="aurora-postgresql", MasterUsername=USER,
                            MasterUserPassword=PASSWORD, DatabaseName=DB)
    wait_for("the source cluster", lambda: b.cluster(SOURCE)["Status"] == "available", 60)
    b.writer(SOURCE)
    inst = wait_for("the source writer", lambda: b.available(f"{SOURCE}-w"), 300)
    created = time.perf_counter() - t0
    found = b.cluster(SOURCE)
    engine = next(e for e in nodes.engines() if e.version == inst["EngineVersion"])
    env = {**osuser.BASE_ENV, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"}
    t0 = time.perf_counter()
    done = subprocess.run([str(engine.tool("pgbench")), "-h", found["Endpoint"], "-p", str(found["Port"]),
                           "-U", USER, "-i", "-s", str(scale), "-I", "dtGvp", "-q", DB], env=env,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench -i failed: {done.stderr[-2000:]}")
    loaded = time.perf_counter() - t0
    with b.connect(found) as conn:
        size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
    wait_for("a restorable time after the load", lambda: (t := b.cluster(SOURCE).get("LatestRestorableTime"))
             and t.timestamp() > time.time() - 5, 120, 0.5)
    return {"engine": inst["EngineVersion"], "pgbench_scale": scale, "rows": scale * 100000,
            "database_bytes": size, "database_gib": round(size / 2**30, 3), "create_s": round(created, 3),
            "pgbench_init_s": round(loaded, 3), "source_pgdata_allocated_bytes": allocated(b.pgdata(
                f"{SOURCE}-w")), "engine_version": engine.version}


def restore(b: Bench, kind: str, n: int, rows: int, keep: bool) -> dict[str, Any]:
    ident = f"{'clone' if kind == 'copy-on-write' else 'full'}-{n}"
    disk = b.server.home
    before = free_bytes(disk)
    t0 = time.perf_counter()
    b.rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier=ident, SourceDBClusterIdentifier=SOURCE,
                                              RestoreType=kind, UseLatestRestorableTime=True)
    wait_for(f"{ident} available", lambda: b.cluster(ident)["Status"] == "available", 3600)
    cluster_s = time.perf_counter() - t0
    volume = b.server.home / "data" / "rds-volumes" / b.server.region / ident / "pgdata"
    volume_bytes = allocated(volume) if volume.exists() else 0
    b.writer(ident)
    found = b.cluster(ident)
    wait_for(f"{ident}'s first query", lambda: b.accounts(found) == rows, 3600, 0.05)
    first_query_s = time.perf_counter() - t0
    used = before - free_bytes(disk)
    wait_for(f"{ident}-w available", lambda: b.available(f"{ident}-w"), 3600)
    available_s = time.perf_counter() - t0
    out = {"cluster": ident, "cluster_available_s": round(cluster_s, 3),
           "first_query_s": round(first_query_s, 3), "writer_available_s": round(available_s, 3),
           "writer_pgdata_allocated_bytes": allocated(b.pgdata(f"{ident}-w")),
           "volume_allocated_bytes_when_available": volume_bytes,
           "free_space_used_bytes_at_first_query": used}
    store = SqliteStore(b.server.home / "state.db")
    try:
        res = store.get(KIND_CLUSTER, b.server.region, ident)
        if res is not None and res.status.get("volume"):
            out["clone_copy"] = res.status["volume"]
    finally:
        store.close()
    if not keep:  # the next restores get the disk back (a quick run leaves them to Kura's stop)
        b.drop(ident)
    return out


def raw_basebackup(b: Bench, dest: Path) -> dict[str, Any]:
    pf = pgproc.read_pidfile(b.pgdata(f"{SOURCE}-w"))
    assert pf is not None and pf.socket_dir is not None
    engine = next(e for e in nodes.engines() if e.version == b.instance(f"{SOURCE}-w")["EngineVersion"])
    cmd = [str(engine.tool("pg_basebackup")), "-D", str(dest), "-X", "stream", "-c", "fast", "--no-manifest",
           "-d", f"host={pf.socket_dir} port={pf.port} user={SUPERUSER}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=osuser.BASE_ENV, timeout=3600)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"pg_basebackup failed: {done.stderr[-2000:]}")
    size = allocated(dest)
    shutil.rmtree(dest)
    return {"s": round(took, 3), "allocated_bytes": size}


def run(b: Bench, quick: bool, scratch: Path) -> dict[str, Any]:
    scale, rounds = (4, 1) if quick else (70, 2)
    source = create_source(b, scale)
    clones: list[dict[str, Any]] = []
    fulls: list[dict[str, Any]] = []
    for n in range(rounds):
        for kind in ("copy-on-write", "full-copy") if n % 2 == 0 else ("full-copy", "copy-on-write"):
            (clones if kind == "copy-on-write" else fulls).append(restore(b, kind, n, source["rows"], quick))
    raw = None if quick else raw_basebackup(b, scratch / "basebackup")
    return {"source": source, "clone": clones, "full_copy": fulls, "raw_pg_basebackup": raw}


def _p50(runs: list[dict[str, Any]], key: str) -> float:
    return round(percentile([float(r[key]) for r in runs], 50), 3)


def report(r: dict[str, Any], quick: bool) -> tuple[dict[str, Any], str]:
    src, clones, fulls = r["source"], r["clone"], r["full_copy"]
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(Path(tempfile.gettempdir()))], capture_output=True,
                        text=True).stdout.strip()
    methods: dict[str, int] = {}
    for c in clones:
        for name, count in (c.get("clone_copy") or {}).get("methods", {}).items():
            methods[name] = methods.get(name, 0) + int(count)
    mib = 2**20
    stats = {
        "clone_first_query_p50_s": _p50(clones, "first_query_s"),
        "full_copy_first_query_p50_s": _p50(fulls, "first_query_s"),
        "clone_cluster_available_p50_s": _p50(clones, "cluster_available_s"),
        "clone_extra_disk_p50_mib": round(_p50(clones, "writer_pgdata_allocated_bytes") / mib, 1),
        "full_copy_extra_disk_p50_mib": round(_p50(fulls, "writer_pgdata_allocated_bytes") / mib, 1),
    }
    data = {"file_system": fs, "source": src, "clone_runs": clones, "full_copy_runs": fulls,
            "raw_pg_basebackup": r["raw_pg_basebackup"], "clone_copy_methods": methods, **stats,
            "speedup_first_query": round(stats["full_copy_first_query_p50_s"] /
                                         stats["clone_first_query_p50_s"], 2)}
    raw = r["raw_pg_basebackup"]
    summary = (f"clone{' (quick)' if quick else ''}: {src['database_gib']} GiB cluster on {fs}; "
               f"copy-on-write clone available {stats['clone_cluster_available_p50_s']:.2f}s, first query "
               f"{stats['clone_first_query_p50_s']:.2f}s vs full-copy restore "
               f"{stats['full_copy_first_query_p50_s']:.2f}s ({data['speedup_first_query']}x); extra disk "
               f"{stats['clone_extra_disk_p50_mib']} MiB vs {stats['full_copy_extra_disk_p50_mib']} MiB "
               f"(files copied by {', '.join(f'{k} {v}' for k, v in sorted(methods.items()) if v)})"
               + (f"; pg_basebackup of the writer {raw['s']:.2f}s" if raw else ""))
    return data, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run for CI")
    args = parser.parse_args()
    if not nodes.engines():
        print("no PostgreSQL installed", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="kura-bench-clone-"))
    tmp.chmod(0o711)
    (tmp / "home").mkdir()
    (tmp / "scratch").mkdir()
    server = KuraServer(home=tmp / "home", port=free_port(), env_extra={"KURA_RDS_POLL_SECONDS": "0.5"})
    try:
        server.start()
        result = run(Bench(server), args.quick, tmp / "scratch")
    finally:
        server.stop()  # SIGTERM + stop-all: the postmasters and WAL streamers too
        stop_leftovers(server.home)
        shutil.rmtree(tmp, ignore_errors=True)
    data, summary = report(result, args.quick)
    write_result("clone" + ("_quick" if args.quick else ""), data, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
