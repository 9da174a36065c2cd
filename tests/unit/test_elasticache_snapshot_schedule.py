"""Automatic daily snapshots: taken once a day inside SnapshotWindow, kept SnapshotRetentionLimit days,
driven by a fake clock over a real store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kura.control.elasticache.snapshot import schedule
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_SNAPSHOT
from tests.unit.test_elasticache_clusters import EC, REGION

# 2026-11-22 04:30 UTC
DAY_0430 = dt.datetime(2026, 11, 22, 4, 30, tzinfo=dt.UTC).timestamp()


def automated(ec: EC) -> list[str]:
    return sorted(s.id for s in ec.store.list(KIND_SNAPSHOT, REGION)
                  if s.spec.get("SnapshotSource") == "automated")


def taken(ec: EC, name: str) -> None:
    snap = ec.store.get(KIND_SNAPSHOT, REGION, name)
    assert snap is not None
    ec.store.update(snap, status={"state": "available", "created": ec.clock.now()})


def test_one_snapshot_a_day_in_the_window_and_retention(tmp_path: Path) -> None:
    ec = EC(tmp_path)
    ec.clock.advance(DAY_0430 - ec.clock.now())
    ec.store.create(KIND_CACHE_CLUSTER, REGION, "cache", {
        "SnapshotRetentionLimit": 2, "SnapshotWindow": "05:00-06:00", "CacheNodeType": "cache.t3.small",
        "EngineVersion": "7.0"}, {"state": "available"})

    def tick() -> None:
        res = ec.store.get(KIND_CACHE_CLUSTER, REGION, "cache")
        assert res is not None
        schedule(ec.env, res)

    tick()
    assert automated(ec) == []  # 04:30: before the window
    ec.clock.advance(40 * 60)
    tick()
    assert automated(ec) == ["automatic.cache-2026-11-22-05-10"]
    snap = ec.store.get(KIND_SNAPSHOT, REGION, "automatic.cache-2026-11-22-05-10")
    assert snap is not None and snap.spec["CacheClusterId"] == "cache"
    assert snap.spec["CacheNodeType"] == "cache.t3.small"
    ec.clock.advance(10 * 60)
    tick()  # still in the window, but today's snapshot exists (even before it finished)
    taken(ec, "automatic.cache-2026-11-22-05-10")
    tick()
    assert len(automated(ec)) == 1
    seen = ec("DescribeSnapshots", SnapshotSource="system")["Snapshots"]
    assert [s["SnapshotName"] for s in seen] == ["automatic.cache-2026-11-22-05-10"]
    assert ec("DescribeSnapshots", SnapshotSource="user")["Snapshots"] == []

    for day in (23, 24, 25):
        ec.clock.advance(dt.timedelta(days=1).total_seconds())
        tick()
        taken(ec, f"automatic.cache-2026-11-{day}-05-20")
    # kept two days: the 22nd and 23rd are gone on the 25th
    assert automated(ec) == ["automatic.cache-2026-11-24-05-20", "automatic.cache-2026-11-25-05-20"]


def test_retention_zero_takes_none(tmp_path: Path) -> None:
    ec = EC(tmp_path)
    ec.clock.advance(DAY_0430 + 3600 - ec.clock.now())
    res = ec.store.create(KIND_CACHE_CLUSTER, REGION, "cache", {
        "SnapshotRetentionLimit": 0, "SnapshotWindow": "05:00-06:00"}, {"state": "available"})
    schedule(ec.env, res)
    assert automated(ec) == []


def test_window_across_midnight_and_default(tmp_path: Path) -> None:
    ec = EC(tmp_path)
    ec.clock.advance(DAY_0430 + 19.5 * 3600 - ec.clock.now())  # 00:00 on the 23rd
    ec.store.create(KIND_CACHE_CLUSTER, REGION, "late", {
        "SnapshotRetentionLimit": 1, "SnapshotWindow": "23:30-00:30"}, {"state": "available"})
    ec.store.create(KIND_CACHE_CLUSTER, REGION, "default", {"SnapshotRetentionLimit": 1},
                    {"state": "available"})
    for ident in ("late", "default"):
        res = ec.store.get(KIND_CACHE_CLUSTER, REGION, ident)
        assert res is not None
        schedule(ec.env, res)
    assert automated(ec) == ["automatic.late-2026-11-23-00-00"]
