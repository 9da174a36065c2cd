"""ElastiCache API plane: handlers called over a real SQLite store, with a small published catalogue."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.ec2
import kura.services.elasticache
import kura.services.kms  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.clock import FakeClock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.elasticache.records import CATALOG_KEY, KIND_CACHE_CLUSTER
from kura.services.registry import Ctx, lookup
from kura.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


def _param(name: str, value: str, data_type: str, allowed: str, change: str = "immediate",
           modifiable: bool = True) -> dict[str, Any]:
    return {"name": name, "value": value, "data_type": data_type, "allowed_values": allowed,
            "is_modifiable": modifiable, "change_type": change, "description": f"{name} setting",
            "minimum_engine_version": "7.0.0"}


# A few of redis-server 7.0.15's `CONFIG GET *`, in ElastiCache's presentation.
CATALOGUE = [{"version": "7.0.15", "major": 7, "family": "redis7", "parameters": [
    _param("maxmemory-policy", "volatile-lru", "string",
           "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,allkeys-random,volatile-ttl,"
           "noeviction"),
    _param("timeout", "0", "integer", "0,20-"),
    _param("tcp-keepalive", "300", "integer", "0-"),
    _param("databases", "16", "integer", "1-1200000", change="requires-reboot"),
    _param("appendonly", "no", "string", "yes,no", modifiable=False),
]}]


class EC:
    def __init__(self, home: Path) -> None:
        self.clock = FakeClock()
        self.store = SqliteStore(home / "state.db", self.clock)
        self.env = Env(self.store, self.clock, Settings(home=home), ACCOUNT, MasterKey(os.urandom(32)))
        self.store.set_value(CATALOG_KEY, CATALOGUE)

    def call(self, service: str, op: str, **params: Any) -> dict[str, Any]:
        handler = lookup(service, op)
        assert handler is not None, op
        return handler(Ctx(self.env, service, op, REGION, "req-1"), params)

    def __call__(self, op: str, **params: Any) -> dict[str, Any]:
        return self.call("elasticache", op, **params)

    def code(self, op: str, **params: Any) -> str:
        with pytest.raises(AwsError) as info:
            self(op, **params)
        return info.value.code

    def network(self) -> tuple[list[str], str]:
        vpc = self.call("ec2", "CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [self.call("ec2", "CreateSubnet", VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                             AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
                   for i, z in ((1, "a"), (2, "c"))]
        group = self.call("ec2", "CreateSecurityGroup", GroupName="redis", Description="redis",
                          VpcId=vpc)["GroupId"]
        return subnets, group

    def available(self, ident: str, **extra: Any) -> None:
        res = self.store.get(KIND_CACHE_CLUSTER, REGION, ident)
        assert res is not None
        applied = {k: res.spec.get(k) for k in ("CacheNodeType", "CacheParameterGroupName", "Port")}
        self.store.update(res, status={"state": "available", "address": "127.0.2.1", "port": 6379,
                                       "reboot_seq": res.spec["reboot_seq"], "applied": applied,
                                       "engine_version": "7.0.15", **extra})


@pytest.fixture(name="ec")
def _ec(tmp_path: Path) -> Iterator[EC]:
    e = EC(tmp_path)
    yield e
    e.store.close()


def seed(ec: EC) -> dict[str, Any]:
    """Seed 000 §3.1–3.3, as the AWS CLI sends them."""
    subnets, group = ec.network()
    ec("CreateCacheSubnetGroup", CacheSubnetGroupName="auratime-redis-subnet-group",
       CacheSubnetGroupDescription="Subnet group for AuraTime Redis", SubnetIds=subnets,
       Tags=[{"Key": "Name", "Value": "auratime-redis-subnet-group"},
             {"Key": "Project", "Value": "AuraTime"}])
    ec("CreateCacheParameterGroup", CacheParameterGroupName="auratime-redis7",
       CacheParameterGroupFamily="redis7.x", Description="Custom parameter group for AuraTime Redis 7.2",
       Tags=[{"Key": "Name", "Value": "auratime-redis7"}])
    out: dict[str, Any] = ec(
        "CreateCacheCluster", CacheClusterId="auratime-redis", CacheNodeType="cache.t3.micro", Engine="redis",
        EngineVersion="7.2", NumCacheNodes=1, CacheSubnetGroupName="auratime-redis-subnet-group",
        SecurityGroupIds=[group], PreferredMaintenanceWindow="sun:04:00-sun:05:00", SnapshotRetentionLimit=7,
        SnapshotWindow="03:00-04:00", Tags=[{"Key": "Name", "Value": "auratime-redis"}])["CacheCluster"]
    return out


def test_seed_000_creates_a_cluster_that_answers_creating(ec: EC) -> None:
    cluster = seed(ec)
    assert cluster["CacheClusterId"] == "auratime-redis"
    assert cluster["CacheClusterStatus"] == "creating"
    assert cluster["EngineVersion"] == "7.2"
    assert cluster["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7"
    assert cluster["SnapshotRetentionLimit"] == 7 and cluster["SnapshotWindow"] == "03:00-04:00"
    assert cluster["PreferredMaintenanceWindow"] == "sun:04:00-sun:05:00"
    assert cluster["ARN"] == f"arn:aws:elasticache:{REGION}:{ACCOUNT}:cluster:auratime-redis"
    spec = ec.store.get(KIND_CACHE_CLUSTER, REGION, "auratime-redis")
    assert spec is not None and spec.spec["Port"] == 6379 and spec.spec["desired"] == "available"


def test_node_info_shows_the_endpoint_once_available(ec: EC) -> None:
    seed(ec)
    shown = ec("DescribeCacheClusters", CacheClusterId="auratime-redis", ShowCacheNodeInfo=True)
    assert "Endpoint" not in shown["CacheClusters"][0]["CacheNodes"][0]
    ec.available("auratime-redis")
    cluster = ec("DescribeCacheClusters", CacheClusterId="auratime-redis",
                 ShowCacheNodeInfo=True)["CacheClusters"][0]
    assert cluster["CacheClusterStatus"] == "available"
    assert cluster["CacheNodes"][0]["Endpoint"] == {"Address": "127.0.2.1", "Port": 6379}
    assert cluster["EngineVersion"] == "7.0.15"


@pytest.mark.parametrize(("params", "code"), [
    ({"Engine": "memcached"}, "InvalidParameterValue"),
    ({"NumCacheNodes": 2}, "InvalidParameterValue"),
    ({"CacheNodeType": "cache.x9.huge"}, "InvalidParameterValue"),
    ({"EngineVersion": "6.2"}, "InvalidParameterValue"),
    ({"CacheSubnetGroupName": "nope"}, "CacheSubnetGroupNotFoundFault"),
    ({"CacheParameterGroupName": "nope"}, "CacheParameterGroupNotFound"),
    ({"AuthToken": "x" * 20}, "InvalidParameterValue"),
    ({"AuthToken": "short", "TransitEncryptionEnabled": True}, "InvalidParameterValue"),
    ({"AuthToken": "has@at-sign-long-enough", "TransitEncryptionEnabled": True}, "InvalidParameterValue"),
    ({"SnapshotName": "missing"}, "SnapshotNotFoundFault"),
    ({"PreferredMaintenanceWindow": "sun:04:00-sun:04:30"}, "InvalidParameterValue"),
])
def test_create_refuses_bad_input(ec: EC, params: dict[str, Any], code: str) -> None:
    base = {"CacheClusterId": "c1", "CacheNodeType": "cache.t3.micro", "Engine": "redis", **params}
    assert ec.code("CreateCacheCluster", **base) == code


def test_duplicate_and_missing(ec: EC) -> None:
    seed(ec)
    assert ec.code("CreateCacheCluster", CacheClusterId="auratime-redis", Engine="redis") == \
        "CacheClusterAlreadyExists"
    assert ec.code("DescribeCacheClusters", CacheClusterId="nope") == "CacheClusterNotFound"


def test_auth_token_is_sealed_never_stored_plain(ec: EC) -> None:
    token = "a-very-secret-token-123"
    cluster = ec("CreateCacheCluster", CacheClusterId="c1", Engine="redis", AuthToken=token,
                 TransitEncryptionEnabled=True)["CacheCluster"]
    assert cluster["AuthTokenEnabled"] is True
    res = ec.store.get(KIND_CACHE_CLUSTER, REGION, "c1")
    assert res is not None and token not in str(res.spec)


def test_modify_reboot_delete_lifecycle(ec: EC) -> None:
    seed(ec)
    assert ec.code("RebootCacheCluster", CacheClusterId="auratime-redis",
                   CacheNodeIdsToReboot=["0001"]) == "InvalidCacheClusterState"
    ec.available("auratime-redis")
    out = ec("ModifyCacheCluster", CacheClusterId="auratime-redis", CacheNodeType="cache.t3.small",
             ApplyImmediately=True)["CacheCluster"]
    assert out["CacheClusterStatus"] == "modifying"
    ec.available("auratime-redis")
    out = ec("ModifyCacheCluster", CacheClusterId="auratime-redis", CacheNodeType="cache.r6g.large")
    assert out["CacheCluster"]["PendingModifiedValues"] == {"CacheNodeType": "cache.r6g.large"}
    out = ec("RebootCacheCluster", CacheClusterId="auratime-redis", CacheNodeIdsToReboot=["0001"])
    assert out["CacheCluster"]["CacheClusterStatus"] == "rebooting cache cluster nodes"
    ec.available("auratime-redis")
    out = ec("DeleteCacheCluster", CacheClusterId="auratime-redis", FinalSnapshotIdentifier="final-1")
    assert out["CacheCluster"]["CacheClusterStatus"] == "deleting"


def test_parameter_groups(ec: EC) -> None:
    seed(ec)
    names = [g["CacheParameterGroupName"] for g in
             ec("DescribeCacheParameterGroups")["CacheParameterGroups"]]
    assert names == ["auratime-redis7", "default.redis7"]
    assert ec.code("ModifyCacheParameterGroup", CacheParameterGroupName="default.redis7",
                   ParameterNameValues=[{"ParameterName": "timeout", "ParameterValue": "30"}]) == \
        "InvalidCacheParameterGroupState"
    for name, value in (("timeout", "abc"), ("maxmemory-policy", "lots"), ("appendonly", "yes"),
                        ("nope", "1")):
        assert ec.code("ModifyCacheParameterGroup", CacheParameterGroupName="auratime-redis7",
                       ParameterNameValues=[{"ParameterName": name, "ParameterValue": value}]) == \
            "InvalidParameterValue", name
    ec("ModifyCacheParameterGroup", CacheParameterGroupName="auratime-redis7",
       ParameterNameValues=[{"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"}])
    user = ec("DescribeCacheParameters", CacheParameterGroupName="auratime-redis7", Source="user")
    assert [(p["ParameterName"], p["ParameterValue"]) for p in user["Parameters"]] == \
        [("maxmemory-policy", "allkeys-lru")]
    ec("ResetCacheParameterGroup", CacheParameterGroupName="auratime-redis7", ResetAllParameters=True)
    assert ec("DescribeCacheParameters", CacheParameterGroupName="auratime-redis7",
              Source="user")["Parameters"] == []
    defaults = ec("DescribeEngineDefaultParameters", CacheParameterGroupFamily="redis7")["EngineDefaults"]
    assert len(defaults["Parameters"]) == 5
    assert ec.code("CreateCacheParameterGroup", CacheParameterGroupName="p6",
                   CacheParameterGroupFamily="redis6.x", Description="d") == "InvalidParameterValue"


def test_subnet_groups(ec: EC) -> None:
    seed(ec)
    group = ec("DescribeCacheSubnetGroups", CacheSubnetGroupName="auratime-redis-subnet-group")
    assert len(group["CacheSubnetGroups"][0]["Subnets"]) == 2
    assert ec.code("DeleteCacheSubnetGroup", CacheSubnetGroupName="auratime-redis-subnet-group") == \
        "CacheSubnetGroupInUse"
    assert ec.code("CreateCacheSubnetGroup", CacheSubnetGroupName="auratime-redis-subnet-group",
                   CacheSubnetGroupDescription="d", SubnetIds=["subnet-00000000"]) == "InvalidSubnet"
