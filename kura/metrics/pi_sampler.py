"""One Performance Insights sample of a PostgreSQL server: its active sessions, each with its wait event,
statement, user, database and client, as `pg_stat_activity` shows them at that instant.

A session's statement is kept twice, as on RDS: `db.sql` is the text as it runs (literals in, passwords
out) and `db.sql_tokenized` its digest, pg_stat_statements' normalized text of the session's query id
(`compute_query_id` is on when pg_stat_statements is preloaded, as RDS's default parameter group does).
pg_stat_statements has no entry for a statement that has not finished once; its digest is then the
statement with its literals replaced here, until pg_stat_statements knows it (asked again every
RETRY_LOOKUP seconds, also after the session ended, whose digest is then recorded).

A session counts while it runs a statement or sits in an open transaction (idle in transaction: it
waits on Client:ClientRead, as RDS shows it); idle sessions, Kura's own (the superuser, `rdsadmin`)
and this sampler's connection do not.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

CPU = "CPU"
TEXT_LIMIT = 4096  # RDS's track_activity_query_size: longer statements are cut there too
RETRY_LOOKUP = 10.0  # seconds before asking pg_stat_statements again about a query id it did not know
KNOWN_AT_MOST = 20_000
PENDING_FOR = 600.0  # seconds a digest made here is waited on (pg_stat_statements adds it at the end)

_ACTIVITY = """
SELECT a.wait_event_type, a.wait_event, {query_id}, left(a.query, {limit}), a.usesysid, a.usename,
       host(a.client_addr), a.client_hostname, a.datname, a.application_name
  FROM pg_stat_activity a
 WHERE a.state IN ('active', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call')
   AND a.pid <> pg_backend_pid() AND a.backend_type <> 'walsender' AND a.usename IS DISTINCT FROM %s
"""
_DIGESTS = "SELECT DISTINCT ON (queryid) queryid, query FROM pg_stat_statements WHERE queryid = ANY(%s)"
_PASSWORD = re.compile(r"(?i)(\bpassword\s+)'(?:[^']|'')*'")
_LITERAL = re.compile(r"""'(?:[^']|'')*'|(?<![\w$."])-?\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b""")


@dataclass(frozen=True, slots=True)
class Statement:
    kind: str  # "sql" (as it runs) or "tokenized" (its digest)
    id: str  # db.sql.id / db.sql_tokenized.id: a hash of the text (of the query id, for a digest)
    db_id: str  # the engine's query id, else a synthetic "pi-…"
    text: str
    tokenized_id: str = ""  # a "sql" statement's digest
    final: bool = True  # False: a digest made here, to be replaced by pg_stat_statements' text


@dataclass(frozen=True, slots=True)
class Session:
    """What one active session counts under: the columns the dimension groups are made of."""

    wait_type: str
    wait_event: str
    sql_id: str
    tokenized_id: str
    user_id: str
    user: str
    host_id: str
    host: str
    db: str
    app: str


@dataclass(frozen=True, slots=True)
class Second:
    ts: int
    sessions: list[Session]
    statements: list[Statement]


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest().upper()


def synthetic_id(text: str) -> str:
    return f"pi-{int(digest(text)[:8], 16)}"


def redact(text: str) -> str:
    return _PASSWORD.sub(r"\1'***'", text)


def normalize(text: str) -> str:
    """Literals replaced by $1, $2… (what pg_stat_statements shows), for digests it does not know."""
    counter = iter(range(1, 1 << 30))
    return _LITERAL.sub(lambda m: f"${next(counter)}", text)


@dataclass(slots=True)
class Connection:
    """The sampler's one session on one instance, and what it learnt there."""

    conn: psycopg.Connection[Any]
    has_query_id: bool
    has_statements: bool
    digests: dict[int, str] = field(default_factory=dict)  # query id → pg_stat_statements' text
    missing: dict[int, float] = field(default_factory=dict)  # query id → when it was last asked about
    pending: dict[int, float] = field(default_factory=dict)  # query id → when first seen without a digest

    @classmethod
    def open(cls, conn: psycopg.Connection[Any]) -> Connection:
        """Set up a fresh autocommit superuser connection to the `postgres` database. pg_stat_statements
        is made available there when preloaded (on a primary; a standby has what its primary made)."""
        conn.execute("SET statement_timeout = 2000")
        conn.execute("SET application_name = 'kura performance insights'")
        version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
        row = conn.execute("SELECT current_setting('shared_preload_libraries') ~ 'pg_stat_statements', "
                           "pg_is_in_recovery(), EXISTS (SELECT 1 FROM pg_extension WHERE extname = "
                           "'pg_stat_statements')").fetchone()
        assert row is not None
        loaded, standby, present = (bool(v) for v in row)
        if loaded and not present and not standby:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                present = True
            except psycopg.Error:  # e.g. fenced read-only (storage-full): sampled without digests
                pass
        return cls(conn, version >= 140000, loaded and present)

    def close(self) -> None:
        self.conn.close()


def sample(source: Connection, superuser: str, now: float | None = None) -> Second:
    """Read the active sessions once."""
    ts = int(now if now is not None else time.time())
    query = _ACTIVITY.format(query_id="a.query_id" if source.has_query_id else "NULL::bigint",
                             limit=TEXT_LIMIT)
    rows = source.conn.execute(query, (superuser,)).fetchall()
    clock = time.monotonic()
    active = {int(r[2]) for r in rows if r[2] is not None}
    learnt = _learn(source, active | set(source.pending), clock)
    statements: dict[tuple[str, str], Statement] = {}
    for query_id in learnt:  # digests of sessions gone meanwhile, now known
        st = Statement("tokenized", _tokenized_id(query_id), str(query_id), source.digests[query_id])
        statements[(st.kind, st.id)] = st
    sessions: list[Session] = []
    for wait_type, wait_event, query_id, text, user_id, user, addr, hostname, db, app in rows:
        sql, tokenized = _statements(source, redact(str(text or "")), query_id)
        statements[(sql.kind, sql.id)] = sql
        statements[(tokenized.kind, tokenized.id)] = tokenized
        sessions.append(Session(
            wait_type=str(wait_type or CPU), wait_event=str(wait_event or CPU), sql_id=sql.id,
            tokenized_id=tokenized.id, user_id=str(user_id or ""), user=str(user or ""),
            host_id=str(addr or "local"), host=str(hostname or addr or "local"), db=str(db or ""),
            app=str(app or "")))
    return Second(ts, sessions, list(statements.values()))


def _learn(source: Connection, query_ids: set[int], now: float) -> list[int]:
    """Ask pg_stat_statements for the digests of query ids not known yet (rarely more than a few);
    returns the pending ones it now knows."""
    for query_id, since in list(source.pending.items()):
        if now - since > PENDING_FOR:
            del source.pending[query_id]
    if len(source.digests) + len(source.missing) > KNOWN_AT_MOST:  # pg_stat_statements.max is 5,000
        source.digests.clear()
        source.missing.clear()
    wanted = [q for q in query_ids if q not in source.digests and now - source.missing.get(q, -1e9)
              >= RETRY_LOOKUP]
    if not wanted or not source.has_statements:
        return []
    for query_id, text in source.conn.execute(_DIGESTS, (wanted,)).fetchall():
        source.digests[int(query_id)] = redact(str(text))
        source.missing.pop(int(query_id), None)
    for query_id in wanted:
        if query_id not in source.digests:
            source.missing[query_id] = now
            source.pending.setdefault(query_id, now)
    return [q for q in wanted if q in source.digests and source.pending.pop(q, None) is not None]


def _tokenized_id(query_id: int) -> str:
    return digest(f"query id {query_id}")


def _statements(source: Connection, text: str, query_id: int | None) -> tuple[Statement, Statement]:
    known = source.digests.get(query_id) if query_id is not None else None
    if query_id is not None:
        tokenized = Statement("tokenized", _tokenized_id(query_id), str(query_id),
                              known if known is not None else normalize(text), final=known is not None)
    else:
        shown = normalize(text)
        tokenized = Statement("tokenized", digest(shown), synthetic_id(shown), shown)
    sql_id = digest(text)
    return Statement("sql", sql_id, synthetic_id(text), text, tokenized.id), tokenized
