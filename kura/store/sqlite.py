"""The embedded store: SQLite in WAL mode, one connection per thread."""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from kura.clock import Clock, SystemClock
from kura.store.migrations import migrate
from kura.store.types import AlreadyExists, ChangeListener, Event, Resource, VersionConflict


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


_loads = orjson.loads


class SqliteStore:
    def __init__(self, path: Path | str, clock: Clock | None = None) -> None:
        self.path = str(path)
        self.clock: Clock = clock or SystemClock()
        self._local = threading.local()
        self._listeners: list[ChangeListener] = []
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        migrate(self._conn())

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            self._local.depth = 0
            self._local.pending = []
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._conn()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield
        except BaseException:
            self._local.depth = 0
            self._local.pending = []
            conn.execute("ROLLBACK")
            raise
        self._local.depth = 0
        conn.execute("COMMIT")
        pending, self._local.pending = self._local.pending, []
        for change in pending:
            self._notify(*change)

    def _changed(self, kind: str, region: str, id: str) -> None:
        if self._local.depth:
            self._local.pending.append((kind, region, id))
        else:
            self._notify(kind, region, id)

    def _notify(self, kind: str, region: str, id: str) -> None:
        for listener in list(self._listeners):
            listener(kind, region, id)

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    # -- resources ---------------------------------------------------------------------------
    @staticmethod
    def _row(row: tuple[Any, ...]) -> Resource:
        kind, region, id, spec, status, version, created, updated = row
        return Resource(kind, region, id, _loads(spec), _loads(status), version, created, updated)

    _COLS = "kind, region, id, spec, status, version, created_at, updated_at"

    def get(self, kind: str, region: str, id: str) -> Resource | None:
        row = self._conn().execute(
            f"SELECT {self._COLS} FROM resources WHERE kind=? AND region=? AND id=?", (kind, region, id)
        ).fetchone()
        return self._row(row) if row else None

    def list(self, kind: str, region: str | None = None) -> list[Resource]:
        if region is None:
            rows = self._conn().execute(
                f"SELECT {self._COLS} FROM resources WHERE kind=? ORDER BY region, id", (kind,)
            )
        else:
            rows = self._conn().execute(
                f"SELECT {self._COLS} FROM resources WHERE kind=? AND region=? ORDER BY id", (kind, region)
            )
        return [self._row(r) for r in rows]

    def create(
        self, kind: str, region: str, id: str, spec: dict[str, Any], status: dict[str, Any] | None = None
    ) -> Resource:
        now = self.clock.now()
        status = status or {}
        try:
            self._conn().execute(
                f"INSERT INTO resources ({self._COLS}) VALUES (?,?,?,?,?,1,?,?)",
                (kind, region, id, _dumps(spec), _dumps(status), now, now),
            )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"{kind} {region}/{id} exists") from exc
        self._changed(kind, region, id)
        return Resource(kind, region, id, spec, status, 1, now, now)

    def update(
        self, res: Resource, *, spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None
    ) -> Resource:
        now = self.clock.now()
        new_spec = res.spec if spec is None else spec
        new_status = res.status if status is None else status
        cur = self._conn().execute(
            "UPDATE resources SET spec=?, status=?, version=version+1, updated_at=? "
            "WHERE kind=? AND region=? AND id=? AND version=?",
            (_dumps(new_spec), _dumps(new_status), now, res.kind, res.region, res.id, res.version),
        )
        if cur.rowcount != 1:
            raise VersionConflict(f"{res.kind} {res.region}/{res.id} changed since version {res.version}")
        self._changed(res.kind, res.region, res.id)
        return Resource(res.kind, res.region, res.id, new_spec, new_status, res.version + 1,
                        res.created_at, now)

    def delete(self, res: Resource) -> None:
        cur = self._conn().execute(
            "DELETE FROM resources WHERE kind=? AND region=? AND id=? AND version=?",
            (res.kind, res.region, res.id, res.version),
        )
        if cur.rowcount != 1:
            raise VersionConflict(f"{res.kind} {res.region}/{res.id} changed since version {res.version}")
        self._changed(res.kind, res.region, res.id)

    # -- events ------------------------------------------------------------------------------
    def add_event(self, event: Event) -> Event:
        when = event.time or self.clock.now()
        cur = self._conn().execute(
            "INSERT INTO events (time, region, source_type, source_id, message, categories, extra) "
            "VALUES (?,?,?,?,?,?,?)",
            (when, event.region, event.source_type, event.source_id, event.message,
             _dumps(list(event.categories)), _dumps(event.extra)),
        )
        return Event(event.region, event.source_type, event.source_id, event.message, event.categories,
                     when, cur.lastrowid or 0, event.extra)

    def events(
        self,
        region: str,
        *,
        since: float = 0.0,
        until: float | None = None,
        source_type: str | None = None,
        source_id: str | None = None,
    ) -> builtins.list[Event]:
        sql = "SELECT seq, time, region, source_type, source_id, message, categories, extra FROM events " \
              "WHERE region=? AND time>=?"
        args: list[Any] = [region, since]
        if until is not None:
            sql += " AND time<=?"
            args.append(until)
        if source_type is not None:
            sql += " AND source_type=?"
            args.append(source_type)
        if source_id is not None:
            sql += " AND source_id=?"
            args.append(source_id)
        sql += " ORDER BY seq"
        return [
            Event(r[2], r[3], r[4], r[5], tuple(_loads(r[6])), r[1], r[0], _loads(r[7]))
            for r in self._conn().execute(sql, args)
        ]

    # -- small values ------------------------------------------------------------------------
    def get_value(self, key: str) -> Any | None:
        row = self._conn().execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return _loads(row[0]) if row else None

    def set_value(self, key: str, value: Any) -> None:
        self._conn().execute(
            "INSERT INTO kv (key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, _dumps(value)),
        )

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
