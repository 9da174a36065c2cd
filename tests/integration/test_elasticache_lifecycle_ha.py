"""Replication groups (kill -9 failover, TestFailover) and snapshots (restore) on real Redis, through a
real `kura up` and boto3: CreateReplicationGroup → DescribeReplicationGroups `available` → redis-py at the
PrimaryEndpoint / ReaderEndpoint; the primary's redis-server killed; TestFailover; CreateSnapshot →
CreateCacheCluster --snapshot-name.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from kura.control.elasticache import nodes
from tests.integration.test_elasticache_lifecycle import (
    delete,
    endpoint,
    ensure_catalogue,
    make_server,
    redis_pids,
    stop_redis,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no redis-server installed")
NODE = "cache.t3.micro"


@pytest.fixture(scope="module")
def ha_kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    server = make_server(tmp_path_factory.mktemp("elasticache-ha") / "home")
    server.start()
    try:
        ensure_catalogue(server)
        yield server
    finally:
        server.stop()  # SIGTERM + stop-all: the redis-servers too
        stop_redis(server.home)


def describe_group(server: KuraServer, name: str) -> dict[str, Any]:
    ec = server.client("elasticache")
    return dict(ec.describe_replication_groups(ReplicationGroupId=name)["ReplicationGroups"][0])


def roles(group: dict[str, Any]) -> dict[str, str]:
    return {m["CacheClusterId"]: m["CurrentRole"] for m in group["NodeGroups"][0]["NodeGroupMembers"]}


def primary_of(group: dict[str, Any]) -> str:
    found = [ident for ident, role in roles(group).items() if role == "primary"]
    assert len(found) == 1, roles(group)
    return found[0]


def conn(ep: dict[str, Any], timeout: float = 1.0) -> redis.Redis:
    return redis.Redis(host=ep["Address"], port=int(ep["Port"]), socket_timeout=timeout,
                       socket_connect_timeout=timeout)


def in_sync(group: dict[str, Any], replicas: int) -> bool:
    """The primary (as the PrimaryEndpoint answers) sees `replicas` replicas online."""
    try:
        info = conn(group["NodeGroups"][0]["PrimaryEndpoint"]).info("replication")
    except redis.RedisError:
        return False
    online = [k for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
              and v.get("state") == "online"]
    return info.get("role") == "master" and len(online) >= replicas


def wait_group(server: KuraServer, name: str, ok: Callable[[dict[str, Any]], bool], timeout: float,
               what: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        group = describe_group(server, name)
        return group if ok(group) else None

    return dict(wait_for(found, timeout, what))


def member_endpoint(group: dict[str, Any], member: str) -> dict[str, Any]:
    return dict(next(m["ReadEndpoint"] for m in group["NodeGroups"][0]["NodeGroupMembers"]
                     if m["CacheClusterId"] == member))


def create_group(server: KuraServer, name: str, count: int, **extra: Any) -> dict[str, Any]:
    server.client("elasticache").create_replication_group(
        ReplicationGroupId=name, ReplicationGroupDescription=f"{name} test", Engine="redis",
        CacheNodeType=NODE, NumCacheClusters=count, AutomaticFailoverEnabled=True, **extra)
    group = wait_group(server, name, lambda g: g["Status"] == "available", 40, f"group {name} available")
    wait_for(lambda: in_sync(describe_group(server, name), count - 1), 15, f"{name}: replicas in sync")
    time.sleep(1.2)  # > 2 HA cycles (group.py HA_SECONDS): the group records them in sync, promotable
    return group


def delete_group(server: KuraServer, name: str) -> None:
    ec = server.client("elasticache")
    ec.delete_replication_group(ReplicationGroupId=name)
    wait_for(lambda: not [g for g in ec.describe_replication_groups()["ReplicationGroups"]
                          if g["ReplicationGroupId"] == name], 30, f"{name} to be deleted")


def test_kill9_of_the_primary_moves_the_endpoint_and_loses_no_acknowledged_write(ha_kura: KuraServer) -> None:
    group = create_group(ha_kura, "ha", 2)
    node_group = group["NodeGroups"][0]
    primary_ep, reader_ep = node_group["PrimaryEndpoint"], node_group["ReaderEndpoint"]
    writer = conn(primary_ep)
    acked = []
    for n in range(300):
        writer.set(f"key{n}", n)
        if writer.wait(1, 1000) >= 1:
            acked.append(f"key{n}")
    assert len(acked) == 300
    wait_for(lambda: conn(reader_ep).get("key299") == b"299", 5, "the reader endpoint to see the write")
    assert conn(reader_ep).info("replication")["role"] == "slave"
    old = primary_of(group)
    os.kill(redis_pids(ha_kura.home)[old], signal.SIGKILL)
    killed = time.monotonic()

    def writable() -> bool:
        try:
            return bool(conn(primary_ep, 0.3).set("after-failover", "1"))
        except redis.RedisError:
            return False

    wait_for(writable, 5, "the primary endpoint to accept writes again", interval=0.02)
    took = time.monotonic() - killed
    assert took < 5, took
    survivor = conn(primary_ep)
    assert [k for k in acked if survivor.get(k) is None] == []
    after = wait_group(ha_kura, "ha", lambda g: roles(g).get(old) == "replica" and g["Status"] == "available",
                       20, "the old primary to come back as a replica")
    assert primary_of(after) != old
    old_ep = member_endpoint(after, old)
    wait_for(lambda: conn(old_ep).info("replication")["role"] == "slave", 10, "the old primary a replica")
    events = ha_kura.client("elasticache").describe_events(
        SourceIdentifier="ha", SourceType="replication-group", Duration=60)["Events"]
    assert any(e["Message"].startswith(f"Failover from master node {old} to replica node") for e in events), \
        [e["Message"] for e in events]
    delete_group(ha_kura, "ha")


def test_test_failover_keeps_every_key_and_swaps_roles(ha_kura: KuraServer) -> None:
    group = create_group(ha_kura, "tf", 2)
    primary_ep = group["NodeGroups"][0]["PrimaryEndpoint"]
    writer = conn(primary_ep)
    for n in range(500):
        writer.set(f"k{n}", n)
    assert writer.wait(1, 2000) >= 1
    old = primary_of(group)
    ha_kura.client("elasticache").test_failover(ReplicationGroupId="tf", NodeGroupId="0001")
    after = wait_group(ha_kura, "tf", lambda g: g["Status"] == "available" and roles(g).get(old) == "replica",
                       20, "TestFailover to complete")
    assert primary_of(after) != old
    writer = conn(after["NodeGroups"][0]["PrimaryEndpoint"])
    wait_for(lambda: writer.info("replication")["role"] == "master", 5, "the endpoint on the new master")
    assert writer.dbsize() == 500 and writer.get("k499") == b"499"
    assert writer.set("x", "1")
    old_ep = member_endpoint(after, old)
    wait_for(lambda: conn(old_ep).info("replication")["role"] == "slave", 10, "the old primary a replica")
    delete_group(ha_kura, "tf")


def test_snapshot_of_a_group_restores_every_key(ha_kura: KuraServer) -> None:
    ec = ha_kura.client("elasticache")
    group = create_group(ha_kura, "snap", 2, AtRestEncryptionEnabled=True)
    writer = conn(group["NodeGroups"][0]["PrimaryEndpoint"])
    for n in range(1000):
        writer.set(f"k{n}", n)
    ec.create_snapshot(ReplicationGroupId="snap", SnapshotName="s1")
    snap = wait_for(lambda: (lambda s: s if s["SnapshotStatus"] == "available" else None)(
        ec.describe_snapshots(SnapshotName="s1")["Snapshots"][0]), 30, "the snapshot to be available")
    assert snap["ReplicationGroupId"] == "snap"
    ec.create_cache_cluster(CacheClusterId="restored", Engine="redis", CacheNodeType=NODE, NumCacheNodes=1,
                            SnapshotName="s1")
    restored = conn(dict(zip(("Address", "Port"), endpoint(wait_status(ha_kura, "restored", "available", 30)),
                             strict=True)))
    assert restored.dbsize() == 1000
    assert [n for n in range(1000) if restored.get(f"k{n}") != str(n).encode()] == []
    delete(ha_kura, "restored")
    delete_group(ha_kura, "snap")
    ec.delete_snapshot(SnapshotName="s1")


def test_a_second_kill9_right_after_the_old_primary_rejoined(ha_kura: KuraServer) -> None:
    group = create_group(ha_kura, "again", 2)
    primary_ep = group["NodeGroups"][0]["PrimaryEndpoint"]
    first = primary_of(group)
    os.kill(redis_pids(ha_kura.home)[first], signal.SIGKILL)

    def rejoined(g: dict[str, Any]) -> bool:
        try:
            return roles(g).get(first) == "replica" and \
                conn(member_endpoint(g, first)).info("replication")["role"] == "slave"
        except redis.RedisError:
            return False

    second = primary_of(wait_group(ha_kura, "again", rejoined, 20, "the old primary back as a replica"))
    writer = conn(primary_ep)
    acked = [n for n in range(60) if writer.set(f"k{n}", n) and writer.wait(1, 1000) >= 1]
    assert len(acked) == 60  # the rejoined replica acknowledges them
    os.kill(redis_pids(ha_kura.home)[second], signal.SIGKILL)
    killed = time.monotonic()

    def writable() -> bool:
        try:
            return bool(conn(primary_ep, 0.3).set("after", "1"))
        except redis.RedisError:
            return False

    try:
        wait_for(writable, 5, "the primary endpoint to accept writes again", interval=0.02)
        assert time.monotonic() - killed < 5
        survivor = conn(primary_ep)
        assert [n for n in acked if survivor.get(f"k{n}") is None] == []
    finally:
        delete_group(ha_kura, "again")
