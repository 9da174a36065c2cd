"""Aurora Serverless v2 members: measured, decided on and enforced every second.

Each pass of a cluster's reconciler (every second) calls `scale`. For each running db.serverless
member it reads one second of its control group (or, where none is writable, of its processes in
/proc), asks acu.decide for the capacity, and when that changed writes the group's CPU quota and
memory limit and records the capacity in the member's status — which makes the member's reconciler
reload the memory-dependent settings that can change live (observe._live). Every second it records
ServerlessDatabaseCapacity and ACUUtilization (the capacity against the cluster's maximum, as on
Aurora) into the metrics store.

The postmaster is moved into its group when first seen (and again after a restart: its pid changed);
the backends it forks afterwards are born in it. What is tracked here lives in this process only: a
Kura restart starts again from the capacity recorded in the status.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from kura.control import steps
from kura.control.rds import acu, autopause, events, plan, routing, settings
from kura.control.rds.nodes import node_for
from kura.control.rds.observe import desired_for
from kura.engines import cgroups
from kura.engines.postgres import pgproc
from kura.engines.postgres.templates import SUPERUSER
from kura.env import Env
from kura.metrics import series
from kura.services.rds import classes
from kura.store.types import Resource

log = logging.getLogger("kura.control.rds.serverless")

HEADROOM = 256 * 1024 * 1024  # beyond the shared buffers: what backends need before the group OOMs
NAMESPACE = "AWS/RDS"


@dataclass(slots=True)
class _Tracked:
    cluster: str
    state: acu.State
    group: cgroups.Group | None = None
    pid: int | None = None
    last: tuple[float, float, int, int] | None = None  # (monotonic, cpu seconds, periods, throttled)
    limits: tuple[float, int] | None = None
    idle_since: float = 0.0  # monotonic: when its last client connection was seen


_tracked: dict[tuple[str, str], _Tracked] = {}
_lock = threading.Lock()
_support: list[cgroups.Support] = []


def support() -> cgroups.Support:
    if not _support:
        _support.append(cgroups.support())
    return _support[0]


def capacity_range(cluster: Resource) -> tuple[float, float]:
    config = cluster.spec.get("ServerlessV2ScalingConfiguration") or {}
    low = float(config.get("MinCapacity", acu.RUNNING_FLOOR))
    return low, float(config.get("MaxCapacity", max(low, 1.0)))


def scale(env: Env, cluster: Resource, members: list[Resource]) -> None:
    """One pass over a cluster's db.serverless members; failures are logged, never raised (the cluster's
    endpoints must not wait on a measurement)."""
    low, high = capacity_range(cluster)
    seen = set()
    if any(routing.paused(m) for m in members) and _held(env, cluster):
        autopause.resume(env, cluster.region, cluster.id)  # a wake-up Kura missed (it was down)
        return
    for member in members:
        if member.spec.get("DBInstanceClass") != classes.SERVERLESS:
            continue
        if routing.paused(member):
            _metrics(env, member, 0.0, high)
            continue
        node = node_for(env, member) if member.status.get("state") in plan.RUNNING else None
        found = pgproc.read_pidfile(node.datadir) if node is not None else None
        if found is None or not pgproc.is_live_postmaster(found):
            continue
        seen.add((member.region, member.id))
        try:
            idle = _one(env, cluster, member, found.pid, low, high)
            after = autopause.pause_after(cluster)
            if after is not None and idle >= after and autopause.may_pause(cluster, member, members):
                autopause.pause(env, cluster, member, idle)
        except Exception:
            log.exception("kind=rds.db-instance id=%s outcome=\"serverless scaling pass failed\"", member.id)
    with _lock:
        gone = [k for k, t in _tracked.items() if t.cluster == cluster.id and k not in seen]
    for key in gone:
        _forget(key)


def _forget(key: tuple[str, str]) -> None:
    """Stop tracking a member that no longer runs; its group goes once empty (a postmaster still
    stopping keeps it: the next pass tries again)."""
    with _lock:
        found = _tracked.get(key)
    if found is None:
        return
    found.pid = found.last = found.limits = None
    if found.group is None or found.group.remove():
        with _lock:
            _tracked.pop(key, None)


def _start(env: Env, cluster: Resource, member: Resource, low: float) -> _Tracked:
    recorded = (member.status.get("serverless") or {}).get("capacity")
    tracked = _Tracked(cluster.id, acu.State(float(recorded or max(low, acu.RUNNING_FLOOR))))
    mode = support()
    if mode.enforced:
        tracked.group = cgroups.Group(mode.mode, cgroups.parent_name(env.settings.home),
                                      str(member.spec.get("DbiResourceId") or member.id))
        tracked.group.ensure()
    else:
        events.event(env, member, f"Serverless v2 capacity is not enforced on this host ({mode.reason}): "
                     "only the memory-dependent settings follow the capacity", "serverless")
    return tracked


def _sample(tracked: _Tracked, pid: int, now: float) -> acu.Sample | None:
    if tracked.group is not None:
        usage = tracked.group.usage()
        cpu, memory = usage.cpu_seconds, usage.memory_bytes
        periods, throttled = usage.periods, usage.throttled
    else:
        cpu, memory = pgproc.tree_usage(pid)
        periods = throttled = 0
    last, tracked.last = tracked.last, (now, cpu, periods, throttled)
    if last is None or now <= last[0]:
        return None
    ran = periods - last[2]
    return acu.Sample(max(0.0, (cpu - last[1]) / (now - last[0])), memory,
                      (throttled - last[3]) / ran if ran > 0 else 0.0,
                      pgproc.client_backends(pid, ignore_user=SUPERUSER))


def _floor(env: Env, member: Resource) -> int:
    want = desired_for(env, member)
    raw = want.values.get("shared_buffers") if want else None
    buffers = settings.memory_bytes(raw, 8192) if raw else None
    return (buffers or 0) + HEADROOM


def _held(env: Env, cluster: Resource) -> bool:
    """Whether the router holds a client on one of the cluster's endpoints."""
    prefix = f"rds-cluster/{cluster.region}/{cluster.id}"
    return any(counts.get("held") for name, counts in routing.control(env).stats().items()
               if name == prefix or name.startswith(prefix + "/"))


def _one(env: Env, cluster: Resource, member: Resource, pid: int, low: float, high: float) -> float:
    """Measure, decide and enforce one member; returns how long it has had no client (seconds)."""
    key = (member.region, member.id)
    with _lock:
        tracked = _tracked.get(key)
    if tracked is None:
        tracked = _start(env, cluster, member, low)
        with _lock:
            _tracked[key] = tracked
    if tracked.group is not None and tracked.pid != pid:
        tracked.group.attach([pid, *pgproc.child_pids(pid)])
        tracked.last = None
    tracked.pid = pid
    now = env.clock.monotonic()
    sample = _sample(tracked, pid, now)
    if sample is None or sample.connections:
        tracked.idle_since = now
    before = tracked.state.capacity
    if sample is not None:
        decision = acu.decide(tracked.state, low, high, sample, acu.Model(env.settings.acu_memory,
                                                                          env.settings.acu_cpu), now)
        tracked.state = decision.state
        if decision.capacity != before:
            log.info('kind=rds.db-instance id=%s outcome="%s" cpus=%.2f memory=%d connections=%d',
                     member.id, decision.reason, sample.cpus, sample.memory, sample.connections)
    capacity = tracked.state.capacity
    limits = acu.Model(env.settings.acu_memory, env.settings.acu_cpu).limits(capacity, _floor(env, member))
    if tracked.group is not None and limits != tracked.limits:
        tracked.group.limit(*limits)
        tracked.limits = limits
    _record(env, member, capacity, high, limits)
    return now - tracked.idle_since


def _record(env: Env, member: Resource, capacity: float, high: float, limits: tuple[float, int]) -> None:
    mode = support()
    shown = {"capacity": capacity, "max": high, "cpus": round(limits[0], 3), "memory": limits[1],
             "enforced": mode.mode.value if mode.enforced else f"no: {mode.reason}"}
    if member.status.get("serverless") != shown:
        def change(status: dict[str, Any]) -> dict[str, Any]:
            status["serverless"] = shown
            return status

        steps.patch_status(env.store, member, change)
    _metrics(env, member, capacity, high)


def _metrics(env: Env, member: Resource, capacity: float, high: float) -> None:
    dims = {"DBInstanceIdentifier": member.id}
    now = env.clock.now()
    series.for_home(env.settings.home).put([
        series.Point(NAMESPACE, "ServerlessDatabaseCapacity", dims, capacity, "None", now, member.region),
        series.Point(NAMESPACE, "ACUUtilization", dims, 100.0 * capacity / high if high else 0.0, "Percent",
                     now, member.region),
    ])


def release(env: Env) -> None:
    """At Kura's exit: forget what is tracked and remove this home's empty groups (a postmaster that
    keeps running keeps its group and its limits)."""
    with _lock:
        keys = list(_tracked)
    for key in keys:
        _forget(key)
    mode = support()
    cgroups.remove_parent(mode.mode, cgroups.parent_name(env.settings.home))
    series.close_home(env.settings.home)
