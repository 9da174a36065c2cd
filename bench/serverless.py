"""Aurora Serverless v2: capacity that follows the load, and resume from auto-pause.

A real `kura up`, a cluster with one db.serverless writer made with boto3, pgbench through the cluster
endpoint. Measured:
- pgbench select-only TPS with the capacity pinned (MinCapacity = MaxCapacity) at 1 and at 4 ACUs:
  capacity must matter when CPU-bound (one ACU is KURA_ACU_CPU = 0.5 core here);
- a load step at 0.5–8 ACUs: seconds from the start of pgbench to the first capacity increase (the
  kernel's CPU quota of the writer's control group, read back), and from its end to the capacity back
  at the minimum (Kura's default scale-down pace: 15 s of low load, then a step every 2 s);
- MinCapacity 0: seconds from a client's connect to its first query result on a paused writer
  (pausing after 3 s idle here through KURA_SERVERLESS_AUTO_PAUSE_SECONDS; AWS's minimum is 300 s).

    python bench/serverless.py [--quick]
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
from kura.engines import cgroups
from tests.integration.test_rds_lifecycle import PASSWORD, connect, wait_for, wait_status
from tests.kura_fixture import KuraServer

ACU_CPU = 0.5


class Bench:
    def __init__(self, server: KuraServer, quick: bool) -> None:
        self.server, self.quick = server, quick
        self.rds = server.client("rds")
        self.seconds = 3 if quick else 15

    def setup(self) -> None:
        self.rds.create_db_cluster(DBClusterIdentifier="bench", Engine="aurora-postgresql",
                                   MasterUsername="master", MasterUserPassword=PASSWORD, DatabaseName="app",
                                   ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 8})
        self.rds.create_db_instance(DBInstanceIdentifier="bench-1", DBClusterIdentifier="bench",
                                    Engine="aurora-postgresql", DBInstanceClass="db.serverless")
        found = wait_status(self.rds, "bench-1", "available", 180)
        self.group = cgroups.Group(cgroups.support().mode, cgroups.parent_name(self.server.home),
                                   found["DbiResourceId"])
        cluster = self.rds.describe_db_clusters(DBClusterIdentifier="bench")["DBClusters"][0]
        self.target = {"Endpoint": {"Address": cluster["Endpoint"], "Port": cluster["Port"]}}
        self.env = {**os.environ, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"}
        tool = str(nodes.engines()[0].tool("pgbench"))
        self.base = [tool, "-h", cluster["Endpoint"], "-p", str(cluster["Port"]), "-U", "master"]
        subprocess.run([*self.base, "-i", "-s", "2" if self.quick else "10", "app"], env=self.env,
                       check=True, capture_output=True)

    def cores(self) -> float:
        return self.group.limits()[0] if self.group.exists() else 0.0

    def capacity(self, low: float, high: float) -> None:
        self.rds.modify_db_cluster(DBClusterIdentifier="bench", ApplyImmediately=True,
                                   ServerlessV2ScalingConfiguration={"MinCapacity": low, "MaxCapacity": high})

    def pgbench(self, seconds: int) -> subprocess.Popen[str]:
        return subprocess.Popen([*self.base, "-S", "-c", "4", "-j", "2", "-T", str(seconds), "app"],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def tps_at(self, acu: float) -> float:
        self.capacity(acu, acu)
        wait_for(lambda: self.cores() == acu * ACU_CPU, 30, f"{acu} ACU")
        out, _ = self.pgbench(self.seconds).communicate()
        line = next(x for x in out.splitlines() if x.startswith("tps"))
        return float(line.split()[2])

    def load_step(self) -> dict[str, float]:
        self.capacity(0.5, 8)
        wait_for(lambda: self.cores() == 0.5 * ACU_CPU, 120, "the minimum")
        time.sleep(2)
        load, started = self.pgbench(self.seconds), time.monotonic()
        up = wait_for(lambda: self.cores() > 0.5 * ACU_CPU and time.monotonic() - started, 30, "a rise")
        peak = 0.0
        while load.poll() is None:
            peak = max(peak, self.cores() / ACU_CPU)
            time.sleep(0.1)
        ended = time.monotonic()
        down = wait_for(lambda: self.cores() == 0.5 * ACU_CPU and time.monotonic() - ended, 180,
                        "the minimum")
        return {"to_first_increase_s": round(up, 2), "peak_acu": peak, "back_to_minimum_s": round(down, 2)}

    def pauses(self) -> int:
        found = self.rds.describe_events(SourceType="db-instance", SourceIdentifier="bench-1",
                                         Duration=60)["Events"]
        return sum("is paused" in e["Message"] for e in found)

    def resumes(self, trials: int) -> list[float]:
        self.capacity(0, 2)
        took = []
        for trial in range(trials):
            wait_for(lambda n=trial: self.pauses() > n, 60, "the pause")
            time.sleep(0.5)
            started = time.monotonic()
            with connect(self.target) as conn:
                conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()
            took.append(time.monotonic() - started)
        return took


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if not cgroups.support().enforced:
        reason = cgroups.support().reason
        write_result("serverless_quick" if args.quick else "serverless", {"skipped": reason},
                     f"serverless: skipped, {reason}")
        return 0
    extra = {"KURA_ACU_CPU": str(ACU_CPU), "KURA_SERVERLESS_AUTO_PAUSE_SECONDS": "3",
             "KURA_RDS_POLL_SECONDS": "5"}  # Kura's default poll
    if args.quick:
        extra.update(KURA_SERVERLESS_DOWN_AFTER="3", KURA_SERVERLESS_DOWN_EVERY="1")
    with bench_kura("sls", **extra) as server:
        bench = Bench(server, args.quick)
        bench.setup()
        tps = {"1": bench.tps_at(1), "4": bench.tps_at(4)}
        step = bench.load_step()
        resumed = bench.resumes(1 if args.quick else 5)
        result: dict[str, Any] = {
            "acu_cpu": ACU_CPU, "pgbench_seconds": bench.seconds, "select_only_tps_at_acu": tps,
            "tps_ratio_4_to_1": round(tps["4"] / tps["1"], 2), "load_step": step,
            "resume_to_first_query_s": [round(x, 3) for x in resumed],
            "resume_p50_s": round(percentile(resumed, 50), 3), "goal_resume_s": 1.0,
            "goal_scale_up_s": 2.0}
        summary = (f"serverless: TPS {tps['1']:.0f} at 1 ACU vs {tps['4']:.0f} at 4 ACU "
                   f"(x{result['tps_ratio_4_to_1']}); load step → first increase "
                   f"{step['to_first_increase_s']} s, "
                   f"peak {step['peak_acu']:g} ACU, back at minimum {step['back_to_minimum_s']} s after; "
                   f"resume from pause to first query p50 {result['resume_p50_s']} s")
        write_result("serverless_quick" if args.quick else "serverless", result, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
