"""Seed 000 section 3.1–3.3 verbatim through the real AWS CLI against a real Kura: the API plane only.

Nodes becoming `available` is the reconcilers' work and is not waited on here. When the control plane
has not published the Redis catalogue yet, the test publishes the installed redis-server's version.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from kura.services.elasticache.records import CATALOG_KEY
from kura.store.sqlite import SqliteStore
from tests.kura_fixture import KuraServer


def ensure_catalogue(kura: KuraServer) -> None:
    ec = kura.client("elasticache")
    if ec.describe_cache_engine_versions(Engine="redis")["CacheEngineVersions"]:
        return
    try:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        pytest.skip("redis-server is not installed on this host")
    version = re.search(r"v=(\d+\.\d+\.\d+)", out)
    assert version, out
    major = int(version.group(1).split(".")[0])
    params = [{"name": "maxmemory-policy", "value": "volatile-lru", "data_type": "string",
               "allowed_values": "volatile-lru,allkeys-lru,noeviction", "is_modifiable": True,
               "change_type": "immediate", "description": "eviction", "minimum_engine_version": "7.0.0"}]
    store = SqliteStore(kura.home / "state.db")
    try:
        store.set_value(CATALOG_KEY, [{"version": version.group(1), "major": major, "family": f"redis{major}",
                                       "parameters": params}])
    finally:
        store.close()


@pytest.fixture(scope="module")
def network(kura: KuraServer) -> dict[str, str]:
    vpc = kura.aws("ec2", "create-vpc", "--cidr-block", "10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = {name: kura.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", cidr,
                              "--availability-zone", zone)["Subnet"]["SubnetId"]
               for name, cidr, zone in (("PRIVATE_SUBNET_1A", "10.30.11.0/24", "ap-northeast-1a"),
                                        ("PRIVATE_SUBNET_1C", "10.30.12.0/24", "ap-northeast-1c"))}
    group = kura.aws("ec2", "create-security-group", "--group-name", "auratime-redis-sg", "--description",
                     "Redis", "--vpc-id", vpc)["GroupId"]
    return {"REDIS_SG": group, **subnets}


def test_seed_000_section_3(kura: KuraServer, network: dict[str, str]) -> None:
    ensure_catalogue(kura)
    kura.aws("elasticache", "create-cache-subnet-group",
             "--cache-subnet-group-name", "auratime-redis-subnet-group",
             "--cache-subnet-group-description", "Subnet group for AuraTime Redis",
             "--subnet-ids", network["PRIVATE_SUBNET_1A"], network["PRIVATE_SUBNET_1C"],
             "--tags", "Key=Name,Value=auratime-redis-subnet-group", "Key=Project,Value=AuraTime")
    kura.aws("elasticache", "create-cache-parameter-group",
             "--cache-parameter-group-name", "auratime-redis7",
             "--cache-parameter-group-family", "redis7.x",
             "--description", "Custom parameter group for AuraTime Redis 7.2",
             "--tags", "Key=Name,Value=auratime-redis7", "Key=Project,Value=AuraTime")
    args = ["elasticache", "create-cache-cluster", "--cache-cluster-id", "auratime-redis",
            "--cache-node-type", "cache.t3.micro", "--engine", "redis", "--engine-version", "7.2",
            "--num-cache-nodes", "1", "--cache-subnet-group-name", "auratime-redis-subnet-group",
            "--security-group-ids", network["REDIS_SG"], "--preferred-maintenance-window",
            "sun:04:00-sun:05:00", "--snapshot-retention-limit", "7", "--automated-snapshot-window",
            "03:00-04:00", "--tags", "Key=Name,Value=auratime-redis", "Key=Project,Value=AuraTime",
            "--query", "CacheCluster.CacheClusterId", "--output", "text"]
    # The seed's `--automated-snapshot-window` is no option of the AWS CLI: the CLI itself refuses it
    # before any request is sent (as it does against AWS). The API's member is SnapshotWindow.
    refused = kura.aws(*args, check=False)
    assert refused.returncode == 255 and "Unknown options: --automated-snapshot-window" in refused.stderr
    args[args.index("--automated-snapshot-window")] = "--snapshot-window"
    cluster_id = kura.aws(*args)
    assert cluster_id == "auratime-redis"
    ec = kura.client("elasticache")
    cluster: dict[str, Any] = ec.describe_cache_clusters(CacheClusterId="auratime-redis",
                                                         ShowCacheNodeInfo=True)["CacheClusters"][0]
    assert cluster["CacheClusterStatus"] in ("creating", "available")
    assert cluster["SnapshotRetentionLimit"] == 7 and cluster["SnapshotWindow"] == "03:00-04:00"
    assert cluster["SecurityGroups"] == [{"SecurityGroupId": network["REDIS_SG"], "Status": "active"}]


def test_error_codes(kura: KuraServer, network: dict[str, str]) -> None:
    ensure_catalogue(kura)
    ec = kura.client("elasticache")
    with pytest.raises(ec.exceptions.CacheClusterNotFoundFault):
        ec.describe_cache_clusters(CacheClusterId="no-such-cluster")
    with pytest.raises(ec.exceptions.CacheSubnetGroupNotFoundFault):
        ec.create_cache_cluster(CacheClusterId="c-err", Engine="redis", CacheNodeType="cache.t3.micro",
                                NumCacheNodes=1, CacheSubnetGroupName="nope")
    with pytest.raises(ec.exceptions.InvalidParameterValueException):
        ec.create_cache_cluster(CacheClusterId="c-err", Engine="memcached", CacheNodeType="cache.t3.micro",
                                NumCacheNodes=1)
    with pytest.raises(ec.exceptions.CacheParameterGroupNotFoundFault):
        ec.describe_cache_parameters(CacheParameterGroupName="nope")
