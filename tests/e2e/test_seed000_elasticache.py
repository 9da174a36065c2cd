"""Seed 000, section 3 (ElastiCache for Redis) and 4.2, run by bash with the real AWS CLI and redis-cli:
subnet group, parameter group, the cache cluster, its endpoint, then `redis-cli … ping` → PONG.

The seed's commands are embedded character for character (test_embedded_text_is_the_seeds) and run in
one bash, in order. What the test adds around them, and why:
- the prerequisites from 910_AWS環境構築.md (PRIVATE_SUBNET_1A/1C, REDIS_SG) are made through the EC2
  API and exported first;
- the seed's `--automated-snapshot-window` is no option of the AWS CLI, which refuses it before any
  request is sent (test_the_cli_refuses_the_seeds_option): `aws` is a shell function that passes it on
  as `--snapshot-window`, what the seed means (section 6.2 describes it as the snapshot window).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kura.control.elasticache import nodes
from tests.integration.test_elasticache_lifecycle import ensure_catalogue, stop_redis
from tests.kura_fixture import KuraServer, free_port

# Section 3 of seeds/000 as the document has it (3.1 to 3.4), then 4.2, character for character.
S3_1 = """\
# ElastiCache用サブネットグループの作成
aws elasticache create-cache-subnet-group \\
  --cache-subnet-group-name auratime-redis-subnet-group \\
  --cache-subnet-group-description "Subnet group for AuraTime Redis" \\
  --subnet-ids $PRIVATE_SUBNET_1A $PRIVATE_SUBNET_1C \\
  --tags Key=Name,Value=auratime-redis-subnet-group Key=Project,Value=AuraTime
"""
S3_2 = """\
# Redisパラメータグループの作成（必要に応じて）
aws elasticache create-cache-parameter-group \\
  --cache-parameter-group-name auratime-redis7 \\
  --cache-parameter-group-family redis7.x \\
  --description "Custom parameter group for AuraTime Redis 7.2" \\
  --tags Key=Name,Value=auratime-redis7 Key=Project,Value=AuraTime
"""
S3_3 = """\
# ElastiCacheクラスターの作成（クラスターモード無効、シンプル構成）
REDIS_CLUSTER_ID=$(aws elasticache create-cache-cluster \\
  --cache-cluster-id auratime-redis \\
  --cache-node-type cache.t3.micro \\
  --engine redis \\
  --engine-version 7.2 \\
  --num-cache-nodes 1 \\
  --cache-subnet-group-name auratime-redis-subnet-group \\
  --security-group-ids $REDIS_SG \\
  --preferred-maintenance-window sun:04:00-sun:05:00 \\
  --snapshot-retention-limit 7 \\
  --automated-snapshot-window "03:00-04:00" \\
  --tags Key=Name,Value=auratime-redis Key=Project,Value=AuraTime \\
  --query 'CacheCluster.CacheClusterId' \\
  --output text)

echo "Redis Cluster ID: $REDIS_CLUSTER_ID"
"""
S3_4 = """\
# ElastiCacheクラスターが利用可能になるまで待機（約5-10分）
aws elasticache wait cache-cluster-available --cache-cluster-id $REDIS_CLUSTER_ID

# ElastiCacheエンドポイントを取得
REDIS_ENDPOINT=$(aws elasticache describe-cache-clusters \\
  --cache-cluster-id $REDIS_CLUSTER_ID \\
  --show-cache-node-info \\
  --query 'CacheClusters[0].CacheNodes[0].Endpoint.Address' \\
  --output text)

REDIS_PORT=$(aws elasticache describe-cache-clusters \\
  --cache-cluster-id $REDIS_CLUSTER_ID \\
  --show-cache-node-info \\
  --query 'CacheClusters[0].CacheNodes[0].Endpoint.Port' \\
  --output text)

echo "Redis Endpoint: $REDIS_ENDPOINT:$REDIS_PORT"
"""
S4_2 = """\
# Redisへの接続テスト（VPNまたは踏み台サーバー経由）
# redis-cliがインストールされている必要があります
redis-cli -h $REDIS_ENDPOINT -p $REDIS_PORT ping
"""
SECTIONS = (S3_1, S3_2, S3_3, S3_4, S4_2)
SEED = next(iter(sorted(Path(__file__).resolve().parents[3].glob("shared/seeds/000_*.txt"))), None)
REDIS_CLI = shutil.which("redis-cli")

pytestmark = pytest.mark.skipif(not nodes.engines() or REDIS_CLI is None, reason="no redis-server/redis-cli")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KuraServer]:
    kura = KuraServer(home=tmp_path / "home", port=free_port())
    kura.home.mkdir(parents=True)
    kura.start()
    try:
        ensure_catalogue(kura)
        yield kura
    finally:
        kura.stop()
        stop_redis(kura.home)


@pytest.mark.skipif(SEED is None, reason="the seed documents are not next to this checkout")
def test_embedded_text_is_the_seeds() -> None:
    assert SEED is not None
    text = SEED.read_text()
    for block in SECTIONS:
        assert block in text


def _prerequisites(server: KuraServer) -> dict[str, str]:
    """What 910_AWS環境構築.md leaves behind, made through the EC2 API: the VPC, the private subnets,
    the Redis security group."""
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    out = {"VPC_ID": vpc}
    for name, cidr, zone in (("PRIVATE_SUBNET_1A", "10.0.11.0/24", "ap-northeast-1a"),
                             ("PRIVATE_SUBNET_1C", "10.0.12.0/24", "ap-northeast-1c")):
        out[name] = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
    out["REDIS_SG"] = ec2.create_security_group(GroupName="auratime-redis-sg", Description="AuraTime Redis",
                                                VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=out["REDIS_SG"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    return out


# The one correction the seed needs (see the module docstring); everything else reaches the real CLI as is.
AWS_SHIM = """\
aws() {
  local args=() arg
  for arg in "$@"; do
    [[ $arg == --automated-snapshot-window ]] && arg=--snapshot-window
    args+=("$arg")
  done
  command aws "${args[@]}"
}
"""


def _env(server: KuraServer) -> dict[str, str]:
    env = server.env
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this venv's aws
    return env


def test_the_cli_refuses_the_seeds_option(server: KuraServer) -> None:
    proc = subprocess.run(["aws", "elasticache", "create-cache-cluster", "--cache-cluster-id", "x",
                           "--automated-snapshot-window", "03:00-04:00"], env=_env(server),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 255 and "Unknown options: --automated-snapshot-window" in proc.stderr


def test_section_3_then_redis_cli_ping(server: KuraServer) -> None:
    exports = "".join(f"export {k}={v}\n" for k, v in _prerequisites(server).items())
    script = "set -euo pipefail\n" + exports + AWS_SHIM + "".join(SECTIONS)
    proc = subprocess.run(["bash", "-c", script], env=_env(server), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "Redis Cluster ID: auratime-redis" in lines
    assert any(line.startswith("Redis Endpoint: 127.") and line.endswith(":6379") for line in lines)
    assert lines[-1] == "PONG"
    cluster = server.client("elasticache").describe_cache_clusters(
        CacheClusterId="auratime-redis")["CacheClusters"][0]
    assert cluster["SnapshotRetentionLimit"] == 7 and cluster["SnapshotWindow"] == "03:00-04:00"
    assert cluster["PreferredMaintenanceWindow"] == "sun:04:00-sun:05:00"
    assert cluster["CacheParameterGroup"]["CacheParameterGroupName"]
