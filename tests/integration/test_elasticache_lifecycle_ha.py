"""Replication groups (failover, TestFailover) and snapshots (encrypted RDB, restore) on real Redis.

The ElastiCache handlers for replication groups and snapshots are not written yet, so these tests
write the desired state into the store exactly as those handlers will (records.py is the contract)
and run the real reconcilers in a real control-plane Runtime over real redis-servers.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from kura.config import Settings
from kura.control import registry
from kura.control.elasticache import catalog_publisher, nodes
from kura.control.runtime import Runtime
from kura.env import Env
from kura.server import build_env
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP, KIND_SNAPSHOT
from kura.store.types import Resource
from tests.integration.test_elasticache_lifecycle import redis_pids, stop_redis, wait_for

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no redis-server installed")
R = "ap-northeast-1"
NODE = "cache.t3.micro"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    settings = Settings(home=tmp_path / "home")
    settings.paths.ensure()
    built, _ = build_env(settings)
    registry.load_all()
    catalog_publisher.publish(built.store)
    runtime = Runtime(built, [r for r in registry.all_reconcilers() if r.kind.startswith("elasticache.")])
    runtime.start()
    try:
        yield built
    finally:
        runtime.stop()
        stop_redis(settings.paths.home)


def get(env: Env, kind: str, ident: str) -> Resource | None:
    return env.store.get(kind, R, ident)


def make_group(env: Env, name: str, count: int, **extra: Any) -> Resource:
    """What CreateReplicationGroup writes: the group and its member cache clusters."""
    members = [f"{name}-{n:03d}" for n in range(1, count + 1)]
    env.store.create(KIND_REPLICATION_GROUP, R, name, {
        "ReplicationGroupId": name, "members": members, "AutomaticFailoverEnabled": True,
        "CacheNodeType": NODE, "EngineVersion": "7.0", "desired": "available", "failover_seq": 0, **extra})
    for n, member in enumerate(members):
        env.store.create(KIND_CACHE_CLUSTER, R, member, {
            "CacheClusterId": member, "ReplicationGroupId": name, "CacheNodeType": NODE,
            "EngineVersion": "7.0", "desired": "available", "reboot_seq": 0,
            "role": "primary" if n == 0 else "replica", **extra})
    wait_for(lambda: status(env, KIND_REPLICATION_GROUP, name).get("state") == "available",
             30, f"group {name} available")
    group = get(env, KIND_REPLICATION_GROUP, name)
    assert group is not None
    wait_for(lambda: len(status(env, KIND_REPLICATION_GROUP, name).get("in_sync") or [])
             == count - 1, 10, "replicas in sync")
    return group


def status(env: Env, kind: str, ident: str) -> dict[str, Any]:
    found = get(env, kind, ident)
    return found.status if found is not None else {}


def client(endpoint: dict[str, Any], timeout: float = 1.0) -> redis.Redis:
    return redis.Redis(host=endpoint["address"], port=int(endpoint["port"]), socket_timeout=timeout,
                       socket_connect_timeout=timeout)


def role(env: Env, member: str) -> str:
    found = get(env, KIND_CACHE_CLUSTER, member)
    assert found is not None
    return str(client({"address": found.status["address"], "port": 6379}).info("replication")["role"])


def test_kill9_of_the_primary_moves_the_endpoint_and_loses_no_acknowledged_write(env: Env) -> None:
    group = make_group(env, "ha", 2)
    primary_ep, reader_ep = group.status["primary_endpoint"], group.status["reader_endpoint"]
    writer = client(primary_ep)
    acked = []
    for n in range(300):
        writer.set(f"key{n}", n)
        if writer.wait(1, 1000) >= 1:
            acked.append(f"key{n}")
    assert len(acked) == 300
    wait_for(lambda: client(reader_ep).get("key299") == b"299", 5, "the reader endpoint to see the write")
    assert client(reader_ep).info("replication")["role"] == "slave"
    old = str(group.status["primary"])
    os.kill(redis_pids(env.settings.paths.home)[old], signal.SIGKILL)
    killed = time.monotonic()

    def writable() -> bool:
        try:
            return bool(client(primary_ep, 0.3).set("after-failover", "1"))
        except redis.RedisError:
            return False

    wait_for(writable, 5, "the primary endpoint to accept writes again")
    took = time.monotonic() - killed
    assert took < 5, took
    survivor = client(primary_ep)
    assert [k for k in acked if survivor.get(k) is None] == []
    wait_for(lambda: role(env, old) == "slave", 20, "the old primary to come back as a replica")
    after = get(env, KIND_REPLICATION_GROUP, "ha")
    assert after is not None and after.status["primary"] != old
    messages = [e.message for e in env.store.events(R, source_id="ha")]
    assert any(m.startswith(f"Failover from master node {old} to replica node") for m in messages)


def test_test_failover_is_planned_and_keeps_every_key(env: Env) -> None:
    group = make_group(env, "tf", 3)
    writer = client(group.status["primary_endpoint"])
    for n in range(500):
        writer.set(f"k{n}", n)
    old = str(group.status["primary"])
    current = get(env, KIND_REPLICATION_GROUP, "tf")
    assert current is not None
    env.store.update(current, spec={**current.spec, "failover_seq": 1})
    wait_for(lambda: status(env, KIND_REPLICATION_GROUP, "tf").get("failover_seq") == 1, 10,
             "TestFailover")
    after = get(env, KIND_REPLICATION_GROUP, "tf")
    assert after is not None and after.status["primary"] != old
    writer = client(group.status["primary_endpoint"])
    assert writer.info("replication")["role"] == "master" and writer.dbsize() == 500
    assert writer.set("x", "1")
    assert role(env, old) == "slave"


def test_encrypted_snapshot_restores_every_key(env: Env) -> None:
    group = make_group(env, "snap", 2, AtRestEncryptionEnabled=True)
    writer = client(group.status["primary_endpoint"])
    for n in range(1000):
        writer.set(f"k{n}", n)
    env.store.create(KIND_SNAPSHOT, R, "s1", {"SnapshotName": "s1", "SnapshotSource": "manual",
                                              "ReplicationGroupId": "snap"})
    wait_for(lambda: status(env, KIND_SNAPSHOT, "s1").get("state") == "available", 20,
             "the snapshot")
    snap = get(env, KIND_SNAPSHOT, "s1")
    assert snap is not None and snap.status["encrypted"]
    raw = Path(snap.status["file"]).read_bytes()
    assert b"REDIS" not in raw[:64]  # sealed, not a bare RDB
    env.store.create(KIND_CACHE_CLUSTER, R, "restored", {
        "CacheClusterId": "restored", "CacheNodeType": NODE, "desired": "available", "reboot_seq": 0,
        "SnapshotName": "s1"})
    wait_for(lambda: status(env, KIND_CACHE_CLUSTER, "restored").get("state") == "available",
             20, "the restored cluster")
    restored = get(env, KIND_CACHE_CLUSTER, "restored")
    assert restored is not None
    conn = client({"address": restored.status["address"], "port": 6379})
    assert conn.dbsize() == 1000 and conn.get("k999") == b"999"
    env.store.update(restored, spec={**restored.spec, "desired": "deleted",
                                     "final_snapshot": "restored-final"})
    wait_for(lambda: get(env, KIND_CACHE_CLUSTER, "restored") is None, 20, "the delete")
    final = get(env, KIND_SNAPSHOT, "restored-final")
    assert final is not None and final.status["state"] == "available"
