"""The Performance Insights sampler: once a second, the active sessions of every running DB instance
with EnablePerformanceInsights, into the PI store (kura.metrics.pi_store). (The CloudWatch DBLoad
metrics are the metrics collector's, kura.metrics.pg.)

One thread for all instances, one open connection per instance (as `rdsadmin` over the instance's
private unix socket, reopened when the postmaster changes: restart, failover). An instance that cannot
be sampled (starting, stopping, paused) is skipped for that second; its seconds then read as no data.
Once a minute, data older than each instance's retention is dropped.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from kura.control.periodic import Periodic
from kura.control.rds import plan, routing
from kura.control.rds.nodes import node_for
from kura.engines.postgres import pgproc
from kura.engines.postgres.templates import SUPERUSER
from kura.env import Env
from kura.metrics import pi_sampler, pi_store
from kura.metrics.pi_sampler import Connection, Second
from kura.services.rds.records import KIND_INSTANCE
from kura.store.types import Resource

log = logging.getLogger("kura.control.rds.insights")

DAY = 86400
PRUNE_EVERY = 60.0
RETRY_CONNECT = 5.0  # seconds before trying again to connect to an instance that refused


@dataclass(slots=True)
class _Open:
    source: Connection
    datadir: Path
    pid: int


def enabled(res: Resource) -> bool:
    return bool(res.spec.get("EnablePerformanceInsights")) and res.spec.get("desired") != "deleted"


class Sampler(Periodic):
    """One sample a second, just after each whole second (evenly spaced)."""

    name, every, aligned = "kura-pi-sampler", 1.0, True

    def __init__(self, env: Env) -> None:
        super().__init__(env)
        self.store = pi_store.for_home(env.settings.home)
        self._open: dict[str, _Open] = {}  # DbiResourceId → its connection
        self._refused: dict[str, float] = {}  # DbiResourceId → when a connect last failed (monotonic)
        self._pruned = 0.0

    def stop(self) -> None:
        super().stop()
        for ident in list(self._open):
            self._close(ident)

    def once(self) -> int:
        """One pass: sample, record, prune when due; returns how many instances were sampled."""
        wanted = {str(r.spec.get("DbiResourceId")): r for r in self.env.store.list(KIND_INSTANCE)
                  if enabled(r) and r.spec.get("DbiResourceId")}
        for ident in [i for i in self._open if i not in wanted]:
            self._close(ident)
        now = self.env.clock.now()
        seconds: list[tuple[str, Second]] = []
        for ident, res in wanted.items():
            second = self._sample(ident, res, now)
            if second is not None:
                seconds.append((ident, second))
        if seconds:
            self.store.record(seconds)
        if self.env.clock.monotonic() - self._pruned >= PRUNE_EVERY:
            self._pruned = self.env.clock.monotonic()
            kept = {i: float(r.spec.get("PerformanceInsightsRetentionPeriod") or 7) * DAY
                    for i, r in wanted.items()}
            self.store.prune(kept, now, 7 * DAY)
        return len(seconds)

    def _sample(self, ident: str, res: Resource, now: float) -> Second | None:
        opened = self._connection(ident, res)
        if opened is None:
            return None
        try:
            return pi_sampler.sample(opened.source, SUPERUSER, now)
        except Exception as exc:  # the connection is reopened next second; other instances go on
            log.info('kind=rds.db-instance id=%s outcome="performance insights sample failed: %s"', res.id,
                     _first_line(exc), exc_info=not isinstance(exc, psycopg.Error))
            self._close(ident)
            return None

    def _connection(self, ident: str, res: Resource) -> _Open | None:
        if res.status.get("state") not in plan.RUNNING or routing.paused(res):
            self._close(ident)
            return None
        node = node_for(self.env, res)
        found = pgproc.read_pidfile(node.datadir) if node is not None else None
        if node is None or found is None or not pgproc.is_live_postmaster(found):
            self._close(ident)
            return None
        current = self._open.get(ident)
        if current is not None and (current.datadir, current.pid) == (node.datadir, found.pid):
            return current
        self._close(ident)
        if self.env.clock.monotonic() - self._refused.get(ident, -RETRY_CONNECT) < RETRY_CONNECT:
            return None
        try:
            source = _open(node.connect("postgres", connect_timeout=2))
        except Exception as exc:  # not running after all, refused, or too slow: tried again later
            self._refused[ident] = self.env.clock.monotonic()
            log.info('kind=rds.db-instance id=%s outcome="performance insights cannot connect: %s"', res.id,
                     _first_line(exc))
            return None
        self._refused.pop(ident, None)
        self.store.set_features(ident, {"pg_stat_statements":
                                        "ENABLED" if source.has_statements else "DISABLED"})
        opened = self._open[ident] = _Open(source, node.datadir, found.pid)
        return opened

    def _close(self, ident: str) -> None:
        found = self._open.pop(ident, None)
        if found is not None:
            with contextlib.suppress(Exception):
                found.source.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open(conn: psycopg.Connection[Any]) -> Connection:
    try:
        return Connection.open(conn)
    except BaseException:
        conn.close()
        raise


_running: dict[Path, Sampler] = {}


def start(env: Env) -> Sampler:
    sampler = _running[env.settings.home] = Sampler(env)
    sampler.start()
    return sampler


def stop(env: Env) -> None:
    sampler = _running.pop(env.settings.home, None)
    if sampler is not None:
        sampler.stop()
    pi_store.close_home(env.settings.home)
