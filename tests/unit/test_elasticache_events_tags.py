"""DescribeEvents and the tagging operations through the ElastiCache handlers over a real SQLite store."""

from __future__ import annotations

from kura.store.types import Event
from tests.unit.test_elasticache_clusters import ACCOUNT, EC, REGION
from tests.unit.test_elasticache_clusters import _ec as _ec
from tests.unit.test_elasticache_groups import create, make_available, network

ARN = f"arn:aws:elasticache:{REGION}:{ACCOUNT}"


def test_events_by_source_type_and_identifier(ec: EC) -> None:
    network(ec)
    ec("CreateCacheCluster", CacheClusterId="cache", CacheSubnetGroupName="redis-subnets")
    create(ec, NumCacheClusters=2)
    ec.store.add_event(Event(REGION, "db-instance", "rds-one", "an RDS event", (), ec.clock.now()))
    events = ec("DescribeEvents")["Events"]
    assert {(e["SourceType"], e["SourceIdentifier"]) for e in events} >= {
        ("cache-cluster", "cache"), ("replication-group", "sessions"),
        ("cache-subnet-group", "redis-subnets")}
    assert all(e["SourceType"] != "db-instance" for e in events)
    groups = ec("DescribeEvents", SourceType="replication-group")["Events"]
    assert [e["Message"] for e in groups] == ["Replication group creation requested"]
    one = ec("DescribeEvents", SourceType="cache-cluster", SourceIdentifier="CACHE")["Events"]
    assert [e["SourceIdentifier"] for e in one] == ["cache"]
    by_arn = ec("DescribeEvents", SourceType="cache-cluster", SourceIdentifier=f"{ARN}:cluster:cache")
    assert by_arn["Events"] == one
    assert ec.code("DescribeEvents", SourceType="user") == "InvalidParameterValue"


def test_events_time_window_and_pages(ec: EC) -> None:
    network(ec)
    start = ec.clock.now()
    for i in range(25):
        ec("CreateCacheCluster", CacheClusterId=f"c{i:02d}", CacheSubnetGroupName="redis-subnets")
    ec.clock.advance(7200)
    assert ec("DescribeEvents", SourceType="cache-cluster")["Events"] == []  # default: the past hour
    assert len(ec("DescribeEvents", SourceType="cache-cluster", Duration=180, MaxRecords=100)["Events"]) == 25
    first = ec("DescribeEvents", SourceType="cache-cluster", StartTime=start - 1, MaxRecords=20)
    assert len(first["Events"]) == 20 and first["Marker"]
    rest = ec("DescribeEvents", SourceType="cache-cluster", StartTime=start - 1, MaxRecords=20,
              Marker=first["Marker"])
    assert len(rest["Events"]) == 5
    assert ec("DescribeEvents", StartTime=start - 7200, EndTime=start - 3600)["Events"] == []
    assert ec.code("DescribeEvents", StartTime=start, EndTime=start - 10) == "InvalidParameterValue"
    assert ec.code("DescribeEvents", Duration=30000) == "InvalidParameterValue"


def test_tags_on_every_kind(ec: EC) -> None:
    network(ec)
    ec("CreateCacheCluster", CacheClusterId="cache", CacheSubnetGroupName="redis-subnets")
    ec.available("cache")
    create(ec, NumCacheClusters=2)
    make_available(ec)
    ec("CreateCacheParameterGroup", CacheParameterGroupName="custom", CacheParameterGroupFamily="redis7",
       Description="d")
    ec("CreateSnapshot", CacheClusterId="cache", SnapshotName="snap")
    for arn in (f"{ARN}:cluster:cache", f"{ARN}:replicationgroup:sessions", f"{ARN}:parametergroup:custom",
                f"{ARN}:subnetgroup:redis-subnets", f"{ARN}:snapshot:snap"):
        out = ec("AddTagsToResource", ResourceName=arn, Tags=[{"Key": "team", "Value": "web"},
                                                             {"Key": "env", "Value": "prod"}])
        assert out["TagList"] == [{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}]
        out = ec("RemoveTagsFromResource", ResourceName=arn, TagKeys=["env"])
        assert out["TagList"] == [{"Key": "team", "Value": "web"}]
        assert ec("ListTagsForResource", ResourceName=arn)["TagList"] == [{"Key": "team", "Value": "web"}]
    assert ec("ListTagsForResource", ResourceName=f"{ARN}:parametergroup:default.redis7")["TagList"] == []


def test_tag_errors(ec: EC) -> None:
    network(ec)
    ec("CreateCacheCluster", CacheClusterId="cache", CacheSubnetGroupName="redis-subnets")
    cluster = f"{ARN}:cluster:cache"
    assert ec.code("ListTagsForResource", ResourceName="not-an-arn") == "InvalidARN"
    assert ec.code("ListTagsForResource", ResourceName=f"{ARN}:user:bob") == "InvalidARN"
    assert ec.code("ListTagsForResource", ResourceName=cluster.replace(REGION, "us-east-1")) == "InvalidARN"
    assert ec.code("ListTagsForResource", ResourceName=f"{ARN}:cluster:nope") == "CacheClusterNotFound"
    assert ec.code("ListTagsForResource", ResourceName=f"{ARN}:replicationgroup:nope") \
        == "ReplicationGroupNotFoundFault"
    assert ec.code("ListTagsForResource", ResourceName=f"{ARN}:snapshot:nope") == "SnapshotNotFoundFault"
    assert ec.code("ListTagsForResource", ResourceName=f"{ARN}:parametergroup:nope") \
        == "CacheParameterGroupNotFound"
    assert ec.code("ListTagsForResource", ResourceName=f"{ARN}:subnetgroup:nope") \
        == "CacheSubnetGroupNotFoundFault"
    assert ec.code("RemoveTagsFromResource", ResourceName=cluster, TagKeys=["absent"]) == "TagNotFound"
    assert ec.code("AddTagsToResource", ResourceName=cluster,
                   Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]) == "TagQuotaPerResourceExceeded"
    assert ec.code("AddTagsToResource", ResourceName=cluster,
                   Tags=[{"Key": "aws:reserved", "Value": "v"}]) == "InvalidParameterValue"
    assert ec.code("AddTagsToResource", ResourceName=f"{ARN}:parametergroup:default.redis7",
                   Tags=[{"Key": "a", "Value": "b"}]) == "InvalidParameterValue"
