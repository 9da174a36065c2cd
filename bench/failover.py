"""Multi-AZ failover under write load: kill -9 of the primary's postmaster, N times (goal: RTO p50 ≤ 5 s,
zero acknowledged commits lost, zero connection attempts refused).

A real `kura up`, a Multi-AZ db.m5.large instance made with boto3, and a load of WRITERS clients that
commit continuously through the endpoint (the router), reconnecting after a failure; one of them records
every acknowledged commit. Each trial: wait until the standby is synchronous, kill -9 the primary's
postmaster, and measure
- RTO: the longest time without any acknowledged commit (of any writer) from just before the kill until
  every writer commits again — the last commit acknowledged before the outage → the first after it (the
  killed postmaster's backends may still commit for a moment after the kill);
- lost: acknowledged ids missing from the table afterwards (checked through the endpoint);
- refused: connection attempts that failed during the trial (the router should hold them, not fail);
- resync: kill → the old primary rewound and synchronous again (the next trial waits for it).
The members alternate, so half the trials kill member 1 and half member 2.

    python bench/failover.py [--trials N] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_kura, percentile, write_result
from tests.ha_writer import HaWriter, missing
from tests.integration.test_rds_lifecycle import PASSWORD, connect, describe, wait_for
from tests.integration.test_rds_multiaz import SYNCED, make, primary_pid
from tests.kura_fixture import KuraServer

WRITERS = 4
IDENT = "failover-bench"


def _messages(rds: Any) -> list[str]:
    events = rds.describe_events(SourceIdentifier=IDENT, SourceType="db-instance", Duration=600)["Events"]
    return [e["Message"] for e in events]


def trial(server: KuraServer, rds: Any, writers: list[HaWriter]) -> dict[str, Any]:
    before = len(_messages(rds))
    refused_before = sum(len(w.refused) for w in writers)
    wait_for(lambda: sum(len(w.acked) for w in writers) > 100, 30, "commits before the kill")
    pid = primary_pid(server, IDENT)
    killed = time.time()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: "Multi-AZ instance failover completed" in _messages(rds)[before:], 60, "the failover")
    wait_for(lambda: all(any(t > killed for t in list(w.acked.values())) for w in writers), 60,
             "every writer commits again")
    time.sleep(0.5)
    # the longest stretch without any acknowledged commit from just before the kill until every writer
    # is back (after a kill -9 of the postmaster its backends may still commit for a moment)
    stamps = sorted(t for w in writers for t in list(w.acked.values()) if killed - 1 <= t <= time.time())
    rto = max((b - a for a, b in itertools.pairwise(stamps)), default=float("inf"))
    wait_for(lambda: _messages(rds)[before:].count(SYNCED) > 0, 120, "a synchronous standby again")
    resync = time.time() - killed
    return {"rto_s": round(rto, 3), "resync_s": round(resync, 2), "killed_pid": pid,
            "refused": sum(len(w.refused) for w in writers) - refused_before}


def run(trials: int) -> dict[str, Any]:
    writers: list[HaWriter] = []
    with bench_kura("failover") as server:
        try:
            rds = server.client("rds")
            inst = make(rds, IDENT, DBInstanceClass="db.m5.large")
            ep = inst["Endpoint"]
            with connect(inst) as conn:  # one table per writer: ids are per writer
                for n in range(WRITERS):
                    conn.execute(f"CREATE TABLE ledger{n} (id int PRIMARY KEY)")
            writers = [HaWriter(ep["Address"], int(ep["Port"]), PASSWORD, table=f"ledger{n}")
                       for n in range(WRITERS)]
            for w in writers:
                w.start()
            results = []
            for n in range(trials):
                found = trial(server, rds, writers)
                print(f"trial {n + 1}/{trials}: RTO {found['rto_s']:.2f} s, refused {found['refused']}, "
                      f"synchronous again after {found['resync_s']:.1f} s", flush=True)
                results.append(found)
            for w in writers:
                w.stop()
            lost = 0
            with connect(describe(rds, IDENT)) as conn:
                for n, w in enumerate(writers):
                    present = {r[0] for r in conn.execute(f"SELECT id FROM ledger{n}").fetchall()}
                    lost += len(missing(w, present))
            return {"trials": results, "writers": WRITERS, "class": "db.m5.large",
                    "acknowledged": sum(len(w.acked) for w in writers),
                    "uncertain": sum(len(w.uncertain) for w in writers), "lost": lost,
                    "refused": sum(len(w.refused) for w in writers),
                    "refused_reasons": sorted({r for w in writers for r in w.refused})[:5]}
        finally:
            for w in writers:
                w.stop_at.set()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 trials, result in failover_quick.json")
    args = parser.parse_args()
    trials = 3 if args.quick else args.trials
    found = run(trials)
    rtos = [t["rto_s"] for t in found["trials"]]
    found["rto_s"] = {"p50": percentile(rtos, 50), "p95": percentile(rtos, 95), "max": max(rtos),
                      "mean": round(statistics.fmean(rtos), 3)}
    found["goals"] = {"rto_p50_le_5s": found["rto_s"]["p50"] <= 5, "lost_0": found["lost"] == 0,
                      "refused_0": found["refused"] == 0}
    summary = (f"failover{' (quick)' if args.quick else ''}: {trials} kill -9 of a Multi-AZ primary under "
               f"{WRITERS} writers: RTO p50 {found['rto_s']['p50']:.2f} s, p95 {found['rto_s']['p95']:.2f} s "
               f"(goal p50 ≤ 5 s); {found['acknowledged']} acknowledged commits, {found['lost']} lost; "
               f"{found['refused']} connection attempts refused")
    write_result("failover_quick" if args.quick else "failover", found, summary)
    return 0 if found["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
