"""Read replica lag under a pgbench write load on the source (goal: p95 < 1 s).

A real `kura up`, a source and a read replica made with boto3; pgbench (TPC-B-like, writes) runs on the
source while the source's pg_stat_replication.replay_lag for the replica is sampled every 0.2 s as the
master user (a pg_monitor member through rds_superuser) — the time from a commit on the source to its
replay on the replica, which is what RDS for PostgreSQL reports as ReplicaLag.

    python bench/replica_lag.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_kura, percentile, write_result
from kura.control.rds import nodes
from tests.integration.test_rds_lifecycle import (
    PASSWORD,
    connect,
    create,
    describe,
    wait_status,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds, scale = (5, 2) if args.quick else (30, 10)
    with bench_kura("lag") as server:
        rds = server.client("rds")
        create(rds, "lag-src", BackupRetentionPeriod=1, DBInstanceClass="db.m5.large")
        src = wait_status(rds, "lag-src", "available", 120)
        ep = src["Endpoint"]
        env = {**os.environ, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"}
        tool = str(nodes.engines()[0].tool("pgbench"))
        base = [tool, "-h", ep["Address"], "-p", str(ep["Port"]), "-U", "master"]
        subprocess.run([*base, "-i", "-s", str(scale), "app"], env=env, check=True, capture_output=True)
        rds.create_db_instance_read_replica(DBInstanceIdentifier="lag-rep", DBInstanceClass="db.m5.large",
                                            SourceDBInstanceIdentifier="lag-src")
        wait_status(rds, "lag-rep", "available", 300)
        load = subprocess.Popen([*base, "-c", "2", "-j", "2", "-T", str(seconds), "app"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lags: list[float] = []
        with connect(describe(rds, "lag-src")) as conn:
            while load.poll() is None:
                row = conn.execute("SELECT COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8 FROM "
                                   "pg_stat_replication WHERE application_name = 'lag-rep'").fetchone()
                if row is not None:
                    lags.append(float(row[0]))
                time.sleep(0.2)
        out, _ = load.communicate()
        tps = next((line for line in out.splitlines() if line.startswith("tps")), "")
        result: dict[str, Any] = {
            "seconds": seconds, "scale": scale, "samples": len(lags), "pgbench": tps,
            "lag_p50_s": round(percentile(lags, 50), 4), "lag_p95_s": round(percentile(lags, 95), 4),
            "lag_max_s": round(max(lags), 4) if lags else None, "goal_p95_s": 1.0}
        summary = (f"replica_lag: p50 {result['lag_p50_s']} s, p95 {result['lag_p95_s']} s, max "
                   f"{result['lag_max_s']} s under pgbench ({tps.strip()}) for {seconds} s")
        write_result("replica_lag_quick" if args.quick else "replica_lag", result, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
