"""Replication groups through the ElastiCache handlers over a real SQLite store (no control plane: the
tests write the status a reconciler would)."""

from __future__ import annotations

from typing import Any

import pytest

from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP
from tests.unit.test_elasticache_clusters import EC, REGION
from tests.unit.test_elasticache_clusters import _ec as _ec

TOKEN = "a-very-secret-token-123"


def network(ec: EC) -> str:
    subnets, group = ec.network()
    ec("CreateCacheSubnetGroup", CacheSubnetGroupName="redis-subnets", CacheSubnetGroupDescription="r",
       SubnetIds=subnets)
    return group


def create(ec: EC, ident: str = "sessions", **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"ReplicationGroupId": ident, "ReplicationGroupDescription": "sessions",
                              "CacheNodeType": "cache.t3.micro", "Engine": "redis",
                              "CacheSubnetGroupName": "redis-subnets", **extra}
    out: dict[str, Any] = ec("CreateReplicationGroup", **params)["ReplicationGroup"]
    return out


def make_available(ec: EC, ident: str = "sessions") -> None:
    group = ec.store.get(KIND_REPLICATION_GROUP, REGION, ident)
    assert group is not None
    for n, member in enumerate(group.spec["members"]):
        ec.available(member, role="primary" if n == 0 else "replica")
    ec.store.update(group, status={"state": "available", "primary": group.spec["members"][0],
                                   "primary_endpoint": {"address": "127.0.3.1", "port": 6379},
                                   "reader_endpoint": {"address": "127.0.3.2", "port": 6379},
                                   "failover_seq": group.spec.get("failover_seq", 0)})


def test_create_writes_the_group_and_its_members(ec: EC) -> None:
    network(ec)
    group = create(ec, NumCacheClusters=3, AutomaticFailoverEnabled=True, MultiAZEnabled=True,
                   Tags=[{"Key": "team", "Value": "web"}])
    assert group["Status"] == "creating"
    assert group["MemberClusters"] == ["sessions-001", "sessions-002", "sessions-003"]
    assert group["AutomaticFailover"] == "enabling" and group["MultiAZ"] == "enabled"
    assert group["ClusterEnabled"] is False
    primary = ec.store.get(KIND_CACHE_CLUSTER, REGION, "sessions-001")
    replica = ec.store.get(KIND_CACHE_CLUSTER, REGION, "sessions-003")
    assert primary is not None and replica is not None
    assert primary.spec["role"] == "primary" and replica.spec["role"] == "replica"
    assert replica.spec["ReplicationGroupId"] == "sessions"
    assert replica.spec["CacheSubnetGroupName"] == "redis-subnets"
    clusters = ec("DescribeCacheClusters")["CacheClusters"]
    assert {c["CacheClusterId"] for c in clusters} == set(group["MemberClusters"])
    assert ec("DescribeCacheClusters", ShowCacheClustersNotInReplicationGroups=True)["CacheClusters"] == []


def test_replicas_per_node_group_and_describe(ec: EC) -> None:
    network(ec)
    create(ec, ReplicasPerNodeGroup=1)
    make_available(ec)
    group = ec("DescribeReplicationGroups", ReplicationGroupId="sessions")["ReplicationGroups"][0]
    assert group["Status"] == "available" and group["AutomaticFailover"] == "disabled"
    node_group = group["NodeGroups"][0]
    assert node_group["NodeGroupId"] == "0001"
    assert node_group["PrimaryEndpoint"] == {"Address": "127.0.3.1", "Port": 6379}
    assert node_group["ReaderEndpoint"] == {"Address": "127.0.3.2", "Port": 6379}
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in node_group["NodeGroupMembers"]}
    assert roles == {"sessions-001": "primary", "sessions-002": "replica"}


def test_describe_paginates(ec: EC) -> None:
    network(ec)
    for i in range(21):
        create(ec, f"g{i:02d}")
    first = ec("DescribeReplicationGroups", MaxRecords=20)
    assert len(first["ReplicationGroups"]) == 20 and first["Marker"]
    rest = ec("DescribeReplicationGroups", MaxRecords=20, Marker=first["Marker"])
    assert [g["ReplicationGroupId"] for g in rest["ReplicationGroups"]] == ["g20"]
    assert ec.code("DescribeReplicationGroups", ReplicationGroupId="nope") == "ReplicationGroupNotFoundFault"


@pytest.mark.parametrize(("params", "code"), [
    ({"AutomaticFailoverEnabled": True}, "InvalidParameterCombination"),
    ({"NumCacheClusters": 2, "MultiAZEnabled": True}, "InvalidParameterCombination"),
    ({"NumNodeGroups": 2}, "InvalidParameterCombination"),
    ({"NumCacheClusters": 7}, "InvalidParameterValue"),
    ({"NumCacheClusters": 3, "ReplicasPerNodeGroup": 1}, "InvalidParameterCombination"),
    ({"AuthToken": TOKEN}, "InvalidParameterValue"),
    ({"AuthToken": "short", "TransitEncryptionEnabled": True}, "InvalidParameterValue"),
    ({"CacheNodeType": "cache.x9.huge"}, "InvalidParameterValue"),
    ({"PrimaryClusterId": "other"}, "InvalidParameterCombination"),
])
def test_create_refuses_bad_input(ec: EC, params: dict[str, Any], code: str) -> None:
    network(ec)
    base = {"ReplicationGroupId": "bad", "ReplicationGroupDescription": "d",
            "CacheSubnetGroupName": "redis-subnets"}
    assert ec.code("CreateReplicationGroup", **{**base, **params}) == code
    assert ec.store.list(KIND_CACHE_CLUSTER, REGION) == []


def test_duplicate_group_and_member_names(ec: EC) -> None:
    network(ec)
    create(ec)
    assert ec.code("CreateReplicationGroup", ReplicationGroupId="sessions",
                   ReplicationGroupDescription="d") == "ReplicationGroupAlreadyExists"
    ec("CreateCacheCluster", CacheClusterId="taken-001", CacheSubnetGroupName="redis-subnets")
    assert ec.code("CreateReplicationGroup", ReplicationGroupId="taken",
                   ReplicationGroupDescription="d", CacheSubnetGroupName="redis-subnets") \
        == "CacheClusterAlreadyExists"


def test_auth_token_belongs_to_the_group(ec: EC) -> None:
    network(ec)
    group = create(ec, AuthToken=TOKEN, TransitEncryptionEnabled=True, NumCacheClusters=2)
    assert group["AuthTokenEnabled"] is True
    stored = ec.store.get(KIND_REPLICATION_GROUP, REGION, "sessions")
    member = ec.store.get(KIND_CACHE_CLUSTER, REGION, "sessions-002")
    assert stored is not None and member is not None
    assert TOKEN not in str(stored.spec) and stored.spec["auth_token_sealed"]
    assert not member.spec.get("auth_token_sealed") and member.spec["TransitEncryptionEnabled"] is True


def test_modify_replication_group(ec: EC) -> None:
    group_sg = network(ec)
    create(ec, NumCacheClusters=2)
    assert ec.code("ModifyReplicationGroup", ReplicationGroupId="sessions",
                   AutomaticFailoverEnabled=True) == "InvalidReplicationGroupState"
    make_available(ec)
    out = ec("ModifyReplicationGroup", ReplicationGroupId="sessions", AutomaticFailoverEnabled=True,
             CacheNodeType="cache.t3.small", ApplyImmediately=True, SecurityGroupIds=[group_sg],
             SnapshotRetentionLimit=3, SnapshotWindow="02:00-03:00")["ReplicationGroup"]
    assert out["Status"] == "modifying" and out["SnapshotRetentionLimit"] == 3
    member = ec.store.get(KIND_CACHE_CLUSTER, REGION, "sessions-002")
    assert member is not None and member.spec["CacheNodeType"] == "cache.t3.small"
    make_available(ec)
    later = ec("ModifyReplicationGroup", ReplicationGroupId="sessions",
               CacheNodeType="cache.t3.medium")["ReplicationGroup"]
    assert later["PendingModifiedValues"] == {"CacheNodeType": "cache.t3.medium"}
    assert ec.code("ModifyReplicationGroup", ReplicationGroupId="sessions", MultiAZEnabled=True,
                   AutomaticFailoverEnabled=False) == "InvalidParameterCombination"
    assert ec.code("ModifyReplicationGroup", ReplicationGroupId="sessions",
                   CacheParameterGroupName="nope") == "CacheParameterGroupNotFound"
    assert ec.code("ModifyReplicationGroup", ReplicationGroupId="sessions",
                   PrimaryClusterId="other-001") == "InvalidParameterValue"


def test_primary_cluster_id_asks_for_a_planned_failover(ec: EC) -> None:
    network(ec)
    create(ec, NumCacheClusters=2)
    make_available(ec)
    out = ec("ModifyReplicationGroup", ReplicationGroupId="sessions", PrimaryClusterId="sessions-002",
             ApplyImmediately=True)["ReplicationGroup"]
    assert out["Status"] == "modifying"
    stored = ec.store.get(KIND_REPLICATION_GROUP, REGION, "sessions")
    assert stored is not None
    assert stored.spec["failover_seq"] == 1 and stored.spec["failover_target"] == "sessions-002"


def test_test_failover(ec: EC) -> None:
    network(ec)
    create(ec, NumCacheClusters=2)
    make_available(ec)
    assert ec.code("TestFailover", ReplicationGroupId="sessions",
                   NodeGroupId="0001") == "InvalidReplicationGroupState"
    create(ec, "ha", NumCacheClusters=2, AutomaticFailoverEnabled=True)
    assert ec.code("TestFailover", ReplicationGroupId="ha",
                   NodeGroupId="0001") == "InvalidReplicationGroupState"
    make_available(ec, "ha")
    assert ec.code("TestFailover", ReplicationGroupId="ha", NodeGroupId="0002") == "NodeGroupNotFoundFault"
    assert ec.code("TestFailover", ReplicationGroupId="nope", NodeGroupId="0001") \
        == "ReplicationGroupNotFoundFault"
    out = ec("TestFailover", ReplicationGroupId="ha", NodeGroupId="0001")["ReplicationGroup"]
    assert out["Status"] == "modifying"
    assert ec.code("TestFailover", ReplicationGroupId="ha",
                   NodeGroupId="0001") == "TestFailoverNotAvailableFault"


def test_increase_and_decrease_replica_count(ec: EC) -> None:
    network(ec)
    create(ec, NumCacheClusters=2, AutomaticFailoverEnabled=True)
    make_available(ec)
    out = ec("IncreaseReplicaCount", ReplicationGroupId="sessions", NewReplicaCount=3,
             ApplyImmediately=True)["ReplicationGroup"]
    assert out["MemberClusters"] == [f"sessions-00{i}" for i in range(1, 5)]
    added = ec.store.get(KIND_CACHE_CLUSTER, REGION, "sessions-004")
    assert added is not None and added.spec["role"] == "replica"
    make_available(ec)
    assert ec.code("IncreaseReplicaCount", ReplicationGroupId="sessions", NewReplicaCount=2,
                   ApplyImmediately=True) == "InvalidParameterValue"
    assert ec.code("IncreaseReplicaCount", ReplicationGroupId="sessions", NewReplicaCount=6,
                   ApplyImmediately=True) == "NodeQuotaForClusterExceeded"
    assert ec.code("IncreaseReplicaCount", ReplicationGroupId="sessions", NewReplicaCount=4,
                   ApplyImmediately=False) == "InvalidParameterValue"
    out = ec("DecreaseReplicaCount", ReplicationGroupId="sessions", ReplicasToRemove=["sessions-003"],
             ApplyImmediately=True)["ReplicationGroup"]
    assert "sessions-003" not in out["MemberClusters"]
    removed = ec.store.get(KIND_CACHE_CLUSTER, REGION, "sessions-003")
    assert removed is not None and removed.spec["desired"] == "deleted"
    make_available(ec)
    assert ec.code("DecreaseReplicaCount", ReplicationGroupId="sessions", NewReplicaCount=0,
                   ApplyImmediately=True) == "InvalidParameterCombination"
    assert ec.code("DecreaseReplicaCount", ReplicationGroupId="sessions", ReplicasToRemove=["sessions-001"],
                   ApplyImmediately=True) == "InvalidParameterValue"
    assert ec.code("DecreaseReplicaCount", ReplicationGroupId="sessions", ReplicasToRemove=["x-009"],
                   ApplyImmediately=True) == "CacheClusterNotFound"
    out = ec("DecreaseReplicaCount", ReplicationGroupId="sessions", NewReplicaCount=1,
             ApplyImmediately=True)["ReplicationGroup"]
    assert out["MemberClusters"] == ["sessions-001", "sessions-002"]


def test_member_clusters_are_managed_through_the_group(ec: EC) -> None:
    network(ec)
    create(ec, NumCacheClusters=2)
    make_available(ec)
    assert ec.code("DeleteCacheCluster", CacheClusterId="sessions-002") == "InvalidCacheClusterState"


def test_delete_replication_group(ec: EC) -> None:
    network(ec)
    create(ec, NumCacheClusters=2)
    assert ec.code("DeleteReplicationGroup", ReplicationGroupId="sessions") == "InvalidReplicationGroupState"
    make_available(ec)
    out = ec("DeleteReplicationGroup", ReplicationGroupId="sessions")["ReplicationGroup"]
    assert out["Status"] == "deleting"
    for member in ("sessions-001", "sessions-002"):
        res = ec.store.get(KIND_CACHE_CLUSTER, REGION, member)
        assert res is not None and res.spec["desired"] == "deleted"
    assert ec.code("DeleteReplicationGroup", ReplicationGroupId="sessions") == "InvalidReplicationGroupState"
    assert ec.code("DeleteReplicationGroup", ReplicationGroupId="nope") == "ReplicationGroupNotFoundFault"


def test_delete_retaining_the_primary_with_a_final_snapshot(ec: EC) -> None:
    network(ec)
    create(ec, NumCacheClusters=2)
    make_available(ec)
    ec("DeleteReplicationGroup", ReplicationGroupId="sessions", RetainPrimaryCluster=True,
       FinalSnapshotIdentifier="sessions-final")
    group = ec.store.get(KIND_REPLICATION_GROUP, REGION, "sessions")
    primary = ec.store.get(KIND_CACHE_CLUSTER, REGION, "sessions-001")
    assert group is not None and primary is not None
    assert group.spec["final_snapshot"] == "sessions-final" and group.spec["members"] == ["sessions-002"]
    assert "ReplicationGroupId" not in primary.spec and primary.spec["desired"] == "available"
