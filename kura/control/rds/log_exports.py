"""RDS log exports to CloudWatch Logs (EnableCloudwatchLogsExports `postgresql`).

Every FOLLOW_EVERY seconds one thread follows the log directory of each exporting DB instance (the
primary's: status["log_dir"] moves with a Multi-AZ failover) into its log group, as RDS names them:
`/aws/rds/instance/<id>/postgresql`, or `/aws/rds/cluster/<cluster>/postgresql` for the members of an
Aurora cluster whose cluster exports; the stream is the instance identifier. The positions are kept
in the log store beside the events (kura.metrics.logtail), so a Kura restart carries on where the
last one committed. An export starts from the moment it is seen enabled (or from the instance's
creation for a new instance), and stops, forgetting its position, when it is disabled or the instance
goes; its log group and events stay, as on AWS.

Only `postgresql` has lines to send: Kura never runs pg_upgrade, so an `upgrade` export has nothing
to deliver (RDS creates that group with the first upgrade).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from kura.control.periodic import Periodic
from kura.env import Env
from kura.metrics import logstore, logtail
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE
from kura.store.types import Resource

log = logging.getLogger("kura.control.rds.log_exports")

FOLLOW_EVERY = 0.25  # seconds: a line shows up in CloudWatch Logs well within a second
REFRESH_EVERY = 1.0  # seconds between reads of which instances export (the files are looked at more often)
SWEEP_EVERY = 60.0  # seconds between retention sweeps of the whole log store
NEW_INSTANCE = 600.0  # an instance this young exports its log from its creation
ENABLED_SLACK_MS = 2000  # an export seen enabled starts a little before that moment
KEY_PREFIX = "rds-postgresql/"
OFF_PREFIX = "rds-postgresql-off/"


@dataclass(frozen=True, slots=True)
class Target:
    instance: Resource
    group: str | None  # None: the instance does not export its log now
    log_dir: Path | None

    @property
    def key(self) -> str:
        """The position's key: one per log directory (a Multi-AZ instance has one per member)."""
        name = self.log_dir.name if self.log_dir else ""
        return f"{self.prefix}{name}"

    @property
    def prefix(self) -> str:
        return f"{KEY_PREFIX}{self.instance.region}/{self.instance.id}/"

    @property
    def off_key(self) -> str:
        """Kept once the instance was seen not exporting: a later export starts when it is enabled."""
        return f"{OFF_PREFIX}{self.instance.region}/{self.instance.id}"


def targets(env: Env) -> list[Target]:
    """Every live instance, with the group its PostgreSQL log goes to when it exports it."""
    clusters = {(c.region, c.id): c for c in env.store.list(KIND_CLUSTER)}
    out = []
    for inst in env.store.list(KIND_INSTANCE):
        if inst.spec.get("desired") == "deleted":
            continue
        cluster_id = inst.spec.get("DBClusterIdentifier")
        owner = clusters.get((inst.region, str(cluster_id))) if cluster_id else inst
        exports = owner.spec.get("EnableCloudwatchLogsExports") if owner is not None else None
        exporting = "postgresql" in (exports or [])
        group = (f"/aws/rds/cluster/{cluster_id}/postgresql" if cluster_id
                 else f"/aws/rds/instance/{inst.id}/postgresql")
        log_dir = inst.status.get("log_dir")
        out.append(Target(inst, group if exporting else None, Path(log_dir) if log_dir else None))
    return out


class Follower(Periodic):
    name, every = "kura-log-exports", FOLLOW_EVERY

    def __init__(self, env: Env) -> None:
        super().__init__(env)
        self.store = logstore.for_home(env.settings.home)
        self._swept = -SWEEP_EVERY
        self._targets: list[Target] = []
        self._refreshed = -REFRESH_EVERY

    def once(self) -> int:
        """One pass over every export (and the retention sweep when due); returns events stored."""
        now_ms = int(self.env.clock.now() * 1000)
        if self.env.clock.monotonic() - self._refreshed >= REFRESH_EVERY:
            self._refreshed = self.env.clock.monotonic()
            self._refresh()
        stored = 0
        for target in self._targets:
            if target.group is not None and target.log_dir is not None:
                stored += self._follow(target, now_ms)
        if self.env.clock.monotonic() - self._swept >= SWEEP_EVERY:
            self._swept = self.env.clock.monotonic()
            gone = self.store.sweep(now_ms)
            if gone:
                log.info('component=logs outcome="retention deleted %d log events"', gone)
        return stored

    def _refresh(self) -> None:
        """Read which instances export; forget the positions of exports that stopped (a new export
        starts afresh) and remember the instances seen not exporting."""
        self._targets = targets(self.env)
        live = {t.prefix for t in self._targets if t.group is not None}
        for key in self.store.cursors(KEY_PREFIX):
            if not any(key.startswith(p) for p in live):
                self.store.drop_cursor(key)
        offs = self.store.cursors(OFF_PREFIX)
        for target in self._targets:
            if target.group is None and target.off_key not in offs:
                self.store.set_cursor(target.off_key, {"created": target.instance.created_at})
        known = {t.off_key for t in self._targets}
        for key in offs:
            if key not in known:
                self.store.drop_cursor(key)  # the instance is gone

    def _since(self, target: Target, now_ms: int) -> int:
        """Where a new export starts: a young instance that never ran without it exports its log from
        its creation; otherwise the export starts when it is seen enabled (a little before)."""
        inst = target.instance
        off = self.store.cursor(target.off_key)
        young = now_ms / 1000 - inst.created_at < NEW_INSTANCE
        if young and (off is None or off.get("created") != inst.created_at):
            return (int(inst.created_at) - 1) * 1000  # the log's timestamps are whole seconds
        return now_ms - ENABLED_SLACK_MS

    def _follow(self, target: Target, now_ms: int) -> int:
        assert target.log_dir is not None and target.group is not None
        inst = target.instance
        group = self.store.ensure_group(inst.region, target.group, now_ms)
        stream = self.store.ensure_stream(group.id, inst.id, now_ms)
        sink = logtail.Sink(self.store, target.key, group.id, stream.id)
        try:
            return logtail.follow(sink, target.log_dir, now_ms, lambda: self._since(target, now_ms))
        except OSError as exc:
            log.info('kind=rds.db-instance id=%s outcome="log export pass failed: %s"', inst.id, exc)
            return 0
