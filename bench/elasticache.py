"""ElastiCache: create-cache-cluster → available, redis-benchmark through the endpoint vs directly, failover.

- create → available: a real `kura up`, boto3 CreateCacheCluster, DescribeCacheClusters polled every
  20 ms until `available` (goal ≤ 1 s p50);
- redis-benchmark -t get,set through an endpoint vs directly against the server, in the same run,
  interleaved (goal ≥ 0.9). Endpoints are the server's own listening addresses (no proxy: the primary
  endpoint of a replication group is an extra `bind` address of the primary's redis-server), so a node
  endpoint *is* the server's address; the comparison made is the group's PrimaryEndpoint against the
  primary's own node address — the same process on two addresses, expected ≈ 1.0;
- failover: kill -9 of a replication group's primary → first SET accepted again at the PrimaryEndpoint,
  p50 over N trials (goal ≤ 5 s); the group made with boto3 CreateReplicationGroup, its primary found
  with DescribeReplicationGroups (NodeGroupMembers CurrentRole), each trial waiting for the old primary to
  be back as a replica before the next.

    python bench/elasticache.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import percentile, write_result
from tests.integration.test_elasticache_lifecycle import ensure_catalogue, redis_pids, stop_redis, wait_for
from tests.integration.test_elasticache_lifecycle_ha import (
    create_group,
    describe_group,
    in_sync,
    member_endpoint,
    primary_of,
    wait_group,
)
from tests.kura_fixture import KuraServer, free_port

SETTLE = 1.2  # > 2 HA cycles of kura/control/elasticache/group.py (HA_SECONDS = 0.5)


def create_to_available(server: KuraServer, runs: int) -> list[float]:
    ec = server.client("elasticache")
    samples = []
    for n in range(runs):
        ident = f"bench-{n}"
        t0 = time.perf_counter()
        ec.create_cache_cluster(CacheClusterId=ident, Engine="redis", CacheNodeType="cache.t3.micro",
                                NumCacheNodes=1)
        wait_for(functools.partial(_available, ec, ident), 30, ident, interval=0.02)
        samples.append(time.perf_counter() - t0)
        ec.delete_cache_cluster(CacheClusterId=ident)
    return samples


def _available(ec: Any, ident: str) -> bool:
    return bool(ec.describe_cache_clusters(CacheClusterId=ident)["CacheClusters"][0]["CacheClusterStatus"]
                == "available")


def benchmark(ep: dict[str, Any], requests: int) -> dict[str, float]:
    out = subprocess.run(["redis-benchmark", "-h", str(ep["Address"]), "-p", str(ep["Port"]), "-t", "get,set",
                          "-n", str(requests), "-c", "50", "-q"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    found = {m.group(1).lower(): float(m.group(2))
             for m in re.finditer(r"^(GET|SET): ([\d.]+) requests per second", out.replace("\r", "\n"), re.M)}
    return found


def failover_once(server: KuraServer, name: str) -> float:
    wait_for(lambda: in_sync(describe_group(server, name), 1), 30, "replicas in sync")
    time.sleep(SETTLE)  # the group's HA cycle records the replica as in sync (only those are promoted)
    group = wait_group(server, name, lambda g: g["Status"] == "available", 30, "the group available")
    old = primary_of(group)
    ep = group["NodeGroups"][0]["PrimaryEndpoint"]
    os.kill(redis_pids(server.home)[old], signal.SIGKILL)
    t0 = time.perf_counter()

    def writable() -> bool:
        try:
            conn = redis.Redis(host=ep["Address"], port=int(ep["Port"]), socket_timeout=0.3,
                               socket_connect_timeout=0.3)
            return bool(conn.set("f", 1))
        except redis.RedisError:
            return False

    wait_for(writable, 30, "the primary endpoint", interval=0.01)
    took = time.perf_counter() - t0
    wait_group(server, name, lambda g: _replica_again(g, old), 30, "the old primary to rejoin as a replica")
    return took


def _replica_again(group: dict[str, Any], member: str) -> bool:
    if group["Status"] != "available" or primary_of(group) == member:
        return False
    try:
        ep = member_endpoint(group, member)
        info = redis.Redis(host=ep["Address"], port=int(ep["Port"]), socket_timeout=0.5).info("replication")
        return bool(info["role"] == "slave")
    except (redis.RedisError, StopIteration, KeyError):
        return False


def group_runs(server: KuraServer, trials: int, requests: int,
               rounds: int) -> tuple[list[float], dict[str, Any]]:
    group = create_group(server, "bench", 2)
    primary_ep = group["NodeGroups"][0]["PrimaryEndpoint"]
    node_ep = member_endpoint(group, primary_of(group))
    via: list[dict[str, float]] = []
    direct: list[dict[str, float]] = []
    for n in range(rounds):  # interleaved, in alternating order, so that a noisy moment favours neither side
        for ep, into in ((primary_ep, via), (node_ep, direct))[:: 1 if n % 2 == 0 else -1]:
            into.append(benchmark(ep, requests))
    rates: dict[str, Any] = {op: {"endpoint_rps": max(v[op] for v in via),
                                  "direct_rps": max(d[op] for d in direct)} for op in ("get", "set")}
    for op in rates:
        rates[op]["ratio"] = round(rates[op]["endpoint_rps"] / rates[op]["direct_rps"], 3)
    return [failover_once(server, "bench") for _ in range(trials)], rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run for CI")
    args = parser.parse_args()
    runs, trials, requests, rounds = (3, 3, 50000, 4) if args.quick else (10, 10, 100000, 4)
    tmp = Path(tempfile.mkdtemp(prefix="kura-bench-ec-"))
    home = tmp / "home"
    home.mkdir()
    server = KuraServer(home=home, port=free_port())
    try:
        server.start()
        ensure_catalogue(server)
        create = create_to_available(server, runs)
        failovers, rates = group_runs(server, trials, requests, rounds)
    finally:
        server.stop()  # SIGTERM + stop-all: the redis-servers too
        stop_redis(home)
        shutil.rmtree(tmp, ignore_errors=True)
    create_p50, failover_p50 = percentile(create, 50), percentile(failovers, 50)
    ratio = min(rates["get"]["ratio"], rates["set"]["ratio"])
    goals = {"create_p50_le_1s": create_p50 <= 1.0, "endpoint_ratio_ge_0_9": ratio >= 0.9,
             "failover_p50_le_5s": failover_p50 <= 5.0}
    summary = (f"elasticache: create→available p50 {create_p50:.2f}s, endpoint/direct GET "
               f"{rates['get']['ratio']:.2f} SET {rates['set']['ratio']:.2f} (same process: bind design), "
               f"failover p50 {failover_p50:.2f}s over {trials}")
    write_result("elasticache" + ("_quick" if args.quick else ""), {
        "runs": runs, "create_to_available_s": [round(s, 3) for s in create],
        "create_p50_s": round(create_p50, 3),
        "redis_benchmark": rates, "failover_s": [round(s, 3) for s in failovers],
        "failover_p50_s": round(failover_p50, 3), "goals": goals,
        "notes": "all through boto3 against a real `kura up`; endpoints are the servers' own bind addresses "
                 "(no proxy); failover = kill -9 of the primary → first SET accepted at the PrimaryEndpoint"},
        summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
