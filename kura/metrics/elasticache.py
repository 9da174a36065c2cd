"""The AWS/ElastiCache measurements of one cache node, from one INFO a second over a kept connection.

CPUUtilization is the redis-server process (all its threads and the children it forked for
snapshots: used_cpu_*) against the node type's vCPUs (at most the host's); EngineCPUUtilization is
its main thread (used_cpu_*_main_thread) against one core. CurrConnections leaves out the collector's
own connection. CacheHits, CacheMisses, Evictions, NetworkBytesIn/Out are what happened during the
second (Count, Bytes), so a period's Sum is the period's total as on ElastiCache. ReplicationLag of a
replica is 0 while its replication offset equals its primary's (read in the same second), else the
seconds since it last did (the link down: since it went down).
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from typing import Any

import redis

from kura.control.elasticache import nodes
from kura.env import Env
from kura.metrics import pg
from kura.store.types import Resource

log = logging.getLogger("kura.metrics.elasticache")

NAMESPACE = "AWS/ElastiCache"
TIMEOUT = 1.0
RETRY = 5.0
_SIZES = {"micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}
_MULTIPLE = re.compile(r"^(\d+)xlarge$")
_COUNTERS = ("keyspace_hits", "keyspace_misses", "evicted_keys", "total_net_input_bytes",
             "total_net_output_bytes")


def vcpus(node_type: str) -> int:
    size = node_type.rsplit(".", 1)[-1]
    m = _MULTIPLE.match(size)
    return 4 * int(m.group(1)) if m else _SIZES.get(size, 2)


@dataclass
class Probe:
    client: redis.Redis | None = None
    retry_at: float = 0.0
    last: tuple[float, dict[str, float]] | None = None  # (monotonic, counters)
    caught_up: float | None = None  # monotonic: when its offset last equalled its primary's
    errors: int = 0

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        self.client = None
        self.last = None

    def info(self, env: Env, res: Resource, now: float) -> dict[str, Any] | None:
        if self.client is None:
            if now < self.retry_at:
                return None
            node = nodes.node_for(env, res)
            if node is None:
                return None
            try:
                self.client = node.client(timeout=TIMEOUT)
            except Exception as exc:  # not configured yet: try again later
                self._failed(res, exc, now)
                return None
        assert self.client is not None
        try:
            return dict(self.client.info())
        except Exception as exc:
            self._failed(res, exc, now)
            return None

    def _failed(self, res: Resource, exc: Exception, now: float) -> None:
        if not self.errors:
            log.info("metrics of cache cluster %s paused: %s", res.id, exc)
        self.errors += 1
        self.close()
        self.retry_at = now + RETRY


def measurable(res: Resource) -> bool:
    return res.status.get("state") == "available" and res.spec.get("desired") != "deleted"


def _f(info: dict[str, Any], key: str) -> float:
    value = info.get(key, 0)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def metrics(res: Resource, probe: Probe, info: dict[str, Any], now: float, cpus: int) -> list[pg.Metric]:
    """This second's metrics of a node from its INFO (replication lag is the collector's: it needs the
    primary's INFO too)."""
    counters = {k: _f(info, k) for k in _COUNTERS}
    counters["cpu"] = sum(_f(info, k) for k in ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children",
                                                "used_cpu_user_children"))
    counters["engine_cpu"] = _f(info, "used_cpu_sys_main_thread") + _f(info, "used_cpu_user_main_thread")
    used, limit = _f(info, "used_memory"), _f(info, "maxmemory")
    out: list[pg.Metric] = [
        ("CurrConnections", max(0.0, _f(info, "connected_clients") - 1), "Count"),
        ("BytesUsedForCache", used, "Bytes"),
        ("CurrItems", float(sum(int(v.get("keys", 0)) for k, v in info.items()
                                if k.startswith("db") and isinstance(v, dict))), "Count"),
        ("IsMaster", 1.0 if info.get("role") == "master" else 0.0, "Count"),
    ]
    if limit > 0:
        out.append(("DatabaseMemoryUsagePercentage", 100.0 * used / limit, "Percent"))
    if probe.last is not None and now > probe.last[0]:
        then, before = probe.last
        seconds = now - then

        def delta(key: str) -> float:
            return max(0.0, counters[key] - before[key])

        share = min(vcpus(str(res.spec.get("CacheNodeType") or "")), cpus)
        out += [
            ("CPUUtilization", min(100.0, 100.0 * delta("cpu") / seconds / share), "Percent"),
            ("EngineCPUUtilization", min(100.0, 100.0 * delta("engine_cpu") / seconds), "Percent"),
            ("CacheHits", delta("keyspace_hits"), "Count"),
            ("CacheMisses", delta("keyspace_misses"), "Count"),
            ("Evictions", delta("evicted_keys"), "Count"),
            ("NetworkBytesIn", delta("total_net_input_bytes"), "Bytes"),
            ("NetworkBytesOut", delta("total_net_output_bytes"), "Bytes"),
        ]
    probe.last = (now, counters)
    return out


def replication_lag(probe: Probe, info: dict[str, Any], primary: dict[str, Any] | None,
                    now: float) -> float | None:
    """Seconds a replica is behind its primary (None for a primary)."""
    if info.get("role") != "slave":
        probe.caught_up = None
        return None
    if info.get("master_link_status") != "up":
        down = _f(info, "master_link_down_since_seconds")
        return down if down >= 0 else 0.0
    mine = _f(info, "slave_repl_offset")
    theirs = _f(primary, "master_repl_offset") if primary is not None else mine
    if mine >= theirs or probe.caught_up is None:
        probe.caught_up = now
    return max(0.0, now - probe.caught_up)
