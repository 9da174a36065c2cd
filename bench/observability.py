"""Observability: what the metrics collector costs per DB instance, and GetMetricStatistics over a day of
one-second data.

1. Collector cost. N DB instances (db.t3.micro, no backups) on one Kura; over a window of W seconds the
   collector's own thread CPU time (kura_metrics_collector_cpu_seconds_total on /metrics: the thread's
   clock, so nothing else in Kura counts), the CPU of the PostgreSQL backends that answer its statement
   (its sessions are application_name 'kura-metrics'; /proc/<pid>/schedstat of each, in ns), and the
   whole Kura process's CPU
   for context. Goal: at most 2 % of one core for 20 instances — the per-instance figure times 20 is
   reported beside the measured one.
2. GetMetricStatistics latency over 24 h of one-second data: 86,400 datapoints of a custom metric
   published with PutMetricData (StorageResolution 1, 1,000 a call, timestamps over the last 24 hours;
   --quick writes them into the running Kura's series file instead, which takes seconds, not tens),
   then boto3 GetMetricStatistics over the whole day at Period 60 (1,440 datapoints: the minute rollups)
   and Period 3600 (24), with the basic statistics and with p99, each timed R times. The datapoint
   counts are checked (every value counted once).

PI sampling overhead is measured by bench/pi_overhead.py.

    python bench/observability.py [--quick] [--instances N] [--window SECONDS]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_kura, summary_ms, write_result
from kura.metrics import series
from kura.metrics.rds import APPLICATION
from tests.kura_fixture import KuraServer

PASSWORD = "bench-password-1"
TICK = os.sysconf("SC_CLK_TCK")
DAY = 86_400


def _scrape(server: KuraServer) -> dict[str, float]:
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("kura_metrics_collector_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def _cpu(pid: int, threads: bool = False) -> float:
    """CPU seconds of a process: a single-threaded one's run time in ns from schedstat (clock ticks would
    round the short bursts of a backend answering one statement a second), else (every thread of Kura)
    utime + stime."""
    try:
        if not threads:
            return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, IndexError, ValueError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _collector_backends(instances: list[dict[str, Any]]) -> list[int]:
    pids = []
    for inst in instances:
        ep = inst["Endpoint"]
        with psycopg.connect(host=ep["Address"], port=ep["Port"], user="bench", password=PASSWORD,
                             dbname="bench", sslmode="require", connect_timeout=10, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                (APPLICATION,)).fetchall()
            pids += [int(r[0]) for r in rows]
    return pids


def _wait_available(rds: Any, ident: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inst = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        if inst["DBInstanceStatus"] == "available":
            return dict(inst)
        time.sleep(0.5)
    raise TimeoutError(ident)


def collector_cost(server: KuraServer, count: int, window: float) -> dict[str, Any]:
    rds = server.client("rds")
    for i in range(count):
        rds.create_db_instance(DBInstanceIdentifier=f"obs-{i}", Engine="postgres",
                               DBInstanceClass="db.t3.micro", MasterUsername="bench",
                               MasterUserPassword=PASSWORD, AllocatedStorage=20, DBName="bench",
                               BackupRetentionPeriod=0)
    instances = [_wait_available(rds, f"obs-{i}") for i in range(count)]
    deadline = time.monotonic() + 60
    while _scrape(server).get("kura_metrics_collector_db_instances", 0) < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the collector does not measure every instance")
        time.sleep(0.5)
    time.sleep(3)  # connections made, statements prepared
    backends = _collector_backends(instances)
    kura_pid = server.proc.pid if server.proc else 0
    before, wall = _scrape(server), time.monotonic()
    kura_before, pg_before = _cpu(kura_pid, threads=True), sum(_cpu(p) for p in backends)
    time.sleep(window)
    after, elapsed = _scrape(server), time.monotonic() - wall
    kura_cpu, pg_cpu = _cpu(kura_pid, threads=True) - kura_before, sum(_cpu(p) for p in backends) - pg_before
    cpu, count_ticks = "kura_metrics_collector_cpu_seconds_total", "kura_metrics_collector_ticks_total"
    thread, ticks = after[cpu] - before[cpu], after[count_ticks] - before[count_ticks]
    per_core = 100.0 * thread / elapsed
    with_pg = 100.0 * (thread + pg_cpu) / elapsed
    return {"instances": count, "window_s": round(elapsed, 2), "ticks": ticks,
            "collector_thread_cpu_s": round(thread, 4),
            "collector_core_percent": round(per_core, 3),
            "collector_core_percent_per_instance": round(per_core / count, 4),
            "collector_backends": len(backends), "collector_backends_cpu_s": round(pg_cpu, 3),
            "with_backends_core_percent": round(with_pg, 3),
            # linear: it overstates from a few instances (a tick's fixed cost is counted per instance)
            "with_backends_core_percent_for_20_linear": round(with_pg / count * 20, 3),
            "kura_process_core_percent": round(100.0 * kura_cpu / elapsed, 3),
            "last_tick_ms": round(1000 * after.get("kura_metrics_collector_last_tick_seconds", 0), 3),
            "goal_20_instances_percent": 2.0}


def _load_day(server: KuraServer, start: int, direct: bool) -> float:
    """86,400 one-second datapoints from `start`: PutMetricData, or straight into the running Kura's series
    file (the quick run: the store takes the same write lock as Kura, so every point counts once)."""
    began = time.perf_counter()
    dims = {"Service": "api"}
    if direct:
        store = series.Series(server.home / "metrics.db")
        for first in range(0, DAY, 5000):
            store.add(series.Datum("Bench/Observability", "Latency", dims, "Milliseconds", start + i,
                                   server.region, 1.0, v, v, v, ((v, 1.0),))
                      for i in range(first, min(DAY, first + 5000)) for v in [float((start + i) % 97)])
        store.close()
        return time.perf_counter() - began
    cw = server.client("cloudwatch")
    for first in range(0, DAY, 1000):
        cw.put_metric_data(Namespace="Bench/Observability", MetricData=[
            {"MetricName": "Latency", "Dimensions": [{"Name": "Service", "Value": "api"}],
             "Unit": "Milliseconds", "Value": float((start + i) % 97), "Timestamp": start + i,
             "StorageResolution": 1}
            for i in range(first, min(DAY, first + 1000))])
    return time.perf_counter() - began


def statistics_latency(server: KuraServer, reps: int, direct: bool) -> dict[str, Any]:
    cw = server.client("cloudwatch")
    now = int(time.time())
    start = now - DAY
    put_s = _load_day(server, start, direct)
    out: dict[str, Any] = {"datapoints": DAY, "loaded_by": "series store" if direct else "PutMetricData",
                           "load_s": round(put_s, 2)}
    for period in (60, 3600):
        for label, kwargs in (("basic", {"Statistics": ["Average", "Maximum", "SampleCount"]}),
                              ("p99", {"ExtendedStatistics": ["p99"]})):
            samples, points = [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                points = cw.get_metric_statistics(
                    Namespace="Bench/Observability", MetricName="Latency",
                    Dimensions=[{"Name": "Service", "Value": "api"}], StartTime=start, EndTime=now,
                    Period=period, **kwargs)["Datapoints"]
                samples.append(time.perf_counter() - t0)
            entry: dict[str, Any] = {**summary_ms(samples), "datapoints": len(points)}
            if label == "basic":
                entry["sample_count"] = sum(p["SampleCount"] for p in points)
            out[f"period_{period}_{label}"] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--instances", type=int)
    parser.add_argument("--window", type=float)
    args = parser.parse_args()
    count = args.instances or (2 if args.quick else 20)
    window = args.window or (8.0 if args.quick else 60.0)
    reps = 3 if args.quick else 30
    with bench_kura("obs", KURA_RDS_POLL_SECONDS="5") as server:  # Kura's default poll
        cost = collector_cost(server, count, window)
        latency = statistics_latency(server, reps, direct=args.quick)
    name = "observability_quick" if args.quick else "observability"
    summary = (f"observability: collector {cost['collector_core_percent']:.2f} % of a core for "
               f"{count} instances ({cost['collector_core_percent_per_instance']:.3f} %/instance; with its "
               f"PostgreSQL sessions {cost['with_backends_core_percent']:.2f} %; goal for 20: 2 %); "
               f"GetMetricStatistics over 24 h of 1-s data p50 "
               f"{latency['period_60_basic']['p50_ms']:.1f} ms at 60 s "
               f"({latency['period_60_basic']['datapoints']} points), "
               f"{latency['period_3600_basic']['p50_ms']:.1f} ms at 3600 s, p99 statistic "
               f"{latency['period_60_p99']['p50_ms']:.1f} / {latency['period_3600_p99']['p50_ms']:.1f} ms")
    write_result(name, {"args": {"instances": count, "window_s": window, "reps": reps}, "collector": cost,
                        "get_metric_statistics": latency}, summary)


if __name__ == "__main__":
    main()
