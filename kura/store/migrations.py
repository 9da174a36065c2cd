"""Versioned schema migrations. Append only: a released migration is never edited."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE resources (
            kind TEXT NOT NULL,
            region TEXT NOT NULL,
            id TEXT NOT NULL,
            spec TEXT NOT NULL,
            status TEXT NOT NULL,
            version INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (kind, region, id)
        ) WITHOUT ROWID;
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            region TEXT NOT NULL,
            source_type TEXT NOT NULL,
            source_id TEXT NOT NULL,
            message TEXT NOT NULL,
            categories TEXT NOT NULL,
            extra TEXT NOT NULL
        );
        CREATE INDEX events_by_source ON events (region, source_type, source_id, time);
        CREATE INDEX events_by_time ON events (region, time);
        CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        """,
    ),
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; return it. Safe to run on every start."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] or 0
    for version, sql in MIGRATIONS:
        if version <= current:
            continue
        with conn:
            conn.executescript("BEGIN;" + sql + f"INSERT INTO schema_version VALUES ({version});COMMIT;")
        current = version
    return current
