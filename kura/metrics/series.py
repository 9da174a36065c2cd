"""The embedded time-series store: CloudWatch datapoints (region, namespace, metric name, dimensions)
in their own SQLite file beside the state store ($KURA_HOME/metrics.db), so that the writes of every
second never contend with the resources' transactions.

Retention and rollups are CloudWatch's: one-second data for 3 hours, then 60-second rollups for 15
days, 5-minute ones for 63 days and hourly ones for 455 days. A rollup row keeps SampleCount, Sum,
Minimum and Maximum exactly, so every basic statistic of any period is exact, plus a sketch of the
values (sketch.py) for percentiles. A one-second row keeps the values themselves when there are
several (an aggregate over instances, PutMetricData's Values), so percentiles over the last 3 hours
are exact.

Layout, chosen for the write of every second: `raw` is keyed (ts, series), so a second's rows append
at the end of the B-tree (a few pages per second whatever the number of series) and a minute is one
range; the rollups are keyed (series, ts) and read per series. Minutes are rolled once closed (GRACE
seconds after their end) from `raw` into the three rollups in one transaction that also moves the
watermark; a datapoint arriving later for an already rolled minute (PutMetricData accepts timestamps
two weeks back) is merged into the rollups at once. Writes and rolls take the write lock before they
read the watermark (BEGIN IMMEDIATE), so even two processes writing the file (a benchmark loading data
beside a running Kura) count every datapoint exactly once in each resolution; a query at a coarse
resolution adds the raw rows from the watermark on.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kura.metrics import latest, sketch

RAW_RETENTION = 3 * 3600
ROLLUPS: tuple[tuple[int, int], ...] = ((60, 15 * 86400), (300, 63 * 86400), (3600, 455 * 86400))
GRACE = 5  # seconds past a minute's end before it is rolled: the last sample of the minute is in
_PAIR = struct.Struct("<dd")
_ROLLUP_TABLE = """CREATE TABLE IF NOT EXISTS r{res} (
    series INTEGER NOT NULL, ts INTEGER NOT NULL, n REAL NOT NULL, total REAL NOT NULL, low REAL NOT NULL,
    high REAL NOT NULL, sketch BLOB, PRIMARY KEY (series, ts)) WITHOUT ROWID;"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, region TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    dimensions TEXT NOT NULL, unit TEXT NOT NULL, last INTEGER NOT NULL,
    UNIQUE (namespace, name, dimensions, region));
CREATE TABLE IF NOT EXISTS raw (
    ts INTEGER NOT NULL, series INTEGER NOT NULL, n REAL NOT NULL, total REAL NOT NULL, low REAL NOT NULL,
    high REAL NOT NULL, vals BLOB, PRIMARY KEY (ts, series)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
""" + "".join(_ROLLUP_TABLE.format(res=res) for res, _ in ROLLUPS)
_VERSION = 2  # 1 was a single table of per-second values


@dataclass(frozen=True, slots=True)
class Point:
    """One measured value of one second."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    value: float
    unit: str
    ts: float  # unix seconds
    region: str = ""


@dataclass(frozen=True, slots=True)
class Datum:
    """Several values of one metric at one instant: SampleCount/Sum/Minimum/Maximum and, when known,
    the values themselves as (value, count) pairs (None: a statistic set without them)."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    unit: str
    ts: float
    region: str
    count: float
    total: float
    low: float
    high: float
    values: tuple[tuple[float, float], ...] | None

    @staticmethod
    def of(point: Point) -> Datum:
        v = float(point.value)
        return Datum(point.namespace, point.name, point.dimensions, point.unit, point.ts, point.region,
                     1.0, v, v, v, ((v, 1.0),))


@dataclass(frozen=True, slots=True)
class Row:
    """A stored row: a second of `raw` (values exact) or a rollup (values as a sketch)."""

    ts: int
    count: float
    total: float
    low: float
    high: float
    values: list[tuple[float, float]] | None = None
    sketch: sketch.Sketch | None = None


def dims_key(dimensions: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(dimensions.items())), separators=(",", ":"))


def encode_values(d: Datum) -> bytes | None:
    """NULL: one value (Minimum == Maximum) repeated; b"": no values known; else (value, count) pairs."""
    if d.values is None:
        return None if d.low == d.high else b""
    if len(d.values) == 1 and d.low == d.high:
        return None
    return b"".join(_PAIR.pack(v, c) for v, c in d.values)


def decode_values(blob: bytes | None, count: float, low: float,
                  high: float) -> list[tuple[float, float]] | None:
    if blob is None:
        return [(low, count)] if low == high else None
    if not blob:
        return None
    return list(_PAIR.iter_unpack(blob))


def merge(a: Datum, b: Datum) -> Datum:
    values = None if a.values is None and b.values is None else (*(a.values or ()), *(b.values or ()))
    return Datum(a.namespace, a.name, a.dimensions, b.unit, a.ts, a.region, a.count + b.count,
                 a.total + b.total, min(a.low, b.low), max(a.high, b.high), values)


class _Rollups:
    """Datapoints summed into the rollup rows they belong to, before those are merged into the store."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int, int, int], list[float]] = {}  # (res, series, ts) → [n, total, low, high]
        self.sketches: dict[tuple[int, int, int], sketch.Sketch | None] = {}
        self.last: dict[int, int] = {}

    def add(self, ident: int, ts: int, n: float, total: float, low: float, high: float,
            part: sketch.Sketch | None) -> None:
        self.last[ident] = max(self.last.get(ident, 0), ts)
        for res, _ in ROLLUPS:
            key = (res, ident, ts // res * res)
            acc = self.groups.get(key)
            if acc is None:
                self.groups[key] = [n, total, low, high]
                self.sketches[key] = dict(part) if part is not None else None
                continue
            acc[0] += n
            acc[1] += total
            acc[2] = min(acc[2], low)
            acc[3] = max(acc[3], high)
            if part is not None:
                self.sketches[key] = sketch.merge_into(self.sketches[key] or {}, part)


class Series:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.create_function("kura_sketch_key", 1, sketch.key, deterministic=True)
        if self._conn.execute("PRAGMA user_version").fetchone()[0] < _VERSION:
            self._conn.execute("DROP TABLE IF EXISTS points")
            self._conn.execute("DROP TABLE IF EXISTS series")
        self._conn.executescript(_SCHEMA)
        self._conn.execute(f"PRAGMA user_version={_VERSION}")
        self.clock = clock
        self.lock = threading.RLock()
        self._ids: dict[tuple[str, str, str, str], int] = {}
        self._fast: dict[tuple[str, str, tuple[tuple[str, str], ...], str], int] = {}
        self._units: dict[int, str] = {}
        self._pruned = 0.0

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    # -- writing ---------------------------------------------------------------------------------------
    def _series(self, d: Datum) -> int:
        fast = (d.namespace, d.name, tuple(sorted(d.dimensions.items())), d.region)
        found = self._fast.get(fast)
        if found is None:
            found = self._fast[fast] = self._lookup(d)
        if self._units.get(found) != d.unit:  # the unit of the latest datapoint is the series'
            self._conn.execute("UPDATE series SET unit=? WHERE id=?", (d.unit, found))
            self._units[found] = d.unit
        return found

    def _lookup(self, d: Datum) -> int:
        key = (d.namespace, d.name, dims_key(d.dimensions), d.region)
        found = self._ids.get(key)
        if found is None:
            self._conn.execute("INSERT OR IGNORE INTO series (region, namespace, name, dimensions, unit, "
                               "last) VALUES (?, ?, ?, ?, ?, ?)",
                               (d.region, d.namespace, d.name, key[2], d.unit, int(d.ts)))
            row = self._conn.execute("SELECT id, unit FROM series WHERE namespace=? AND name=? "
                                     "AND dimensions=? AND region=?", key).fetchone()
            found = self._ids[key] = int(row[0])
            self._units[found] = str(row[1])
        return found

    def put(self, points: Iterable[Point | Datum]) -> None:
        """Record measurements: a second datapoint of a series in the same second replaces the first."""
        datums = [p if isinstance(p, Datum) else Datum.of(p) for p in points]
        self._write(datums, replace=True)
        latest.record(max((d.ts for d in datums), default=0.0), [
            ((d.namespace, d.name, tuple(sorted(d.dimensions.items())), d.region), d.unit,
             d.total / d.count if d.count else 0.0) for d in datums])

    def put_measured(self, ts: float, values: list[latest.Measured], datums: list[Datum]) -> None:
        """The collector's second in one write: single values as plain tuples (no object each: this runs
        for every metric of every instance every second) and aggregate datums; replaces as `put` does."""
        its = int(ts)
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            if its < self.watermark():  # a late second (a stalled tick): the general path
                self._conn.execute("ROLLBACK")
                self.put([Datum(ns, name, dict(dims), unit, ts, region, 1.0, v, v, v, ((v, 1.0),))
                          for (ns, name, dims, region), unit, v in values] + datums)
                return
            try:
                rows: list[tuple[int, int, float, float, float, float, bytes | None]] = [
                    (its, self._series_key(key, unit, ts), 1.0, v, v, v, None) for key, unit, v in values]
                rows += [(its, self._series(d), d.count, d.total, d.low, d.high, encode_values(d))
                         for d in datums]
                self._conn.executemany("INSERT OR REPLACE INTO raw VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        latest.record(ts, values)
        latest.record(ts, [((d.namespace, d.name, tuple(sorted(d.dimensions.items())), d.region), d.unit,
                            d.total / d.count if d.count else 0.0) for d in datums])
        self.maybe_roll()

    def _series_key(self, key: latest.Key, unit: str, ts: float) -> int:
        found = self._fast.get(key)
        if found is None or self._units.get(found) != unit:
            ns, name, dims, region = key
            return self._series(Datum(ns, name, dict(dims), unit, ts, region, 1.0, 0.0, 0.0, 0.0, None))
        return found

    def add(self, datums: Iterable[Datum]) -> None:
        """Record published datapoints: datapoints of a series in the same second add up (PutMetricData)."""
        self._write(list(datums), replace=False)

    def _write(self, datums: list[Datum], *, replace: bool) -> None:
        with self.lock:
            floor = self.clock() - RAW_RETENTION
            late = _Rollups()
            self._conn.execute("BEGIN IMMEDIATE")  # the watermark cannot move until this commits
            try:
                mark = self.watermark()
                fresh = []
                for d in datums:
                    ident = self._series(d)
                    ts = int(d.ts)
                    if ts < mark:  # its minute is rolled already: into the rollups now
                        late.add(ident, ts, d.count, d.total, d.low, d.high,
                                 sketch.of(d.values) if d.values is not None else None)
                        if ts >= floor:
                            self._add_raw(ident, d)
                    elif replace:
                        fresh.append((ts, ident, d.count, d.total, d.low, d.high, encode_values(d)))
                    else:
                        self._add_raw(ident, d)
                self._conn.executemany("INSERT OR REPLACE INTO raw VALUES (?, ?, ?, ?, ?, ?, ?)", fresh)
                self._store_rollups(late)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self.maybe_roll()

    def _add_raw(self, ident: int, d: Datum) -> None:
        ts = int(d.ts)
        row = self._conn.execute("SELECT n, total, low, high, vals FROM raw WHERE ts=? AND series=?",
                                 (ts, ident)).fetchone()
        if row is not None:
            values = decode_values(row[4], row[0], row[2], row[3])
            old = Datum(d.namespace, d.name, d.dimensions, d.unit, ts, d.region, row[0], row[1], row[2],
                        row[3], tuple(values) if values is not None else None)
            d = merge(old, d)
        self._conn.execute("INSERT OR REPLACE INTO raw VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (ts, ident, d.count, d.total, d.low, d.high, encode_values(d)))

    # -- rolling up ------------------------------------------------------------------------------------
    def watermark(self) -> int:
        """Every second before it is rolled up (and counted in the rollups); none from it on."""
        row = self._conn.execute("SELECT value FROM meta WHERE key='rolled'").fetchone()
        if row is not None:
            return int(row[0])
        first = self._conn.execute("SELECT min(ts) FROM raw").fetchone()[0]
        mark = int(first if first is not None else self.clock()) // 60 * 60
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('rolled', ?)", (mark,))
        return mark

    def maybe_roll(self) -> None:
        with self.lock:
            if self.clock() - GRACE >= self.watermark() + 60:
                self.roll()

    def roll(self) -> None:
        """Roll every closed minute from the watermark on into the rollups, then drop what is past its
        retention."""
        with self.lock:
            now = self.clock()
            closed = int(now - GRACE) // 60 * 60
            self._conn.execute("BEGIN IMMEDIATE")  # another process writing this file waits (or rolls first)
            try:
                mark = self.watermark()
                if closed > mark:
                    self._roll_range(mark, closed)
                    self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('rolled', ?)", (closed,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._prune(now)

    def _roll_range(self, start: int, end: int) -> None:
        """SQLite sums each series' minutes and counts its single values by sketch bucket (most rows are
        one measured value); Python only decodes the rows that hold several values and folds the minutes
        into the 5-minute and hourly rows."""
        parts: dict[tuple[int, int], sketch.Sketch] = {}
        for ident, minute, key, count in self._conn.execute(
                "SELECT series, ts / 60 * 60 AS m, kura_sketch_key(low) AS k, sum(n) FROM raw WHERE ts >= ? "
                "AND ts < ? AND vals IS NULL AND low = high GROUP BY series, m, k", (start, end)):
            found = parts.setdefault((ident, minute), {})
            found[key] = found.get(key, 0.0) + count
        for ident, ts, vals in self._conn.execute(
                "SELECT series, ts, vals FROM raw WHERE ts >= ? AND ts < ? AND length(vals) > 0",
                (start, end)):
            sketch.add_packed(parts.setdefault((ident, ts // 60 * 60), {}), vals)
        acc = _Rollups()
        for ident, minute, n, total, low, high in self._conn.execute(
                "SELECT series, ts / 60 * 60 AS m, sum(n), sum(total), min(low), max(high) FROM raw "
                "WHERE ts >= ? AND ts < ? GROUP BY series, m", (start, end)):
            acc.add(ident, minute, n, total, low, high, parts.get((ident, minute)))
        self._store_rollups(acc)

    def _store_rollups(self, acc: _Rollups) -> None:
        """Merge the summed rows into the rollup tables: the rows already there are read in one query a
        (resolution, timestamp), not one each."""
        wanted: dict[tuple[int, int], list[int]] = defaultdict(list)
        for res, ident, ts in acc.groups:
            wanted[(res, ts)].append(ident)
        for (res, ts), idents in wanted.items():
            old = {}
            for chunk in range(0, len(idents), 500):
                part = idents[chunk:chunk + 500]
                old.update({row[0]: row[1:] for row in self._conn.execute(
                    f"SELECT series, n, total, low, high, sketch FROM r{res} WHERE ts = ? AND series IN "
                    f"({','.join('?' * len(part))})", (ts, *part))})
            rows = []
            for ident in idents:
                n, total, low, high = acc.groups[(res, ident, ts)]
                part_sketch = acc.sketches[(res, ident, ts)]
                if ident in old:
                    n0, total0, low0, high0, blob = old[ident]
                    n, total, low, high = n + n0, total + total0, min(low, low0), max(high, high0)
                    if blob is not None:
                        part_sketch = sketch.merge_into(sketch.decode(blob), part_sketch or {})
                rows.append((ident, ts, n, total, low, high,
                             sketch.encode(part_sketch) if part_sketch is not None else None))
            self._conn.executemany(f"INSERT OR REPLACE INTO r{res} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._conn.executemany("UPDATE series SET last = max(last, ?) WHERE id = ?",
                               [(ts, ident) for ident, ts in acc.last.items()])

    def _prune(self, now: float) -> None:
        if now - self._pruned < 60:
            return
        hourly = now - self._pruned >= 3600
        self._pruned = now
        self._conn.execute("DELETE FROM raw WHERE ts < ?", (int(min(self.watermark(), now - RAW_RETENTION)),))
        if hourly:  # rollup rows are keyed by series: one small range delete each
            ids = [r[0] for r in self._conn.execute("SELECT id FROM series")]
            for res, keep in ROLLUPS:
                self._conn.executemany(f"DELETE FROM r{res} WHERE series = ? AND ts < ?",
                                       [(i, int(now - keep)) for i in ids])

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, namespace: str, name: str, dimensions: Mapping[str, str], start: float,
            end: float) -> list[tuple[int, float]]:
        """(second, average of the second) pairs of one series in [start, end) from the one-second data."""
        with self.lock:
            ids = [r[0] for r in self._conn.execute(
                "SELECT id FROM series WHERE namespace=? AND name=? AND dimensions=?",
                (namespace, name, dims_key(dimensions)))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            rows = self._conn.execute(f"SELECT ts, sum(total) / sum(n) FROM raw WHERE ts >= ? AND ts < ? AND "
                                      f"series IN ({marks}) GROUP BY ts ORDER BY ts",
                                      (int(start), math.ceil(end), *ids)).fetchall()
        return [(int(ts), float(v)) for ts, v in rows]

    def close(self) -> None:
        with self.lock:
            self._conn.close()


_open: dict[Path, Series] = {}
_open_lock = threading.Lock()


def for_home(home: Path) -> Series:
    """The series store of a Kura home (one per process)."""
    path = home / "metrics.db"
    with _open_lock:
        found = _open.get(path)
        if found is None:
            found = _open[path] = Series(path)
        return found


def close_home(home: Path) -> None:
    with _open_lock:
        found = _open.pop(home / "metrics.db", None)
    if found is not None:
        found.close()
