"""ElastiCache: create-cache-cluster → available, redis-benchmark through the endpoint vs directly, failover.

- create → available: a real `kura up`, boto3 CreateCacheCluster, DescribeCacheClusters polled every
  20 ms until `available` (goal ≤ 1 s p50);
- redis-benchmark -t get,set through an endpoint vs directly against the server, in the same run,
  interleaved (goal ≥ 0.9). Endpoints are the server's own listening addresses (no proxy: the primary
  endpoint of a replication group is an extra `bind` address of the primary's redis-server), so a node
  endpoint *is* the server's address; the comparison made is the group's PrimaryEndpoint against the
  primary's own node address — the same process on two addresses, expected ≈ 1.0;
- failover: kill -9 of a replication group's primary → first SET accepted again at the PrimaryEndpoint,
  p50 over N trials (goal ≤ 5 s). The replication-group API handlers are not written yet, so groups are
  made in the store as those handlers will and driven by the real reconcilers in an in-process Runtime.

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
from kura.config import Settings
from kura.control import registry
from kura.control.elasticache import catalog_publisher
from kura.control.runtime import Runtime
from kura.env import Env
from kura.server import build_env
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP
from tests.integration.test_elasticache_lifecycle import ensure_catalogue, redis_pids, stop_redis, wait_for
from tests.kura_fixture import KuraServer, free_port

R = "ap-northeast-1"


def create_to_available(runs: int, home: Path) -> list[float]:
    server = KuraServer(home=home, port=free_port())
    home.mkdir(parents=True)
    server.start()
    samples = []
    try:
        ensure_catalogue(server)
        ec = server.client("elasticache")
        for n in range(runs):
            ident = f"bench-{n}"
            t0 = time.perf_counter()
            ec.create_cache_cluster(CacheClusterId=ident, Engine="redis", CacheNodeType="cache.t3.micro",
                                    NumCacheNodes=1)
            wait_for(functools.partial(_available, ec, ident), 30, ident, interval=0.02)
            samples.append(time.perf_counter() - t0)
            ec.delete_cache_cluster(CacheClusterId=ident)
    finally:
        server.stop()
        stop_redis(home)
    return samples


def _available(ec: Any, ident: str) -> bool:
    return bool(ec.describe_cache_clusters(CacheClusterId=ident)["CacheClusters"][0]["CacheClusterStatus"]
                == "available")


def benchmark(host: str, requests: int) -> dict[str, float]:
    out = subprocess.run(["redis-benchmark", "-h", host, "-p", "6379", "-t", "get,set", "-n", str(requests),
                          "-c", "50", "-q"], capture_output=True, text=True, check=True, timeout=300).stdout
    found = {m.group(1).lower(): float(m.group(2))
             for m in re.finditer(r"^(GET|SET): ([\d.]+) requests per second", out.replace("\r", "\n"), re.M)}
    return found


def make_group(env: Env, name: str) -> dict[str, Any]:
    members = [f"{name}-001", f"{name}-002"]
    env.store.create(KIND_REPLICATION_GROUP, R, name, {
        "ReplicationGroupId": name, "members": members, "AutomaticFailoverEnabled": True,
        "CacheNodeType": "cache.t3.micro", "desired": "available", "failover_seq": 0})
    for member in members:
        env.store.create(KIND_CACHE_CLUSTER, R, member, {
            "CacheClusterId": member, "ReplicationGroupId": name, "CacheNodeType": "cache.t3.micro",
            "desired": "available", "reboot_seq": 0})
    return dict(wait_for(lambda: _group_ready(env, name), 30, "the replication group"))


def _group_ready(env: Env, name: str) -> dict[str, Any] | None:
    found = env.store.get(KIND_REPLICATION_GROUP, R, name)
    if found is None or found.status.get("state") != "available" or not found.status.get("in_sync"):
        return None
    return found.status


def failover_once(env: Env, name: str) -> float:
    status = dict(wait_for(lambda: _group_ready(env, name), 30, "replicas in sync"))
    primary = env.store.get(KIND_CACHE_CLUSTER, R, str(status["primary"]))
    assert primary is not None
    endpoint = status["primary_endpoint"]["address"]
    os.kill(redis_pids(env.settings.paths.home)[primary.id], signal.SIGKILL)
    t0 = time.perf_counter()

    def writable() -> bool:
        try:
            conn = redis.Redis(host=endpoint, socket_timeout=0.3, socket_connect_timeout=0.3)
            return bool(conn.set("f", 1))
        except redis.RedisError:
            return False

    wait_for(writable, 30, "the primary endpoint", interval=0.01)
    took = time.perf_counter() - t0
    wait_for(lambda: (g := env.store.get(KIND_REPLICATION_GROUP, R, name)) is not None
             and g.status.get("in_sync") == [primary.id], 30, "the old primary to rejoin as a replica")
    return took


def group_runs(trials: int, requests: int, home: Path) -> tuple[list[float], dict[str, Any]]:
    settings = Settings(home=home)
    settings.paths.ensure()
    env, _ = build_env(settings)
    registry.load_all()
    catalog_publisher.publish(env.store)
    runtime = Runtime(env, [r for r in registry.all_reconcilers() if r.kind.startswith("elasticache.")])
    runtime.start()
    try:
        status = make_group(env, "bench")
        primary = env.store.get(KIND_CACHE_CLUSTER, R, str(status["primary"]))
        assert primary is not None
        via, direct = [], []
        for _ in range(2):  # interleaved, so that a noisy moment does not favour one side
            via.append(benchmark(status["primary_endpoint"]["address"], requests))
            direct.append(benchmark(str(primary.status["address"]), requests))
        rates = {op: {"endpoint_rps": max(v[op] for v in via), "direct_rps": max(d[op] for d in direct)}
                 for op in ("get", "set")}
        for op in rates:
            rates[op]["ratio"] = round(rates[op]["endpoint_rps"] / rates[op]["direct_rps"], 3)
        return [failover_once(env, "bench") for _ in range(trials)], rates
    finally:
        runtime.stop()
        stop_redis(home)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run for CI")
    args = parser.parse_args()
    runs, trials, requests = (3, 3, 20000) if args.quick else (10, 10, 100000)
    tmp = Path(tempfile.mkdtemp(prefix="kura-bench-ec-"))
    try:
        create = create_to_available(runs, tmp / "kura")
        failovers, rates = group_runs(trials, requests, tmp / "group")
    finally:
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
        "notes": "endpoints are the servers' own bind addresses (no proxy); failover via in-process Runtime"},
        summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
