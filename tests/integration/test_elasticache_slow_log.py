"""ElastiCache slow log delivery to CloudWatch Logs: a really slow command (a Lua busy loop) on a real
redis-server shows up in the configured log group, in ElastiCache's JSON and text formats, read back with
the real AWS CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.integration.test_elasticache_lifecycle import (
    delete,
    endpoint,
    pytestmark,  # noqa: F401 (skips the module without Redis)
    running,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

GROUP = "/kura/elasticache/slow-log"
SLOW = "local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end return i"  # tens of milliseconds


@pytest.fixture(scope="module")
def ec_kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("slowlog") / "home") as server:
        yield server


def delivery(log_format: str, enabled: bool = True) -> list[dict[str, Any]]:
    return [{"LogType": "slow-log", "DestinationType": "cloudwatch-logs", "LogFormat": log_format,
             "DestinationDetails": {"CloudWatchLogsDetails": {"LogGroup": GROUP}}, "Enabled": enabled}]


def events(server: KuraServer, pattern: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.aws("logs", "filter-log-events", "--log-group-name", GROUP,
                                             "--filter-pattern", pattern)["events"]
    return found


def test_slow_commands_reach_cloudwatch_logs(ec_kura: KuraServer) -> None:
    ec = ec_kura.client("elasticache")
    ec.create_cache_cluster(CacheClusterId="slow", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1, LogDeliveryConfigurations=delivery("json"))
    cluster = wait_status(ec_kura, "slow", "available")
    shown = cluster["LogDeliveryConfigurations"]
    assert [(c["LogType"], c["Status"], c["LogFormat"]) for c in shown] == [("slow-log", "active", "json")]
    conn = redis.Redis(*endpoint(cluster), client_name="checkout-api")
    conn.set("cart:42", "apples")  # fast: not in the slow log
    conn.eval(SLOW, 0, 3_000_000)
    time.sleep(1.5)  # read every second
    found = events(ec_kura, '{ $.Command = "EVAL*" }')
    assert len(found) == 1 and found[0]["logStreamName"] == "slow-0001-slow-log"
    entry = json.loads(found[0]["message"])
    assert entry["CacheClusterId"] == "slow" and entry["CacheNodeId"] == "0001"
    assert entry["Command"] == "EVAL ... (3 more arguments)"  # the values are never shown
    assert entry["Duration (us)"] > 10_000 and entry["ClientName"] == "checkout-api"
    assert abs(entry["Timestamp"] * 1000 - found[0]["timestamp"]) == 0

    ec.modify_cache_cluster(CacheClusterId="slow", ApplyImmediately=True,
                            LogDeliveryConfigurations=delivery("text"))
    time.sleep(1.2)  # the reader sees the new format
    conn.eval(SLOW, 0, 3_000_001)
    text = wait_for(lambda: [e for e in events(ec_kura, '"EVAL ... (3 more arguments)"')
                             if not e["message"].startswith("{")], 10, "the text entry")
    fields = text[0]["message"].split(",")
    assert fields[:2] == ["slow", "0001"] and fields[4] == "EVAL ... (3 more arguments)"
    assert fields[6] == "checkout-api" and int(fields[3]) > 10_000

    ec.modify_cache_cluster(CacheClusterId="slow", ApplyImmediately=True,
                            LogDeliveryConfigurations=delivery("text", enabled=False))
    assert describe_deliveries(ec_kura) == []
    conn.close()
    delete(ec_kura, "slow")


def describe_deliveries(server: KuraServer) -> list[dict[str, Any]]:
    found = server.client("elasticache").describe_cache_clusters(CacheClusterId="slow")["CacheClusters"][0]
    return list(found["LogDeliveryConfigurations"])
