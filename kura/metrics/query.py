"""Reading the series store as CloudWatch does: datapoints of a period, the resolution the data's age
allows, and the metrics that exist.

Which resolution answers: CloudWatch keeps one-second data 3 hours, minute data 15 days, 5-minute data
63 days, hourly data 455 days, so the age of StartTime decides what a period may be (under 3 hours: 1,
5, 10, 20, 30 or a multiple of 60; then a multiple of 60, 300 or 3600) — another period gets no
datapoints, as on CloudWatch. StartTime is rounded down to the period (up to a minute) or to that
resolution. The store then reads the coarsest table whose rows fall wholly inside the periods, except
that extended statistics over the last 3 hours read the one-second rows (exact rather than sketched).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kura.metrics import series, sketch, stats
from kura.metrics.series import RAW_RETENTION, ROLLUPS, Series

HIGH_RESOLUTION = (1, 5, 10, 20, 30)


@dataclass(frozen=True, slots=True)
class MetricId:
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    region: str | None = None  # None: every region


@dataclass(frozen=True, slots=True)
class Listed:
    region: str
    namespace: str
    name: str
    dimensions: dict[str, str]
    unit: str
    last: int


def resolution_for_age(age: float) -> int:
    if age <= RAW_RETENTION:
        return 1
    for res, keep in ROLLUPS:
        if age <= keep:
            return res
    return ROLLUPS[-1][0]


def period_allowed(period: int, age: float) -> bool:
    res = resolution_for_age(age)
    if res == 1:
        return period in HIGH_RESOLUTION or (period > 0 and period % 60 == 0)
    return period > 0 and period % res == 0


def aligned_start(start: float, period: int, now: float) -> int:
    res = resolution_for_age(now - start)
    step = min(period, 60) if res == 1 else res
    return int(start) // step * step


def _table(start: int, period: int, age_res: int, exact: bool) -> int:
    """The coarsest resolution whose rows each fall inside one period (1: the raw seconds)."""
    if exact and age_res == 1:
        return 1
    best = age_res
    for res, _ in ROLLUPS:
        if res >= age_res and period % res == 0 and start % res == 0:
            best = res
    return best


def series_ids(store: Series, metric: MetricId, unit: str | None = None) -> list[tuple[int, str]]:
    sql = "SELECT id, unit FROM series WHERE namespace=? AND name=? AND dimensions=?"
    args: list[object] = [metric.namespace, metric.name, series.dims_key(metric.dimensions)]
    if metric.region is not None:
        sql += " AND region=?"
        args.append(metric.region)
    if unit is not None:
        sql += " AND unit=?"
        args.append(unit)
    return [(int(i), str(u)) for i, u in store.conn.execute(sql, args)]


def buckets(store: Series, metric: MetricId, start: float, end: float, period: int, *,
            unit: str | None = None, extended: bool = False) -> tuple[list[tuple[int, stats.Agg]], str]:
    """The datapoints of each period in [start, end) with data, oldest first, and the metric's unit."""
    with store.lock:
        now = store.clock()
        if end <= start or not period_allowed(period, now - start):
            return [], unit or "None"
        store.maybe_roll()
        found = series_ids(store, metric, unit)
        if not found:
            return [], unit or "None"
        ids = [i for i, _ in found]
        first = aligned_start(start, period, now)
        table = _table(first, period, resolution_for_age(now - start), extended)
        store.conn.execute("BEGIN")  # one snapshot: the rollups and the raw rows past their watermark
        try:
            return _collect(store, table, ids, first, int(end), period, extended), found[0][1]
        finally:
            store.conn.execute("COMMIT")


def _collect(store: Series, table: int, ids: list[int], first: int, end: int, period: int,
             extended: bool) -> list[tuple[int, stats.Agg]]:
    out: dict[int, stats.Agg] = {}
    if not extended:
        for slot, n, total, low, high in _sums(store, table, ids, first, end, period):
            out.setdefault(slot, stats.Agg(exact=None)).add(n, total, low, high)
        return sorted(out.items())
    for ts, row in _rows(store, table, ids, first, end):
        slot = first + (ts - first) // period * period
        agg = out.get(slot)
        if agg is None:
            agg = out[slot] = stats.Agg()
        agg.add(row.count, row.total, row.low, row.high)
        if row.values is not None:
            agg.add_values(row.values)
        elif row.sketch is not None:
            agg.add_sketch(row.sketch)
    return sorted(out.items())


def _sums(store: Series, table: int, ids: list[int], start: int, end: int,
          period: int) -> list[tuple[int, float, float, float, float]]:
    """SampleCount, Sum, Minimum and Maximum per period, summed by SQLite (the basic statistics)."""
    marks = ",".join("?" * len(ids))
    slot = f"(? + (ts - ?) / {int(period)} * {int(period)})"
    out = []
    raw_from = start
    if table > 1:
        out += store.conn.execute(f"SELECT {slot} AS slot, sum(n), sum(total), min(low), max(high) "
                                  f"FROM r{table} WHERE series IN ({marks}) AND ts >= ? AND ts < ? "
                                  "GROUP BY slot",
                                  (start, start, *ids, start, end)).fetchall()
        raw_from = max(start, store.watermark())
    out += store.conn.execute(f"SELECT {slot} AS slot, sum(n), sum(total), min(low), max(high) FROM raw "
                              f"WHERE ts >= ? AND ts < ? AND series IN ({marks}) GROUP BY slot",
                              (start, start, raw_from, end, *ids)).fetchall()
    return out


def _rows(store: Series, table: int, ids: list[int], start: int,
          end: int) -> Iterator[tuple[int, series.Row]]:
    marks = ",".join("?" * len(ids))
    raw_from = start
    if table > 1:
        rows = store.conn.execute(f"SELECT ts, n, total, low, high, sketch FROM r{table} "
                                  f"WHERE series IN ({marks}) AND ts >= ? AND ts < ?",
                                  (*ids, start, end)).fetchall()
        for ts, n, total, low, high, blob in rows:
            part = sketch.decode(blob) if blob is not None else None
            yield ts, series.Row(ts, n, total, low, high, None, part)
        raw_from = max(start, store.watermark())  # what is not rolled up yet
    rows = store.conn.execute(f"SELECT ts, n, total, low, high, vals FROM raw WHERE ts >= ? AND ts < ? "
                              f"AND series IN ({marks})", (raw_from, end, *ids)).fetchall()
    for ts, n, total, low, high, vals in rows:
        yield ts, series.Row(ts, n, total, low, high, series.decode_values(vals, n, low, high))


def statistics(home: Path, namespace: str, name: str, dimensions: Mapping[str, str], start: float, end: float,
               period: int, stat: str, *, unit: str | None = None,
               region: str | None = None) -> list[tuple[float, float]]:
    """(period start, value of `stat`) for each period of [start, end) with data, oldest first.

    `stat` is a basic statistic (SampleCount, Average, Sum, Minimum, Maximum) or an extended one (p99,
    tm(10%:90%), …). `region` None reads the metric of every region. A period the data's age does not
    allow answers no datapoints (as CloudWatch does)."""
    store = series.for_home(home)
    found, _ = buckets(store, MetricId(namespace, name, dimensions, region), start, end, period, unit=unit,
                       extended=stat not in stats.BASIC)
    out = []
    for ts, agg in found:
        value = stats.value(agg, stat)
        if value is not None:
            out.append((float(ts), value))
    return out


def listed(store: Series, *, region: str | None, namespace: str | None, name: str | None,
           since: float) -> list[Listed]:
    """The metrics with a datapoint since `since`, ordered by namespace, name and dimensions."""
    sql = "SELECT region, namespace, name, dimensions, unit, last FROM series WHERE 1=1"
    args: list[object] = []
    for column, wanted in (("region", region), ("namespace", namespace), ("name", name)):
        if wanted is not None:
            sql += f" AND {column}=?"
            args.append(wanted)
    with store.lock:
        store.maybe_roll()
        mark = store.watermark()
        recent = {r[0] for r in store.conn.execute("SELECT DISTINCT series FROM raw WHERE ts >= ?", (mark,))}
        ids = {}
        for row in store.conn.execute(sql.replace("SELECT region", "SELECT id, region"), args):
            ids[row[0]] = row[1:]
    out = []
    for ident, (reg, ns, metric, dims, unit, last) in ids.items():
        if last >= since or ident in recent:
            newest = max(last, mark if ident in recent else 0)
            out.append(Listed(reg, ns, metric, json.loads(dims), unit, newest))
    out.sort(key=lambda m: (m.namespace, m.name, sorted(m.dimensions.items()), m.region))
    return out
