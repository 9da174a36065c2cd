"""The series store on a clock the test moves: rollups at CloudWatch's resolutions, retention, late
datapoints counted once, statistics exact from rollups, percentiles exact over the one-second data and
within the sketch's error after; which periods each age allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kura.metrics import query, series, sketch, stats
from kura.metrics.query import MetricId

T0 = 1_700_000_040  # a minute boundary (840 s into an hour)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[series.Series, Clock]]:
    clock = Clock(T0)
    found = series.Series(tmp_path / "metrics.db", clock=clock)
    series._open[tmp_path / "metrics.db"] = found
    yield found, clock
    series.close_home(tmp_path)


CPU = MetricId("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db1"}, "us-east-1")


def measure(store: series.Series, clock: Clock, seconds: int, value: float | None = None) -> None:
    """One value a second for `seconds` (its second of the minute unless given), the clock following."""
    for _ in range(seconds):
        v = float(int(clock.now) % 60) if value is None else value
        store.put([series.Point("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db1"}, v, "Percent",
                                clock.now, "us-east-1")])
        clock.now += 1


def stat(store: series.Series, name: str, start: float, end: float, period: int) -> list[tuple[int, float]]:
    found, _ = query.buckets(store, CPU, start, end, period, extended=name not in stats.BASIC)
    return [(ts, v) for ts, agg in found if (v := stats.value(agg, name)) is not None]


def test_minutes_roll_up_and_every_basic_statistic_stays_exact(store: tuple[series.Series, Clock]) -> None:
    s, clock = store
    measure(s, clock, 600)  # ten minutes: 0..59 each minute
    clock.now += series.GRACE
    s.roll()
    assert s.watermark() == T0 + 600
    # One-second data and the 60-s rollup agree; a 5-minute period reads the 5-minute rollup
    assert stat(s, "Sum", T0, T0 + 600, 60) == [(T0 + 60 * i, 1770.0) for i in range(10)]
    assert stat(s, "SampleCount", T0, T0 + 600, 60) == [(T0 + 60 * i, 60.0) for i in range(10)]
    assert stat(s, "Minimum", T0, T0 + 600, 300) == [(T0, 0.0), (T0 + 300, 0.0)]
    assert stat(s, "Maximum", T0, T0 + 600, 300) == [(T0, 59.0), (T0 + 300, 59.0)]
    assert stat(s, "Average", T0, T0 + 600, 600) == [(T0, 29.5)]
    rows = s.conn.execute("SELECT count(*), sum(n) FROM r60").fetchone()
    assert rows == (10, 600.0)
    assert s.conn.execute("SELECT sum(n) FROM r300").fetchone()[0] == 600.0


def test_percentiles_exact_from_seconds_then_within_the_sketch_after_three_hours(
        store: tuple[series.Series, Clock]) -> None:
    s, clock = store
    measure(s, clock, 120)
    assert stat(s, "p50", T0, T0 + 120, 60) == [(T0, 29.0), (T0 + 60, 29.0)]  # nearest rank
    assert stat(s, "p99", T0, T0 + 120, 120) == [(T0, 59.0)]
    [(ts, trimmed)] = stat(s, "tm(10%:90%)", T0, T0 + 60, 60)
    assert ts == T0 and trimmed == pytest.approx(29.5)
    clock.now += 4 * 3600  # the one-second rows are gone: minutes answer, percentiles approximately
    s.roll()
    assert s.conn.execute("SELECT count(*) FROM raw").fetchone()[0] == 0
    [(ts, p50)] = stat(s, "p50", T0, T0 + 60, 60)
    assert ts == T0 and p50 == pytest.approx(29.0, rel=sketch.GAMMA - 1)
    assert stat(s, "Average", T0, T0 + 120, 60) == [(T0, 29.5), (T0 + 60, 29.5)]
    assert stat(s, "Sum", T0, T0 + 120, 5) == []  # a 5-s period of data older than 3 hours: none


def test_retention_drops_each_resolution_in_its_time(store: tuple[series.Series, Clock]) -> None:
    s, clock = store
    measure(s, clock, 3600, value=7.0)
    for days, left in ((16, {"r60": 0, "r300": 13, "r3600": 2}), (64, {"r60": 0, "r300": 0, "r3600": 2}),
                       (456, {"r60": 0, "r300": 0, "r3600": 0})):
        clock.now = T0 + days * 86400
        s._pruned = 0.0  # the hourly sweep is due
        s.roll()
        assert {t: s.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in left} == left
        if days == 16:  # 5-minute rollups answer 15-63 days back, in multiples of 300 s
            sums = stat(s, "Sum", T0, T0 + 3600, 300)
            assert sums[0][0] == T0 - 240 and sum(v for _, v in sums) == 7.0 * 3600
            assert stat(s, "Sum", T0, T0 + 3600, 60) == []


def test_late_datapoints_are_counted_once_in_every_resolution(store: tuple[series.Series, Clock]) -> None:
    s, clock = store
    measure(s, clock, 180, value=1.0)
    clock.now += series.GRACE
    s.roll()
    late = series.Datum("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db1"}, "Percent", T0 + 30,
                        "us-east-1", 2.0, 20.0, 5.0, 15.0, ((5.0, 1.0), (15.0, 1.0)))
    s.add([late])  # a minute already rolled: into the rollups at once, and into the seconds
    assert stat(s, "SampleCount", T0, T0 + 60, 60) == [(T0, 62.0)]
    assert stat(s, "Sum", T0, T0 + 60, 1)[30] == (T0 + 30, 21.0)
    assert s.conn.execute("SELECT n FROM r60 WHERE ts = ?", (T0,)).fetchone()[0] == 62.0
    clock.now += 120
    s.roll()  # rolling again does not count it twice
    assert s.conn.execute("SELECT n FROM r60 WHERE ts = ?", (T0,)).fetchone()[0] == 62.0
    assert stat(s, "Maximum", T0, T0 + 60, 60) == [(T0, 15.0)]


def test_measurements_in_one_second_replace_published_ones_add(store: tuple[series.Series, Clock]) -> None:
    s, _ = store
    point = series.Point("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "db1"}, 3.0, "Percent", T0,
                         "us-east-1")
    s.put([point])
    s.put([series.Point(**{**{f: getattr(point, f) for f in point.__slots__}, "value": 4.0})])
    assert stat(s, "Sum", T0, T0 + 1, 1) == [(T0, 4.0)]
    stat_set = series.Datum("App", "Requests", {}, "Count", T0, "us-east-1", 4, 10, 1, 4, None)
    s.add([stat_set, stat_set])
    found, unit = query.buckets(s, MetricId("App", "Requests", {}), T0, T0 + 60, 60, extended=True)
    [(_, agg)] = found
    assert (agg.count, agg.total, unit) == (8, 20, "Count")
    assert stats.value(agg, "p50") is None  # a statistic set has no distribution


def test_periods_by_age_and_start_rounding() -> None:
    assert query.period_allowed(1, 60) and query.period_allowed(30, 3 * 3600)
    assert not query.period_allowed(7, 60) and not query.period_allowed(30, 3 * 3600 + 1)
    assert query.period_allowed(120, 86400) and not query.period_allowed(120, 20 * 86400)
    assert query.period_allowed(600, 20 * 86400) and not query.period_allowed(600, 70 * 86400)
    assert query.aligned_start(T0 + 17, 5, T0 + 100) == T0 + 15
    assert query.aligned_start(T0 + 17, 300, T0 + 100) == T0
    assert query.aligned_start(T0 + 17, 300, T0 + 86400) == T0
    assert query.aligned_start(T0 + 17, 3600, T0 + 70 * 86400) == T0 - 840  # 1699999200, an hour


def test_list_and_units(store: tuple[series.Series, Clock]) -> None:
    s, clock = store
    measure(s, clock, 3)
    s.add([series.Datum("App", "Latency", {"Api": "x"}, "Milliseconds", T0, "eu-west-1", 1, 5, 5, 5,
                        ((5.0, 1.0),))])
    names = [(m.namespace, m.name, m.region) for m in query.listed(s, region=None, namespace=None, name=None,
                                                                     since=T0 - 10)]
    assert names == [("AWS/RDS", "CPUUtilization", "us-east-1"), ("App", "Latency", "eu-west-1")]
    assert query.listed(s, region="us-east-1", namespace="App", name=None, since=T0 - 10) == []
    found, unit = query.buckets(s, MetricId("App", "Latency", {"Api": "x"}), T0, T0 + 60, 60, unit="Seconds")
    assert found == [] and unit == "Seconds"


def test_extended_statistic_forms() -> None:
    dist = [(float(v), 1.0) for v in range(1, 101)]
    agg = stats.Agg()
    agg.add(100, 5050, 1, 100)
    agg.add_values(dist)
    assert stats.value(agg, "p90") == 90 and stats.value(agg, "p0") == 1 and stats.value(agg, "p100") == 100
    assert stats.value(agg, "tm90") == pytest.approx(45.5)
    assert stats.value(agg, "TM(10%:90%)") == pytest.approx(50.5)
    assert stats.value(agg, "iqm") == pytest.approx(50.5)
    assert stats.value(agg, "tc(10%:20%)") == pytest.approx(10)
    assert stats.value(agg, "ts90") == pytest.approx(4095)
    assert stats.value(agg, "PR(:25)") == pytest.approx(25)
    assert stats.value(agg, "pr(10:20)") == pytest.approx(10)  # lower bound out, upper in
    assert stats.value(agg, "TM(10:20)") == pytest.approx(15.5)
    assert stats.value(agg, "wm(10%:90%)") == pytest.approx((9 * 10 + 4050 + 11 * 90 - 90) / 100)
    for bad in ("p101", "tm", "pr(10%:20%)", "xx50", "tm(a:b)"):
        assert not stats.valid(bad), bad


def test_sketch_keeps_its_relative_error() -> None:
    values = [0.0, -3.5, 1e-6, 0.25, 1.0, 42.0, 1e9]
    for v in values:
        back = sketch.representative(sketch.key(v))
        assert back == pytest.approx(v, rel=(sketch.GAMMA - 1) / (sketch.GAMMA + 1) + 1e-12, abs=1e-300)
    merged = sketch.merge_into(sketch.of([(1.0, 2.0)]), sketch.of([(1.0, 3.0), (9.0, 1.0)]))
    assert sketch.decode(sketch.encode(merged)) == merged and sum(merged.values()) == 6.0


def test_prometheus_exposition_of_the_latest_values(store: tuple[series.Series, Clock]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from kura.metrics import latest, prometheus

    s, clock = store
    latest.clear()
    s.put([series.Point("AWS/RDS", "MaximumUsedTransactionIDs", {"DBInstanceIdentifier": 'a"b\\c'}, 7.0,
                        "Count", clock.now, "us-east-1"),
           series.Point("AWS/ElastiCache", "CPUUtilization", {"CacheClusterId": "c", "CacheNodeId": "0001"},
                        1.5, "Percent", clock.now, "us-east-1")])
    latest.set_counters({"ticks": 3, "cpu_seconds": 0.25})
    families = {f.name: f for f in text_string_to_metric_families(prometheus.render())}
    [xid] = families["aws_rds_maximum_used_transaction_ids"].samples
    assert xid.labels == {"db_instance_identifier": 'a"b\\c', "region": "us-east-1"} and xid.value == 7.0
    [cpu] = families["aws_elasticache_cpu_utilization"].samples
    assert cpu.labels["cache_node_id"] == "0001" and cpu.value == 1.5
    assert families["kura_metrics_collector_cpu_seconds"].samples[0].value == 0.25
    clock.now += latest.STALE + 1  # a series not measured for a minute leaves
    s.put([series.Point("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "x"}, 1.0, "Percent", clock.now,
                        "us-east-1")])
    names = {f.name for f in text_string_to_metric_families(prometheus.render())}
    assert "aws_rds_cpu_utilization" in names and "aws_rds_maximum_used_transaction_ids" not in names
    latest.clear()
