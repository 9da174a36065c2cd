"""The collector: every second, the AWS/RDS and AWS/ElastiCache metrics of every running DB instance and
cache node, recorded in one write into the series store.

One thread, started with the server. Each tick takes the resources (listed again only after one
changed: the store tells its subscribers), samples each (rds.py: one prepared
statement over a kept connection plus /proc; elasticache.py: one INFO), then adds the aggregate series
CloudWatch publishes beside the per-resource ones: per DatabaseClass and per EngineName (every
instance), per DBClusterIdentifier and per DBClusterIdentifier + Role (WRITER/READER) for Aurora
members — each aggregate's datapoint of a second holds every member's value (SampleCount = members,
Sum, Minimum, Maximum, the values), as CloudWatch combines them — and ServerlessDatabaseCapacity /
ACUUtilization per cluster (serverless.py records them per instance). Ticks keep to the wall-clock
second; one slower than a second skips the seconds it missed rather than bunching up. What the
collector itself costs is kept (`Stats`: its thread's CPU time, ticks, resources) and shown on
/metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from kura.control.rds import routing
from kura.env import Env
from kura.metrics import elasticache, latest, procfs, rds, series
from kura.metrics.pg import Metric
from kura.services.elasticache.records import KIND_CACHE_CLUSTER
from kura.services.rds import classes
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE
from kura.store.types import Resource

log = logging.getLogger("kura.metrics.collector")

INTERVAL = 1.0
RELIST = 10.0
WATCHED = (KIND_INSTANCE, KIND_CLUSTER, KIND_CACHE_CLUSTER)
Key = tuple[str, str]  # (region, id)


@dataclass
class Stats:
    ticks: int = 0
    cpu_seconds: float = 0.0  # the collector thread's own CPU time
    instances: int = 0
    cache_nodes: int = 0
    last_tick_seconds: float = 0.0


Dims = tuple[tuple[str, str], ...]  # sorted (name, value) pairs


@dataclass
class _Second:
    """One tick's output: each resource's own values (plain tuples) and the aggregates' values grouped by
    the series they feed, (region, dims, name, unit) → every member's value."""

    namespace: str
    values: list[latest.Measured] = field(default_factory=list)
    groups: dict[tuple[str, Dims, str, str], list[float]] = field(default_factory=lambda: defaultdict(list))

    def own(self, region: str, dims: Dims, found: list[Metric], aggregates: list[Dims]) -> None:
        for name, value, unit in found:
            self.values.append(((self.namespace, name, dims, region), unit, value))
            for group in aggregates:
                self.groups[(region, group, name, unit)].append(value)

    def datums(self, ts: float) -> list[series.Datum]:
        return [series.Datum(self.namespace, name, dict(dims), unit, ts, region, float(len(values)),
                             sum(values), min(values), max(values), tuple((v, 1.0) for v in values))
                for (region, dims, name, unit), values in self.groups.items()]


class Collector:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.stats = Stats()
        self._rds: dict[Key, rds.Probe] = {}
        self._cache: dict[Key, elasticache.Probe] = {}
        self._procs = procfs.ProcReader()
        self._cpus = procfs.host_cpus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listed: dict[str, tuple[float, list[Resource]]] = {}  # kind → (monotonic, resources)
        self._stale: set[str] = set(WATCHED)
        env.store.subscribe(self._changed)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kura-metrics", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for probe in self._rds.values():
            probe.close()
        for cache in self._cache.values():
            cache.close()
        self._procs.close()

    def _run(self) -> None:
        next_at = time.time()
        while not self._stop.is_set():
            started = time.thread_time()
            try:
                self.tick()
            except Exception:
                log.exception("metrics collection failed this second")
            self.stats.cpu_seconds += time.thread_time() - started
            latest.set_counters({"cpu_seconds": self.stats.cpu_seconds})
            next_at += INTERVAL
            now = time.time()
            if next_at < now:  # a slow tick: skip the seconds it overran
                next_at = now + INTERVAL - (now - next_at) % INTERVAL
            self._stop.wait(max(0.0, next_at - now))

    # -- one second ------------------------------------------------------------------------------------
    def _changed(self, kind: str, region: str, ident: str) -> None:
        if kind in WATCHED:
            self._stale.add(kind)

    def _list(self, kind: str, mono: float) -> list[Resource]:
        """The resources of a kind, listed again only when one changed (or every RELIST seconds): decoding
        every instance's record every second would cost more than measuring it."""
        found = self._listed.get(kind)
        if found is None or kind in self._stale or mono - found[0] > RELIST:
            self._stale.discard(kind)  # before listing: a change meanwhile marks it again
            found = self._listed[kind] = (mono, self.env.store.list(kind))
        return found[1]

    def tick(self) -> None:
        began = time.monotonic()
        now, mono = self.env.clock.now(), self.env.clock.monotonic()
        seconds = [self._rds_tick(mono), self._cache_tick(mono)]
        self._procs.sweep()
        values = [v for second in seconds for v in second.values]
        datums = [d for second in seconds for d in second.datums(now)]
        if values or datums:
            series.for_home(self.env.settings.home).put_measured(now, values, datums)
        self.stats.ticks += 1
        self.stats.last_tick_seconds = time.monotonic() - began
        latest.set_counters({"ticks": self.stats.ticks, "cpu_seconds": self.stats.cpu_seconds,
                             "instances": self.stats.instances, "cache_nodes": self.stats.cache_nodes,
                             "last_tick_seconds": self.stats.last_tick_seconds})

    def _rds_tick(self, mono: float) -> _Second:
        everything = self._list(KIND_INSTANCE, mono)
        clusters = {(c.region, c.id): c for c in self._list(KIND_CLUSTER, mono)}
        seen: set[Key] = set()
        out = _Second(rds.NAMESPACE)
        for res in everything:
            self._serverless(res, clusters, out)
        for res in (r for r in everything if rds.measurable(r)):
            key = (res.region, res.id)
            seen.add(key)
            probe = self._rds.setdefault(key, rds.Probe())
            try:
                found = rds.sample(self.env, res, probe, self._procs, mono, self._cpus)
            except Exception:
                log.exception("metrics of DB instance %s failed", res.id)
                probe.close()
                continue
            out.own(res.region, (("DBInstanceIdentifier", res.id),), found, _aggregate_dims(res, clusters))
        self._forget(self._rds, seen)
        self.stats.instances = len(seen)
        return out

    def _serverless(self, res: Resource, clusters: dict[Key, Resource], out: _Second) -> None:
        """A running or paused (capacity 0) db.serverless member's capacity, into its cluster's series."""
        cluster_id = res.spec.get("DBClusterIdentifier")
        shown = res.status.get("serverless") or {}
        if res.spec.get("DBInstanceClass") != classes.SERVERLESS or not cluster_id or "capacity" not in shown:
            return
        if res.spec.get("desired") == "deleted" or not (rds.measurable(res) or routing.paused(res)):
            return
        capacity = 0.0 if routing.paused(res) else float(shown["capacity"])
        high = float(shown.get("max") or 0)
        found: list[Metric] = [("ServerlessDatabaseCapacity", capacity, "None"),
                               ("ACUUtilization", 100.0 * capacity / high if high else 0.0, "Percent")]
        # its own series (DBInstanceIdentifier) are serverless.py's: only the cluster's here
        for dims in _cluster_dims(res, clusters):
            for name, value, unit in found:
                out.groups[(res.region, dims, name, unit)].append(value)

    def _cache_tick(self, mono: float) -> _Second:
        nodes = [r for r in self._list(KIND_CACHE_CLUSTER, mono) if elasticache.measurable(r)]
        nodes.sort(key=lambda r: r.status.get("role") != "primary")  # primaries' offsets first
        infos: dict[Key, dict[str, object]] = {}
        out = _Second(elasticache.NAMESPACE)
        for res in nodes:
            key = (res.region, res.id)
            probe = self._cache.setdefault(key, elasticache.Probe())
            info = probe.info(self.env, res, mono)
            if info is None:
                continue
            infos[key] = info
            found = elasticache.metrics(res, probe, info, mono, self._cpus)
            group = res.spec.get("ReplicationGroupId")
            primary = next((infos.get((res.region, str(m.id))) for m in nodes
                            if m.spec.get("ReplicationGroupId") == group and m.status.get("role") == "primary"
                            and group), None)
            lag = elasticache.replication_lag(probe, info, primary, mono)
            if lag is not None:
                found.append(("ReplicationLag", lag, "Seconds"))
            aggregates: list[Dims] = [(("CacheClusterId", res.id),)]
            if group:
                aggregates.append((("ReplicationGroupId", str(group)),))
            out.own(res.region, (("CacheClusterId", res.id), ("CacheNodeId", "0001")), found, aggregates)
        self._forget(self._cache, {(r.region, r.id) for r in nodes})
        self.stats.cache_nodes = len(infos)
        return out

    @staticmethod
    def _forget(probes: dict[Key, rds.Probe] | dict[Key, elasticache.Probe], seen: set[Key]) -> None:
        for key in [k for k in probes if k not in seen]:
            probes.pop(key).close()


def _cluster_dims(res: Resource, clusters: dict[Key, Resource]) -> list[Dims]:
    cluster_id = res.spec.get("DBClusterIdentifier")
    cluster = clusters.get((res.region, str(cluster_id))) if cluster_id else None
    if cluster is None:
        return []
    role = "WRITER" if cluster.spec.get("writer") == res.id else "READER"
    return [(("DBClusterIdentifier", cluster.id),), (("DBClusterIdentifier", cluster.id), ("Role", role))]


def _aggregate_dims(res: Resource, clusters: dict[Key, Resource]) -> list[Dims]:
    out: list[Dims] = [(("DatabaseClass", str(res.spec.get("DBInstanceClass") or "")),),
                       (("EngineName", str(res.spec.get("Engine") or "postgres")),)]
    return out + _cluster_dims(res, clusters)


def start(env: Env) -> Collector:
    found = Collector(env)
    found.start()
    return found
