"""Replication groups, tags and events through the real AWS CLI and boto3 against a real Kura: the API
plane's answers (members becoming available is the reconcilers' work and is not waited on here)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_elasticache_api_seed import ensure_catalogue
from tests.kura_fixture import KuraServer


@pytest.fixture(scope="module")
def subnet_group(kura: KuraServer) -> str:
    ensure_catalogue(kura)
    vpc = kura.aws("ec2", "create-vpc", "--cidr-block", "10.31.0.0/16")["Vpc"]["VpcId"]
    subnets = [kura.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", cidr, "--availability-zone",
                        zone)["Subnet"]["SubnetId"]
               for cidr, zone in (("10.31.1.0/24", "ap-northeast-1a"), ("10.31.2.0/24", "ap-northeast-1c"))]
    kura.aws("elasticache", "create-cache-subnet-group", "--cache-subnet-group-name", "groups-subnets",
             "--cache-subnet-group-description", "replication groups", "--subnet-ids", *subnets)
    return "groups-subnets"


def test_create_and_describe_a_replication_group(kura: KuraServer, subnet_group: str) -> None:
    created = kura.aws("elasticache", "create-replication-group", "--replication-group-id", "api-sessions",
                       "--replication-group-description", "sessions", "--engine", "redis",
                       "--cache-node-type", "cache.t3.micro", "--num-cache-clusters", "2",
                       "--cache-subnet-group-name", subnet_group,
                       "--tags", "Key=Project,Value=AuraTime")["ReplicationGroup"]
    assert created["Status"] == "creating"
    assert created["MemberClusters"] == ["api-sessions-001", "api-sessions-002"]
    assert created["AutomaticFailover"] == "disabled"
    ec = kura.client("elasticache")
    group: dict[str, Any] = ec.describe_replication_groups(
        ReplicationGroupId="api-sessions")["ReplicationGroups"][0]
    assert group["Status"] in ("creating", "available")
    members = {m["CacheClusterId"] for m in group["NodeGroups"][0]["NodeGroupMembers"]}
    assert members == {"api-sessions-001", "api-sessions-002"}
    clusters = ec.describe_cache_clusters()["CacheClusters"]
    assert {c["CacheClusterId"] for c in clusters if c.get("ReplicationGroupId") == "api-sessions"} == members

    refused = kura.aws("elasticache", "test-failover", "--replication-group-id", "api-sessions",
                       "--node-group-id", "0001", check=False)
    assert refused.returncode != 0 and "InvalidReplicationGroupState" in refused.stderr
    with pytest.raises(ec.exceptions.ReplicationGroupAlreadyExistsFault):
        ec.create_replication_group(ReplicationGroupId="api-sessions", ReplicationGroupDescription="again",
                                    CacheSubnetGroupName=subnet_group)
    with pytest.raises(ec.exceptions.InvalidParameterCombinationException):
        ec.create_replication_group(ReplicationGroupId="api-lonely", ReplicationGroupDescription="x",
                                    CacheSubnetGroupName=subnet_group, AutomaticFailoverEnabled=True)
    with pytest.raises(ec.exceptions.ReplicationGroupNotFoundFault):
        ec.test_failover(ReplicationGroupId="api-nope", NodeGroupId="0001")


def test_tags_and_events_through_the_cli(kura: KuraServer, subnet_group: str) -> None:
    kura.aws("elasticache", "create-replication-group", "--replication-group-id", "api-tagged",
             "--replication-group-description", "tagged", "--engine", "redis",
             "--num-cache-clusters", "1", "--cache-subnet-group-name", subnet_group)
    arn = kura.client("elasticache").describe_replication_groups(
        ReplicationGroupId="api-tagged")["ReplicationGroups"][0]["ARN"]
    kura.aws("elasticache", "add-tags-to-resource", "--resource-name", arn,
             "--tags", "Key=team,Value=web", "Key=env,Value=prod")
    kura.aws("elasticache", "remove-tags-from-resource", "--resource-name", arn, "--tag-keys", "env")
    listed = kura.aws("elasticache", "list-tags-for-resource", "--resource-name", arn)
    assert listed["TagList"] == [{"Key": "team", "Value": "web"}]
    missing = kura.aws("elasticache", "list-tags-for-resource", "--resource-name",
                       arn.replace("api-tagged", "api-none"), check=False)
    assert missing.returncode != 0 and "ReplicationGroupNotFoundFault" in missing.stderr

    events = kura.aws("elasticache", "describe-events", "--source-type", "replication-group",
                      "--source-identifier", "api-tagged", "--duration", "60")["Events"]
    assert [e["Message"] for e in events][:1] == ["Replication group creation requested"]
    assert all(e["SourceIdentifier"] == "api-tagged" for e in events)
