"""Where Performance Insights samples are kept: $KURA_HOME/pi.db, an SQLite file of its own.

Compact by construction: a second of one instance is one row per distinct *shape* (the combination of
wait event, statement, user, host, database and application an active session counts under) with the
number of sessions in it, and an idle second is no row at all. Which seconds were sampled is kept as
runs (first and last second of each uninterrupted stretch), so an idle second reads as a load of 0 and
a second Kura was down reads as no data. Statement texts are kept once per instance.

Each instance's data is kept for its PerformanceInsightsRetentionPeriod (`prune`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import astuple, fields
from pathlib import Path
from typing import Any

from kura.metrics.pi_sampler import Second, Session, Statement

COLUMNS = tuple(f.name for f in fields(Session))
GAP = 3  # seconds without a sample that still continue a run (a slow pass, a busy machine)
SEEN_EVERY = 600  # seconds between updates of a shape's or statement's last-seen time
CACHE = 50_000
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sources (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                                    features TEXT NOT NULL DEFAULT '{{}}');
CREATE TABLE IF NOT EXISTS shapes (id INTEGER PRIMARY KEY, source INTEGER NOT NULL, seen INTEGER NOT NULL,
    {", ".join(f'"{c}" TEXT NOT NULL' for c in COLUMNS)},
    UNIQUE (source, {", ".join(f'"{c}"' for c in COLUMNS)}));
CREATE TABLE IF NOT EXISTS samples (source INTEGER NOT NULL, ts INTEGER NOT NULL, shape INTEGER NOT NULL,
    sessions INTEGER NOT NULL, PRIMARY KEY (source, ts, shape)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (source INTEGER NOT NULL, start INTEGER NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (source, start)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statements (source INTEGER NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    db_id TEXT NOT NULL, text TEXT NOT NULL, tokenized_id TEXT NOT NULL, final INTEGER NOT NULL,
    seen INTEGER NOT NULL, PRIMARY KEY (source, kind, id)) WITHOUT ROWID;
"""
_SHAPE_UPSERT = (f"INSERT INTO shapes (source, seen, {', '.join(COLUMNS)}) "
                 f"VALUES (?, ?, {', '.join('?' for _ in COLUMNS)}) "
                 f"ON CONFLICT (source, {', '.join(COLUMNS)}) DO UPDATE SET seen = excluded.seen "
                 "RETURNING id")
_STATEMENT_UPSERT = (
    "INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, kind, id) DO UPDATE SET "
    "seen = excluded.seen, text = CASE WHEN excluded.final >= final THEN excluded.text ELSE text END, "
    "final = max(final, excluded.final)")

Where = Sequence[tuple[str, Sequence[str]]]  # (column, accepted values): all must hold


class PiStore:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._sources: dict[str, int] = {}
        self._runs: dict[int, tuple[int, int]] = {}  # source → (start, last) of its current run
        self._shapes: OrderedDict[tuple[int, Session], tuple[int, int]] = OrderedDict()  # → (id, seen)
        self._texts: OrderedDict[tuple[int, str, str], tuple[int, bool]] = OrderedDict()  # → (seen, final)

    # -- writing -----------------------------------------------------------------------------------
    def record(self, seconds: Iterable[tuple[str, Second]]) -> None:
        """One sampled second of each instance (named by its DbiResourceId), in one transaction."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for name, second in seconds:
                    self._record(self._source(name), second)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._shapes.clear()
                self._texts.clear()
                self._runs.clear()
                raise

    def _record(self, source: int, second: Second) -> None:
        ts = second.ts
        start, last = self._run(source)
        if ts <= last:
            return  # this second is recorded already
        if ts - last <= GAP:
            self._conn.execute("UPDATE runs SET last = ? WHERE source = ? AND start = ?", (ts, source, start))
        else:
            start = ts
            self._conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", (source, ts, ts))
        self._runs[source] = (start, ts)
        counts: dict[Session, int] = {}
        for session in second.sessions:
            counts[session] = counts.get(session, 0) + 1
        for session, count in counts.items():
            self._conn.execute("INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?)",
                               (source, ts, self._shape(source, session, ts), count))
        for statement in second.statements:
            self._statement(source, statement, ts)

    def _run(self, source: int) -> tuple[int, int]:
        found = self._runs.get(source)
        if found is None:
            row = self._conn.execute("SELECT start, last FROM runs WHERE source = ? ORDER BY start DESC "
                                     "LIMIT 1", (source,)).fetchone()
            found = (int(row[0]), int(row[1])) if row else (-GAP - 1, -GAP - 1)
        return found

    def _shape(self, source: int, session: Session, ts: int) -> int:
        key = (source, session)
        found = self._shapes.get(key)
        if found is not None and ts - found[1] < SEEN_EVERY:
            self._shapes.move_to_end(key)
            return found[0]
        row = self._conn.execute(_SHAPE_UPSERT, (source, ts, *astuple(session))).fetchone()
        _remember(self._shapes, key, (int(row[0]), ts))
        return int(row[0])

    def _statement(self, source: int, st: Statement, ts: int) -> None:
        key = (source, st.kind, st.id)
        found = self._texts.get(key)
        if found is not None and ts - found[0] < SEEN_EVERY and (found[1] or not st.final):
            self._texts.move_to_end(key)
            return
        self._conn.execute(_STATEMENT_UPSERT, (source, st.kind, st.id, st.db_id, st.text, st.tokenized_id,
                                               int(st.final), ts))
        _remember(self._texts, key, (ts, st.final or bool(found and found[1])))

    def set_features(self, name: str, features: dict[str, str]) -> None:
        with self._lock:
            self._conn.execute("UPDATE sources SET features = ? WHERE id = ?",
                               (json.dumps(features), self._source(name)))

    def prune(self, retention: dict[str, float], now: float, default: float) -> None:
        """Drop what is older than each instance's retention (seconds; `default` for instances no longer
        named, e.g. deleted ones)."""
        with self._lock:
            for name, source in self._conn.execute("SELECT name, id FROM sources").fetchall():
                cutoff = int(now - retention.get(name, default))
                for sql in ("DELETE FROM samples WHERE source = ? AND ts < ?",
                            "DELETE FROM runs WHERE source = ? AND last < ?",
                            "UPDATE runs SET start = ?2 WHERE source = ?1 AND start < ?2"):
                    self._conn.execute(sql, (source, cutoff))
                for table in ("shapes", "statements"):
                    self._conn.execute(f"DELETE FROM {table} WHERE source = ? AND seen < ?",
                                       (source, cutoff - SEEN_EVERY))
            self._shapes.clear()
            self._texts.clear()
            self._runs.clear()

    # -- reading -----------------------------------------------------------------------------------
    def runs(self, name: str, start: int, end: int) -> list[tuple[int, int]]:
        """The sampled stretches (first, last second, inclusive) meeting [start, end)."""
        with self._lock:
            source = self._known(name)
            if source is None:
                return []
            rows = self._conn.execute("SELECT start, last FROM runs WHERE source = ? AND last >= ? AND "
                                      "start < ? ORDER BY start", (source, start, end)).fetchall()
        return [(int(a), int(b)) for a, b in rows]

    def buckets(self, name: str, start: int, end: int, period: int, columns: Sequence[str],
                where: Where) -> list[tuple[Any, ...]]:
        """Per period bucket (ts // period) and value of `columns`: (bucket, *values, sum, max, min,
        seconds with sessions) of the per-second session counts."""
        cols = ", ".join(f'h."{c}"' for c in _checked(columns))
        inner = ", ".join(f'"{c}"' for c in columns)
        conds, args = _conditions(where)
        sql = (f"SELECT b{', ' + inner if inner else ''}, sum(n), max(n), min(n), count(*) FROM ("
               f"SELECT s.ts / ? AS b{', ' + cols if cols else ''}, sum(s.sessions) AS n "
               f"FROM samples s JOIN shapes h ON h.id = s.shape WHERE s.source = ? AND s.ts >= ? AND "
               f"s.ts < ?{conds} GROUP BY s.ts{', ' + cols if cols else ''}) GROUP BY b"
               f"{', ' + inner if inner else ''}")
        return self._select(name, sql, (period,), (start, end, *args))

    def totals(self, name: str, start: int, end: int, columns: Sequence[str],
               where: Where) -> list[tuple[Any, ...]]:
        """(*values of `columns`, session-seconds) over [start, end)."""
        cols = ", ".join(f'h."{c}"' for c in _checked(columns))
        conds, args = _conditions(where)
        sql = (f"SELECT {cols + ', ' if cols else ''}sum(s.sessions) FROM samples s JOIN shapes h ON "
               f"h.id = s.shape WHERE s.source = ? AND s.ts >= ? AND s.ts < ?{conds}"
               f"{' GROUP BY ' + cols if cols else ''}")
        return self._select(name, sql, (), (start, end, *args))

    def statements(self, name: str, kind: str, ids: Iterable[str]) -> dict[str, Statement]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, Statement] = {}
        for chunk in range(0, len(wanted), 500):
            part = wanted[chunk:chunk + 500]
            rows = self._select(name, f"SELECT id, db_id, text, tokenized_id, final FROM statements WHERE "
                                f"source = ? AND kind = ? AND id IN ({', '.join('?' for _ in part)})",
                                (), (kind, *part))
            for ident, db_id, text, tokenized, final in rows:
                out[ident] = Statement(kind, ident, db_id, text, tokenized, bool(final))
        return out

    def statement_ids(self, name: str, kind: str, column: str, value: str) -> list[str]:
        """Ids of the statements whose db_id or text is `value` (filters by those dimensions)."""
        assert column in ("db_id", "text")
        rows = self._select(name, f"SELECT id FROM statements WHERE source = ? AND kind = ? AND {column} = ?",
                            (), (kind, value))
        return [str(r[0]) for r in rows]

    def features(self, name: str) -> dict[str, str]:
        rows = self._select(name, "SELECT features FROM sources WHERE id = ?", (), ())
        return dict(json.loads(rows[0][0])) if rows else {}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- internals ---------------------------------------------------------------------------------
    def _source(self, name: str) -> int:
        found = self._sources.get(name)
        if found is None:
            self._conn.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", (name,))
            found = self._known(name)
            assert found is not None
        return found

    def _known(self, name: str) -> int | None:
        found = self._sources.get(name)
        if found is None:
            row = self._conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            found = self._sources[name] = int(row[0])
        return found

    def _select(self, name: str, sql: str, before: tuple[Any, ...], after: tuple[Any, ...]
                ) -> list[tuple[Any, ...]]:
        """Run `sql` with the source's id between `before` and `after`; nothing for an unknown source."""
        with self._lock:
            source = self._known(name)
            if source is None:
                return []
            return [tuple(r) for r in self._conn.execute(sql, (*before, source, *after)).fetchall()]


def _checked(columns: Sequence[str]) -> Sequence[str]:
    bad = [c for c in columns if c not in COLUMNS]
    if bad:
        raise ValueError(f"unknown sample columns {bad}")
    return columns


def _conditions(where: Where) -> tuple[str, list[str]]:
    parts: list[str] = []
    args: list[str] = []
    for column, values in where:
        _checked([column])
        parts.append(f' AND h."{column}" IN ({", ".join("?" for _ in values) or "NULL"})')
        args.extend(values)
    return "".join(parts), args


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > CACHE:
        cache.popitem(last=False)


_open: dict[Path, PiStore] = {}
_open_lock = threading.Lock()


def for_home(home: Path) -> PiStore:
    """The Performance Insights store of a Kura home (one per process)."""
    path = home / "pi.db"
    with _open_lock:
        found = _open.get(path)
        if found is None:
            found = _open[path] = PiStore(path)
        return found


def close_home(home: Path) -> None:
    with _open_lock:
        found = _open.pop(home / "pi.db", None)
    if found is not None:
        found.close()
