"""Deferred modifications (no ApplyImmediately) wait for the maintenance window and are then applied to
the real redis-servers: a cache cluster's and a replication group's node type reaching `maxmemory`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from kura.control.elasticache import nodes
from tests.integration.test_elasticache_lifecycle import (
    delete,
    describe,
    endpoint,
    running,
    wait_for,
    wait_status,
)
from tests.integration.test_elasticache_lifecycle_ha import delete_group, describe_group, member_endpoint
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no redis-server installed")


def window(hours_from_now: float) -> str:
    """A one-hour `ddd:hh24:mi-ddd:hh24:mi` window starting `hours_from_now` (UTC, as AWS's are)."""
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(hours=hours_from_now)
    end = start + dt.timedelta(hours=1)
    return f"{start:%a}:{start:%H:%M}-{end:%a}:{end:%H:%M}".lower()


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("maintenance") / "home") as server:
        yield server


def maxmemory(ep: tuple[str, int]) -> int:
    return int(str(redis.Redis(host=ep[0], port=ep[1]).config_get("maxmemory")["maxmemory"]))


def test_cache_cluster_node_type_waits_for_the_window(kura: KuraServer) -> None:
    ec = kura.client("elasticache")
    ec.create_cache_cluster(CacheClusterId="maint", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1, PreferredMaintenanceWindow=window(12))
    ep = endpoint(wait_status(kura, "maint", "available"))
    small = maxmemory(ep)
    ec.modify_cache_cluster(CacheClusterId="maint", CacheNodeType="cache.t3.medium", ApplyImmediately=False)
    seen = wait_status(kura, "maint", "available")
    assert seen["CacheNodeType"] == "cache.t3.micro"
    assert seen["PendingModifiedValues"]["CacheNodeType"] == "cache.t3.medium"
    assert maxmemory(ep) == small

    ec.modify_cache_cluster(CacheClusterId="maint", PreferredMaintenanceWindow=window(-0.5))
    done: dict[str, Any] = wait_for(lambda: (lambda c: c if c["CacheNodeType"] == "cache.t3.medium"
                                             and c["CacheClusterStatus"] == "available" else None)(
        describe(kura, "maint")), 30, "the node type applied in the window")
    assert not done["PendingModifiedValues"].get("CacheNodeType")
    wait_for(lambda: maxmemory(ep) > small, 15, "maxmemory of the larger node type")
    events = ec.describe_events(SourceIdentifier="maint", SourceType="cache-cluster")["Events"]
    assert any("maintenance window: CacheNodeType=cache.t3.medium" in e["Message"] for e in events)
    delete(kura, "maint")


def test_replication_group_node_type_reaches_every_member_in_the_window(kura: KuraServer) -> None:
    ec = kura.client("elasticache")
    ec.create_replication_group(ReplicationGroupId="mgroup", ReplicationGroupDescription="maintenance",
                                Engine="redis", CacheNodeType="cache.t3.micro", NumCacheClusters=2,
                                PreferredMaintenanceWindow=window(12))
    group = wait_for(lambda: (lambda g: g if g["Status"] == "available" else None)(
        describe_group(kura, "mgroup")), 40, "group available")
    members = list(group["MemberClusters"])
    eps = {m: member_endpoint(group, m) for m in members}
    small = {m: maxmemory((str(e["Address"]), int(e["Port"]))) for m, e in eps.items()}
    ec.modify_replication_group(ReplicationGroupId="mgroup", CacheNodeType="cache.t3.medium",
                                ApplyImmediately=False)
    for m in members:
        pending = wait_status(kura, m, "available")["PendingModifiedValues"]
        assert pending["CacheNodeType"] == "cache.t3.medium"
    assert describe_group(kura, "mgroup")["CacheNodeType"] == "cache.t3.micro"

    ec.modify_replication_group(ReplicationGroupId="mgroup", PreferredMaintenanceWindow=window(-0.5),
                                ApplyImmediately=True)
    wait_for(lambda: describe_group(kura, "mgroup")["CacheNodeType"] == "cache.t3.medium", 30,
             "group node type applied")
    for m, e in eps.items():
        wait_for(lambda m=m, e=e: maxmemory((str(e["Address"]), int(e["Port"]))) > small[m],  # type: ignore[misc]
                 30, f"{m}: maxmemory of the larger node type")
        assert not wait_status(kura, m, "available")["PendingModifiedValues"].get("CacheNodeType")
    delete_group(kura, "mgroup")
