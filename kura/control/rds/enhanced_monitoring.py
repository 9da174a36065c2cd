"""RDS Enhanced Monitoring: every MonitoringInterval seconds (1, 5, 10, 15, 30 or 60) an OS metrics
document of each monitored instance's processes into the `RDSOSMetrics` log group (created with the
30 days of retention RDS gives it), stream = the instance's DbiResourceId, as on RDS.

One thread looks at every monitored instance each second — the load averages decay over those
one-second samples, as the kernel's do — and writes a document when its interval is up, measured
against the snapshot of the previous document. A postmaster that changed (restart, failover) starts
a new interval; an instance that is not running (stopped, paused, being created) has no documents.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from kura.control.periodic import Periodic
from kura.control.rds import plan, routing
from kura.control.rds.nodes import node_for
from kura.engines.postgres import pgproc
from kura.env import Env
from kura.metrics import enhanced, logstore, osmetrics
from kura.metrics.osmetrics import Snapshot
from kura.services.rds import classes
from kura.services.rds.records import KIND_INSTANCE
from kura.store.types import Resource

log = logging.getLogger("kura.control.rds.enhanced_monitoring")

GROUP = "RDSOSMetrics"
RETENTION_DAYS = 30
SLACK = 0.05  # seconds: a one-second interval is not skipped for a pass that woke a little early


@dataclass(slots=True)
class _Watch:
    pid: int
    device: str | None
    anchor: Snapshot  # the snapshot the next document is measured from
    last: float  # monotonic: the last load-average sample
    load: enhanced.Load = field(default_factory=enhanced.Load)


def monitored(res: Resource) -> bool:
    return bool(res.spec.get("MonitoringInterval")) and res.spec.get("desired") != "deleted" \
        and bool(res.spec.get("DbiResourceId"))


def _class(res: Resource) -> classes.InstanceClass:
    name = str(res.spec.get("DBInstanceClass") or "")
    if name == classes.SERVERLESS:
        capacity = float((res.status.get("serverless") or {}).get("capacity") or 1.0)
        return classes.serverless(capacity)
    return classes.lookup(name) or classes.InstanceClass(name, 1, 1.0, False)


class Monitor(Periodic):
    name, every, aligned = "kura-enhanced-monitoring", 1.0, True

    def __init__(self, env: Env) -> None:
        super().__init__(env)
        self.store = logstore.for_home(env.settings.home)
        self._watch: dict[str, _Watch] = {}  # DbiResourceId → what is tracked

    def once(self) -> int:
        """Sample every monitored instance; returns how many documents were written."""
        wanted = {str(r.spec["DbiResourceId"]): r for r in self.env.store.list(KIND_INSTANCE) if monitored(r)}
        for ident in [i for i in self._watch if i not in wanted]:
            del self._watch[ident]
        written = 0
        for ident, res in wanted.items():
            try:
                written += self._one(ident, res)
            except Exception:
                log.exception('kind=rds.db-instance id=%s outcome="enhanced monitoring failed"', res.id)
                self._watch.pop(ident, None)
        return written

    def _postmaster(self, res: Resource) -> tuple[int, Path] | None:
        if res.status.get("state") not in plan.RUNNING or routing.paused(res):
            return None
        node = node_for(self.env, res)
        found = pgproc.read_pidfile(node.datadir) if node is not None else None
        if node is None or found is None or not pgproc.is_live_postmaster(found):
            return None
        return found.pid, node.datadir

    def _one(self, ident: str, res: Resource) -> int:
        running = self._postmaster(res)
        if running is None:
            self._watch.pop(ident, None)
            return 0
        pid, datadir = running
        pids = [pid, *pgproc.child_pids(pid)]
        now = self.env.clock.monotonic()
        watch = self._watch.get(ident)
        if watch is None or watch.pid != pid:
            device = osmetrics.device_of(datadir)
            self._watch[ident] = watch = _Watch(pid, device, osmetrics.snapshot(pids, now, device), now)
            return 0
        watch.load.update(osmetrics.count_running(pids), now - watch.last)  # every second: cheap
        watch.last = now
        interval = float(res.spec.get("MonitoringInterval") or 0)
        if now - watch.anchor.at < interval - SLACK:
            return 0
        snap = osmetrics.snapshot(pids, now, watch.device)  # the whole measurement, once an interval
        doc = enhanced.document(self._instance(res, ident, pid, datadir), watch.anchor, snap, watch.load,
                                self.env.clock.now())
        watch.anchor = snap
        self._write(res.region, ident, doc)
        return 1

    def _instance(self, res: Resource, ident: str, pid: int, datadir: Path) -> enhanced.Instance:
        klass = _class(res)
        storage = res.status.get("storage") or {}
        engine = "AURORA" if str(res.spec.get("Engine")).startswith("aurora") else "POSTGRES"
        return enhanced.Instance(res.id, ident, engine, klass.vcpus, klass.memory_bytes, datadir,
                                 pgproc.start_epoch(pid) or self.env.clock.now(),
                                 storage.get("allocated_bytes"), storage.get("used_bytes"))

    def _write(self, region: str, ident: str, doc: dict[str, object]) -> None:
        now_ms = int(self.env.clock.now() * 1000)
        group = self.store.group(region, GROUP)
        if group is None:
            try:
                group = self.store.create_group(region, GROUP, now_ms, retention=RETENTION_DAYS)
            except logstore.Exists:
                group = self.store.ensure_group(region, GROUP, now_ms)
        stream = self.store.ensure_stream(group.id, ident, now_ms)
        self.store.put(group.id, stream.id, [(now_ms, json.dumps(doc, separators=(",", ":")))], now_ms)
