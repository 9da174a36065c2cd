"""The embedded time-series store: CloudWatch-style datapoints (namespace, metric name, dimensions)
kept per second in their own SQLite file beside the state store, so that a write every second per
metric never contends with the resources' transactions.

Datapoints at one-second resolution are kept RAW_RETENTION seconds (CloudWatch keeps 1-second data
for three hours); coarser rollups for older data are the observability layer's.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RAW_RETENTION = 3 * 3600
_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL, dimensions TEXT NOT NULL,
    unit TEXT NOT NULL, UNIQUE (namespace, name, dimensions));
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (series, ts)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Point:
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    value: float
    unit: str
    ts: float  # unix seconds


def _dims(dimensions: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(dimensions.items())), separators=(",", ":"))


class Series:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str, str], int] = {}
        self._pruned = 0.0

    def _series(self, namespace: str, name: str, dims: str, unit: str) -> int:
        key = (namespace, name, dims)
        found = self._ids.get(key)
        if found is None:
            self._conn.execute("INSERT OR IGNORE INTO series (namespace, name, dimensions, unit) "
                               "VALUES (?, ?, ?, ?)", (namespace, name, dims, unit))
            row = self._conn.execute("SELECT id FROM series WHERE namespace=? AND name=? AND dimensions=?",
                                     key).fetchone()
            found = self._ids[key] = int(row[0])
        return found

    def put(self, points: list[Point]) -> None:
        """Record datapoints; a second datapoint of a series in the same second replaces the first."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for p in points:
                    ident = self._series(p.namespace, p.name, _dims(p.dimensions), p.unit)
                    self._conn.execute("INSERT OR REPLACE INTO points VALUES (?, ?, ?)",
                                       (ident, int(p.ts), float(p.value)))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            newest = max((p.ts for p in points), default=0.0)
            if newest - self._pruned > 60:
                self._conn.execute("DELETE FROM points WHERE ts < ?", (int(newest - RAW_RETENTION),))
                self._pruned = newest

    def get(self, namespace: str, name: str, dimensions: Mapping[str, str], start: float,
            end: float) -> list[tuple[int, float]]:
        """(second, value) pairs of one series in [start, end), oldest first."""
        with self._lock:
            row = self._conn.execute("SELECT id FROM series WHERE namespace=? AND name=? AND dimensions=?",
                                     (namespace, name, _dims(dimensions))).fetchone()
            if row is None:
                return []
            rows = self._conn.execute("SELECT ts, value FROM points WHERE series=? AND ts >= ? AND ts < ? "
                                      "ORDER BY ts", (row[0], int(start), int(end))).fetchall()
        return [(int(ts), float(v)) for ts, v in rows]

    def close(self) -> None:
        with self._lock:
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
