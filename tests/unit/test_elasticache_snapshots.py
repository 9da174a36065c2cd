"""Snapshots through the ElastiCache handlers over a real SQLite store (statuses written as the snapshot
reconciler would)."""

from __future__ import annotations

from typing import Any

from kura.services.elasticache.records import KIND_SNAPSHOT
from tests.unit.test_elasticache_clusters import EC, REGION
from tests.unit.test_elasticache_clusters import _ec as _ec
from tests.unit.test_elasticache_groups import create, make_available, network


def taken(ec: EC, name: str, size: int = 2 * 1048576, cluster: str | None = None) -> None:
    res = ec.store.get(KIND_SNAPSHOT, REGION, name)
    assert res is not None
    extra: dict[str, Any] = {"cluster": cluster} if cluster else {}
    ec.store.update(res, status={"state": "available", "file": f"/tmp/{name}.rdb", "size": size,
                                 "created": 1700000000.0, **extra})


def cluster(ec: EC, ident: str = "cache") -> None:
    ec("CreateCacheCluster", CacheClusterId=ident, CacheSubnetGroupName="redis-subnets",
       CacheNodeType="cache.t3.small")
    ec.available(ident)


def test_snapshot_of_a_cache_cluster(ec: EC) -> None:
    network(ec)
    cluster(ec)
    snap = ec("CreateSnapshot", CacheClusterId="cache", SnapshotName="before-upgrade",
              Tags=[{"Key": "why", "Value": "upgrade"}])["Snapshot"]
    assert snap["SnapshotStatus"] == "creating" and snap["SnapshotSource"] == "manual"
    assert snap["CacheClusterId"] == "cache" and snap["CacheNodeType"] == "cache.t3.small"
    assert snap["NodeSnapshots"][0]["CacheClusterId"] == "cache"
    taken(ec, "before-upgrade")
    found = ec("DescribeSnapshots", SnapshotName="before-upgrade")["Snapshots"][0]
    assert found["SnapshotStatus"] == "available"
    assert found["NodeSnapshots"][0]["CacheSize"] == "2.0 MB"
    assert found["NodeSnapshots"][0]["SnapshotCreateTime"] == 1700000000.0
    assert found["ARN"].endswith(":snapshot:before-upgrade")


def test_snapshot_of_a_replication_group_is_of_its_primary(ec: EC) -> None:
    network(ec)
    create(ec, NumCacheClusters=2)
    assert ec.code("CreateSnapshot", ReplicationGroupId="sessions",
                   SnapshotName="s1") == "InvalidReplicationGroupState"
    make_available(ec)
    snap = ec("CreateSnapshot", ReplicationGroupId="sessions", SnapshotName="s1")["Snapshot"]
    assert snap["ReplicationGroupId"] == "sessions" and "CacheClusterId" not in snap
    stored = ec.store.get(KIND_SNAPSHOT, REGION, "s1")
    assert stored is not None and "CacheClusterId" not in stored.spec  # the reconciler takes the primary
    taken(ec, "s1", cluster="sessions-001")
    assert [s["SnapshotName"] for s in ec("DescribeSnapshots", ReplicationGroupId="sessions")["Snapshots"]] \
        == ["s1"]
    assert [s["SnapshotName"] for s in ec("DescribeSnapshots", CacheClusterId="sessions-001")["Snapshots"]] \
        == ["s1"]


def test_create_snapshot_errors(ec: EC) -> None:
    network(ec)
    ec("CreateCacheCluster", CacheClusterId="cache", CacheSubnetGroupName="redis-subnets")
    assert ec.code("CreateSnapshot", CacheClusterId="cache", SnapshotName="s") == "InvalidCacheClusterState"
    ec.available("cache")
    assert ec.code("CreateSnapshot", SnapshotName="s") == "InvalidParameterCombination"
    assert ec.code("CreateSnapshot", CacheClusterId="cache", ReplicationGroupId="g",
                   SnapshotName="s") == "InvalidParameterCombination"
    assert ec.code("CreateSnapshot", CacheClusterId="nope", SnapshotName="s") == "CacheClusterNotFound"
    assert ec.code("CreateSnapshot", ReplicationGroupId="nope", SnapshotName="s") \
        == "ReplicationGroupNotFoundFault"
    assert ec.code("CreateSnapshot", CacheClusterId="cache", SnapshotName="-bad") == "InvalidParameterValue"
    ec("CreateSnapshot", CacheClusterId="cache", SnapshotName="s")
    assert ec.code("CreateSnapshot", CacheClusterId="cache", SnapshotName="s") == "SnapshotAlreadyExistsFault"


def test_describe_filters_and_pages(ec: EC) -> None:
    network(ec)
    cluster(ec)
    for i in range(21):
        ec("CreateSnapshot", CacheClusterId="cache", SnapshotName=f"s{i:02d}")
    ec.store.create(KIND_SNAPSHOT, REGION, "automatic.cache-2026-01-01-03-00",
                    {"SnapshotName": "automatic.cache-2026-01-01-03-00", "SnapshotSource": "automated",
                     "CacheClusterId": "cache"}, {"state": "available"})
    first = ec("DescribeSnapshots", MaxRecords=20)
    assert len(first["Snapshots"]) == 20 and first["Marker"]
    rest = ec("DescribeSnapshots", MaxRecords=20, Marker=first["Marker"])["Snapshots"]
    assert len(rest) == 2
    system = ec("DescribeSnapshots", SnapshotSource="system")["Snapshots"]
    assert [s["SnapshotSource"] for s in system] == ["automated"]
    assert len(ec("DescribeSnapshots", SnapshotSource="user")["Snapshots"]) == 21
    assert ec.code("DescribeSnapshots", SnapshotSource="other") == "InvalidParameterValue"
    assert ec.code("DescribeSnapshots", SnapshotName="nope") == "SnapshotNotFoundFault"
    assert ec.code("DescribeSnapshots", CacheClusterId="nope") == "CacheClusterNotFound"


def test_copy_snapshot(ec: EC) -> None:
    network(ec)
    cluster(ec)
    ec("CreateSnapshot", CacheClusterId="cache", SnapshotName="orig")
    assert ec.code("CopySnapshot", SourceSnapshotName="orig",
                   TargetSnapshotName="copy") == "InvalidSnapshotState"
    taken(ec, "orig")
    copy = ec("CopySnapshot", SourceSnapshotName="orig", TargetSnapshotName="copy")["Snapshot"]
    assert copy["SnapshotName"] == "copy" and copy["SnapshotStatus"] == "creating"
    stored = ec.store.get(KIND_SNAPSHOT, REGION, "copy")
    assert stored is not None and stored.spec["copy_of"] == "orig"
    assert ec.code("CopySnapshot", SourceSnapshotName="orig", TargetSnapshotName="copy") \
        == "SnapshotAlreadyExistsFault"
    assert ec.code("CopySnapshot", SourceSnapshotName="nope",
                   TargetSnapshotName="c2") == "SnapshotNotFoundFault"
    assert ec.code("CopySnapshot", SourceSnapshotName="orig", TargetSnapshotName="c3",
                   TargetBucket="my-bucket") == "InvalidParameterCombination"


def test_delete_snapshot(ec: EC) -> None:
    network(ec)
    cluster(ec)
    ec("CreateSnapshot", CacheClusterId="cache", SnapshotName="mine")
    assert ec.code("DeleteSnapshot", SnapshotName="mine") == "InvalidSnapshotState"
    taken(ec, "mine")
    out = ec("DeleteSnapshot", SnapshotName="mine")["Snapshot"]
    assert out["SnapshotStatus"] == "deleting"
    assert ec.code("DeleteSnapshot", SnapshotName="mine") == "InvalidSnapshotState"
    ec.store.create(KIND_SNAPSHOT, REGION, "automatic.x",
                    {"SnapshotName": "automatic.x", "SnapshotSource": "automated"}, {"state": "available"})
    assert ec.code("DeleteSnapshot", SnapshotName="automatic.x") == "InvalidSnapshotState"
    assert ec.code("DeleteSnapshot", SnapshotName="nope") == "SnapshotNotFoundFault"


def test_restore_from_a_snapshot_name(ec: EC) -> None:
    network(ec)
    cluster(ec)
    ec("CreateSnapshot", CacheClusterId="cache", SnapshotName="seed")
    assert ec.code("CreateCacheCluster", CacheClusterId="restored", CacheSubnetGroupName="redis-subnets",
                   SnapshotName="seed") == "InvalidSnapshotState"
    taken(ec, "seed")
    create(ec, "restored", NumCacheClusters=2, SnapshotName="seed")
    primary = ec("DescribeCacheClusters", CacheClusterId="restored-001")["CacheClusters"][0]
    assert primary["ReplicationGroupId"] == "restored"
    replica = ec.store.get("elasticache.cache-cluster", REGION, "restored-002")
    first = ec.store.get("elasticache.cache-cluster", REGION, "restored-001")
    assert first is not None and first.spec["SnapshotName"] == "seed"
    assert replica is not None and "SnapshotName" not in replica.spec  # replicas sync from the primary
