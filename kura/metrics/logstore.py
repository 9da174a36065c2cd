"""The embedded CloudWatch Logs store: log groups, log streams and their events in an SQLite file of
their own ($KURA_HOME/logs.db), so that a PostgreSQL log line or an Enhanced Monitoring sample costs a
row in a batch, never a resource of the state store.

Events are ordered by (timestamp, seq): `seq` is a never-reused counter (the table's AUTOINCREMENT
rowid), which makes event ids and pagination positions stable. Tailers keep their file offsets in the
`cursors` table and commit them in the same transaction as the events they read, so a crash or a
restart neither loses nor repeats a line.

Retention is applied twice: readers never see an event older than its group's retention, and
`sweep` deletes them (the control plane calls it every minute).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAY_MS = 86_400_000
EVENT_OVERHEAD = 26  # bytes CloudWatch Logs counts per event on top of its message
_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
    retention INTEGER, kms_key TEXT, class TEXT NOT NULL, tags TEXT NOT NULL,
    protected INTEGER NOT NULL DEFAULT 0, UNIQUE (region, name));
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
    first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (grp, name));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, grp INTEGER NOT NULL, stream INTEGER NOT NULL,
    ts INTEGER NOT NULL, ingest INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_group ON events (grp, ts);
CREATE INDEX IF NOT EXISTS events_stream ON events (stream, ts);
CREATE TABLE IF NOT EXISTS cursors (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Exists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    region: str
    name: str
    created: int  # ms
    retention: int | None  # days
    kms_key: str | None
    cls: str
    tags: dict[str, str]
    protected: bool = False  # deletionProtectionEnabled
    stored_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Stream:
    id: int
    group: int
    name: str
    created: int
    first_ts: int | None
    last_ts: int | None
    last_ingest: int | None
    bytes: int


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    stream: int
    ts: int  # ms
    ingest: int  # ms
    message: str

    @property
    def position(self) -> tuple[int, int]:
        return (self.ts, self.seq)


Position = tuple[int, int]  # (timestamp ms, seq): events are strictly ordered by it


def _group(row: Sequence[Any]) -> Group:
    return Group(int(row[0]), row[1], row[2], int(row[3]), row[4], row[5], row[6], json.loads(row[7]),
                 bool(row[8]), int(row[9] or 0))


def _stream(row: Sequence[Any]) -> Stream:
    return Stream(*row)


class LogStore:
    def __init__(self, path: Path) -> None:
        self._write = self._connect(path)
        self._write.executescript(_SCHEMA)
        self._read = self._connect(path)
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._wlock:
            self._write.execute("BEGIN IMMEDIATE")
            try:
                yield self._write
                self._write.execute("COMMIT")
            except BaseException:
                self._write.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._rlock:
            return self._read.execute(sql, args).fetchall()

    # -- groups ------------------------------------------------------------------------------
    def create_group(self, region: str, name: str, created: int, *, retention: int | None = None,
                     kms_key: str | None = None, cls: str = "STANDARD",
                     tags: dict[str, str] | None = None, protected: bool = False) -> Group:
        try:
            with self._tx() as db:
                cur = db.execute("INSERT INTO groups (region, name, created, retention, kms_key, class, "
                                 "tags, protected) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (region, name, created, retention, kms_key, cls, json.dumps(tags or {}),
                                  int(protected)))
        except sqlite3.IntegrityError as exc:
            raise Exists(name) from exc
        return Group(int(cur.lastrowid or 0), region, name, created, retention, kms_key, cls,
                     dict(tags or {}), protected)

    def ensure_group(self, region: str, name: str, created: int) -> Group:
        """The group, created first if it does not exist (what AWS services do when they deliver)."""
        found = self.group(region, name)
        if found is not None:
            return found
        try:
            return self.create_group(region, name, created)
        except Exists:
            again = self.group(region, name)
            assert again is not None
            return again

    _GROUP_COLS = ("g.id, g.region, g.name, g.created, g.retention, g.kms_key, g.class, g.tags, g.protected, "
                   "(SELECT SUM(bytes) FROM streams s WHERE s.grp = g.id)")

    def group(self, region: str, name: str) -> Group | None:
        rows = self._rows(f"SELECT {self._GROUP_COLS} FROM groups g WHERE region=? AND name=?",
                          (region, name))
        return _group(rows[0]) if rows else None

    def groups(self, region: str, prefix: str = "") -> list[Group]:
        """The region's groups whose name starts with `prefix`, by name."""
        rows = self._rows(f"SELECT {self._GROUP_COLS} FROM groups g WHERE region=? AND substr(name, 1, ?)=? "
                          "ORDER BY name", (region, len(prefix), prefix))
        return [_group(r) for r in rows]

    def all_groups(self) -> list[Group]:
        return [_group(r) for r in self._rows(f"SELECT {self._GROUP_COLS} FROM groups g")]

    def delete_group(self, group: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM events WHERE grp=?", (group,))
            db.execute("DELETE FROM streams WHERE grp=?", (group,))
            db.execute("DELETE FROM groups WHERE id=?", (group,))

    def set_retention(self, group: int, days: int | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE groups SET retention=? WHERE id=?", (days, group))

    def set_tags(self, group: int, tags: dict[str, str]) -> None:
        with self._tx() as db:
            db.execute("UPDATE groups SET tags=? WHERE id=?", (json.dumps(tags), group))

    def set_protected(self, group: int, protected: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE groups SET protected=? WHERE id=?", (int(protected), group))

    # -- streams -----------------------------------------------------------------------------
    _STREAM_COLS = "id, grp, name, created, first_ts, last_ts, last_ingest, bytes"

    def create_stream(self, group: int, name: str, created: int) -> Stream:
        try:
            with self._tx() as db:
                cur = db.execute("INSERT INTO streams (grp, name, created) VALUES (?, ?, ?)",
                                 (group, name, created))
        except sqlite3.IntegrityError as exc:
            raise Exists(name) from exc
        return Stream(int(cur.lastrowid or 0), group, name, created, None, None, None, 0)

    def ensure_stream(self, group: int, name: str, created: int) -> Stream:
        found = self.stream(group, name)
        if found is not None:
            return found
        try:
            return self.create_stream(group, name, created)
        except Exists:
            again = self.stream(group, name)
            assert again is not None
            return again

    def stream(self, group: int, name: str) -> Stream | None:
        rows = self._rows(f"SELECT {self._STREAM_COLS} FROM streams WHERE grp=? AND name=?", (group, name))
        return _stream(rows[0]) if rows else None

    def streams(self, group: int) -> list[Stream]:
        return [_stream(r) for r in self._rows(f"SELECT {self._STREAM_COLS} FROM streams WHERE grp=? "
                                               "ORDER BY name", (group,))]

    def delete_stream(self, stream: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM events WHERE stream=?", (stream,))
            db.execute("DELETE FROM streams WHERE id=?", (stream,))

    # -- events ------------------------------------------------------------------------------
    def put(self, group: int, stream: int, events: Sequence[tuple[int, str]], ingest: int,
            cursor: tuple[str, dict[str, Any]] | None = None) -> None:
        """Append (timestamp ms, message) events; with `cursor`, record the tailer's new position in the
        same transaction."""
        with self._tx() as db:
            if events:
                db.executemany("INSERT INTO events (grp, stream, ts, ingest, message) VALUES (?, ?, ?, ?, ?)",
                               [(group, stream, ts, ingest, message) for ts, message in events])
                size = sum(len(m.encode()) + EVENT_OVERHEAD for _, m in events)
                low, high = min(ts for ts, _ in events), max(ts for ts, _ in events)
                db.execute("UPDATE streams SET first_ts = MIN(COALESCE(first_ts, ?), ?), "
                           "last_ts = MAX(COALESCE(last_ts, ?), ?), last_ingest = ?, bytes = bytes + ? "
                           "WHERE id=?", (low, low, high, high, ingest, size, stream))
            if cursor is not None:
                db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (cursor[0], json.dumps(cursor[1])))

    def events(self, *, group: int, streams: Sequence[int] | None, start: int, end: int | None,
               after: Position | None = None, before: Position | None = None, limit: int = 1000,
               descending: bool = False) -> list[Event]:
        """Up to `limit` events of a group (or of some of its streams) with start <= ts < end, strictly
        after `after` and before `before`, oldest first (newest first with `descending`)."""
        if streams is not None and len(streams) == 1:  # one stream: its own index
            where, args = ["stream=?", "ts>=?"], [streams[0], start]
        else:
            where, args = ["grp=?", "ts>=?"], [group, start]
            if streams is not None:
                if not streams:
                    return []
                where.append(f"stream IN ({','.join('?' * len(streams))})")
                args += list(streams)
        if end is not None:
            where.append("ts<?")
            args.append(end)
        if after is not None:
            where.append("(ts>? OR (ts=? AND seq>?))")
            args += [after[0], after[0], after[1]]
        if before is not None:
            where.append("(ts<? OR (ts=? AND seq<?))")
            args += [before[0], before[0], before[1]]
        order = "DESC" if descending else "ASC"
        rows = self._rows(f"SELECT seq, stream, ts, ingest, message FROM events WHERE {' AND '.join(where)} "
                          f"ORDER BY ts {order}, seq {order} LIMIT ?", (*args, limit))
        return [Event(*r) for r in rows]

    def sweep(self, now_ms: int) -> int:
        """Delete what the groups' retention no longer keeps; returns how many events went."""
        return sum(self.expire(g.id, now_ms - g.retention * DAY_MS) for g in self.all_groups()
                   if g.retention is not None)

    def expire(self, group: int, cutoff: int) -> int:
        """Delete a group's events older than `cutoff` (ms); returns how many went."""
        gone = 0
        with self._tx() as db:
            sizes = db.execute("SELECT stream, COUNT(*), SUM(length(CAST(message AS BLOB))) FROM events "
                               "WHERE grp=? AND ts<? GROUP BY stream", (group, cutoff)).fetchall()
            for stream, count, size in sizes:
                db.execute("UPDATE streams SET bytes = MAX(0, bytes - ?) WHERE id=?",
                           (int(size or 0) + EVENT_OVERHEAD * int(count), stream))
                gone += int(count)
            if sizes:
                db.execute("DELETE FROM events WHERE grp=? AND ts<?", (group, cutoff))
        return gone

    # -- tailers' positions ------------------------------------------------------------------
    def cursor(self, key: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT value FROM cursors WHERE key=?", (key,))
        return dict(json.loads(rows[0][0])) if rows else None

    def cursors(self, prefix: str) -> dict[str, dict[str, Any]]:
        rows = self._rows("SELECT key, value FROM cursors WHERE substr(key, 1, ?)=?", (len(prefix), prefix))
        return {k: dict(json.loads(v)) for k, v in rows}

    def set_cursor(self, key: str, value: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (key, json.dumps(value)))

    def drop_cursor(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM cursors WHERE key=?", (key,))

    def close(self) -> None:
        with self._wlock, self._rlock:
            self._write.close()
            self._read.close()


_open: dict[Path, LogStore] = {}
_open_lock = threading.Lock()


def for_home(home: Path) -> LogStore:
    """The log store of a Kura home (one per process)."""
    path = home / "logs.db"
    with _open_lock:
        found = _open.get(path)
        if found is None:
            found = _open[path] = LogStore(path)
        return found


def close_home(home: Path) -> None:
    with _open_lock:
        found = _open.pop(home / "logs.db", None)
    if found is not None:
        found.close()
