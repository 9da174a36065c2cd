"""A client that commits continuously through an endpoint and keeps going across failures: the writer of
the Multi-AZ chaos tests and of bench/failover.py.

Every commit inserts one row with a fresh id. An id is *acknowledged* when COMMIT returned; one whose
statement failed midway is *uncertain* (it may or may not have committed). After recovery, every
acknowledged id must be in the table. Failed connection attempts are counted: the router holds new
connections during a failover, so there should be none.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import psycopg


class HaWriter(threading.Thread):
    def __init__(self, host: str, port: int, password: str, *, user: str = "master", dbname: str = "app",
                 table: str = "ledger", pause: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.dsn: dict[str, Any] = {"host": host, "port": port, "user": user, "password": password,
                                    "dbname": dbname, "sslmode": "require", "connect_timeout": 60}
        self.table, self.pause = table, pause
        self.stop_at = threading.Event()
        self.acked: dict[int, float] = {}  # id → when COMMIT returned
        self.uncertain: set[int] = set()
        self.refused: list[str] = []  # failed connection attempts (why)
        self.broken = 0  # established connections that broke
        self._next = 0

    def run(self) -> None:
        while not self.stop_at.is_set():
            try:
                conn = psycopg.connect(autocommit=True, **self.dsn)
            except psycopg.OperationalError as exc:
                self.refused.append(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
                time.sleep(0.05)
                continue
            with conn:
                self._commit_until_broken(conn)

    def _commit_until_broken(self, conn: psycopg.Connection[Any]) -> None:
        while not self.stop_at.is_set():
            self._next += 1
            ident = self._next
            try:
                conn.execute(f"INSERT INTO {self.table} (id) VALUES (%s)", (ident,))
            except psycopg.Error:
                self.uncertain.add(ident)
                self.broken += 1
                return
            self.acked[ident] = time.time()
            if self.pause:
                time.sleep(self.pause)

    def stop(self) -> None:
        self.stop_at.set()
        self.join(90)

    def outage(self, since: float, until: float | None = None) -> float:
        """The longest time without an acknowledged commit between `since` and `until` (the RTO of a
        failure at `since`: the last commit acknowledged before the gap → the first after it)."""
        stamps = list(self.acked.values())  # one C-level copy: the writer thread keeps adding
        times = sorted(t for t in stamps if t >= since - 1 and (until is None or t <= until))
        if len(times) < 2:
            return float("inf")
        return max(b - a for a, b in itertools.pairwise(times))


def missing(writer: HaWriter, present: set[int]) -> list[int]:
    """Acknowledged ids not in the table (must be empty)."""
    return sorted(i for i in list(writer.acked) if i not in present)
