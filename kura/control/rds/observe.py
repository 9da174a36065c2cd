"""What the decider needs to know beyond spec and status: the postmaster, the parameters, the disk.

The only reads of the outside world before a decision: the postmaster's liveness (postmaster.pid and
/proc), the engine catalogue and the parameter group from the store, and `du` of the data directory.
Nothing here changes anything. What is costly is cached in this process, so that fifty idle instances
looked at every few seconds cost little: the catalogue for CATALOGUE_TTL seconds, the resolved
parameters while their inputs are the same, and the storage measurement for up to MEASURE_RELAXED
seconds while more than half of the allocation and RELAXED_FREE_BYTES are free (every look otherwise).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from typing import Any

from kura.catalog import postgres_engines
from kura.control.rds import cluster_monitor, ha, nodes, plan, replica_steps, settings, storage
from kura.engines.postgres.catalog import version_key
from kura.engines.postgres.types import NodeState
from kura.env import Env
from kura.services.rds import classes
from kura.services.rds.records import KIND_CLUSTER, KIND_CLUSTER_PARAMETER_GROUP, KIND_PARAMETER_GROUP
from kura.store.types import Resource

_QUIET = frozenset({None, "creating", "deleting", "failed"})  # states with nothing to look at
CATALOGUE_TTL = 30.0
MEASURE_RELAXED = 30.0
RELAXED_FREE_BYTES = 4 * 1024**3  # more than a disk writes in MEASURE_RELAXED seconds
_lock = threading.Lock()
Catalogue = tuple[str, dict[str, dict[str, Any]]]  # (version described, parameters by name)
_catalogues: dict[int, tuple[float, Catalogue]] = {}  # major → (expires, catalogue)
_measured: dict[tuple[str, str], tuple[float, storage.Usage]] = {}  # (region, id) → (when, usage)


@functools.cache
def _host_memory() -> int:
    return settings.host_memory()


def catalogue(env: Env, major: int) -> Catalogue:
    """The published parameters of the newest installed minor of `major` (cached a while)."""
    now = env.clock.monotonic()
    with _lock:
        cached = _catalogues.get(major)
    if cached is not None and cached[0] > now:
        return cached[1]
    found = _read_catalogue(env, major)
    with _lock:
        _catalogues[major] = (now + CATALOGUE_TTL, found)
    return found


def forget_catalogue() -> None:
    """After publishing: the next look reads the new catalogue."""
    with _lock:
        _catalogues.clear()


def _read_catalogue(env: Env, major: int) -> Catalogue:
    best: dict[str, Any] | None = None
    for entry in postgres_engines(env.store):
        if int(entry["major"]) == major and (best is None or version_key(str(entry["version"]))
                                             > version_key(str(best["version"]))):
            best = entry
    best = best or {}
    return str(best.get("version", "")), {str(p["name"]): p for p in best.get("parameters", [])}


def user_parameters(env: Env, region: str, group: str) -> dict[str, dict[str, Any]]:
    """The values set in a stored parameter group; {} for a default group (never stored)."""
    found = env.store.get(KIND_PARAMETER_GROUP, region, group)
    return dict(found.spec.get("Parameters") or {}) if found else {}


def group_of(res: Resource) -> str:
    version = str(res.status.get("engine_version") or res.spec.get("EngineVersion") or "0")
    return str(res.spec.get("DBParameterGroupName") or f"default.postgres{version.split('.')[0]}")


def _capacity(env: Env, res: Resource) -> float | None:
    """A db.serverless member's maximum capacity (ACUs), from its cluster."""
    if res.spec.get("DBInstanceClass") != classes.SERVERLESS or not res.spec.get("DBClusterIdentifier"):
        return None
    cluster = env.store.get(KIND_CLUSTER, res.region, str(res.spec["DBClusterIdentifier"]))
    found = (cluster.spec.get("ServerlessV2ScalingConfiguration") or {}) if cluster else {}
    return float(found["MaxCapacity"]) if found.get("MaxCapacity") else None


def _live(env: Env, res: Resource, size: settings.Sizing) -> settings.Sizing | None:
    """A running db.serverless member's sizing at its current capacity (None for other classes)."""
    capacity = (res.status.get("serverless") or {}).get("capacity")
    if res.spec.get("DBInstanceClass") != classes.SERVERLESS or not capacity:
        return None
    return settings.live_sizing(float(capacity), env.settings.acu_memory, env.settings.acu_cpu,
                                _host_memory(), size)


def desired_for(env: Env, res: Resource) -> settings.Desired | None:
    """The parameters the instance should run with; None until its engine is chosen."""
    version = res.status.get("engine_version")
    if not version:
        return None
    major = int(str(version).split(".")[0])
    size = settings.sizing(str(res.spec.get("DBInstanceClass", "")), _host_memory(),
                           allocated_gib=plan.allocated(res.spec, res.status),
                           port=int(res.spec.get("Port") or 5432), capacity_acu=_capacity(env, res))
    group = group_of(res)
    found = env.store.get(KIND_PARAMETER_GROUP, res.region, group)
    stamp = (found.version, found.updated_at) if found else None
    described = catalogue(env, major)[0]
    layer = _cluster_layer(env, res)
    live = _live(env, res, size)
    found_desired = _desired(described, major, group, stamp, size, env, res.region, layer, live)
    if res.spec.get("ReadReplicaSourceDBInstanceIdentifier") or res.status.get("role") == "replica":
        floored = replica_steps.floor(env, res, found_desired.values)
        if floored != found_desired.values:
            return dataclasses.replace(found_desired, values=floored)
    return found_desired


def _cluster_layer(env: Env, res: Resource) -> tuple[str, int, float] | None:
    """A cluster member's DB cluster parameter group (a stored one: the defaults add nothing), as
    (name, version, updated) so that a change to it is a change of what the member should run."""
    ident = res.spec.get("DBClusterIdentifier")
    cluster = env.store.get(KIND_CLUSTER, res.region, str(ident)) if ident else None
    name = cluster.spec.get("DBClusterParameterGroupName") if cluster else None
    found = env.store.get(KIND_CLUSTER_PARAMETER_GROUP, res.region, str(name)) if name else None
    return (found.id, found.version, found.updated_at) if found else None


@functools.lru_cache(maxsize=256)
def _desired(described: str, major: int, group: str, stamp: tuple[int, float] | None,
             size: settings.Sizing, env: Env, region: str,
             layer: tuple[str, int, float] | None = None,
             live: settings.Sizing | None = None) -> settings.Desired:
    """Memoised on what it depends on (the engine version described, the groups' versions, the sizing).
    A cluster member's own group layers on top of its cluster's, as on Aurora."""
    params = catalogue(env, major)[1]
    values = user_parameters(env, region, group)
    if layer is not None:
        found = env.store.get(KIND_CLUSTER_PARAMETER_GROUP, region, layer[0])
        values = {**(dict(found.spec.get("Parameters") or {}) if found else {}), **values}
    return settings.desired(params, group, values, size, major, live)


def forget(region: str, ident: str) -> None:
    """A deleted instance: drop its cached measurement."""
    with _lock:
        _measured.pop((region, ident), None)


def usage(env: Env, res: Resource) -> storage.Usage:
    """The allocation and what the data directory uses, measured again when it may matter."""
    key, now = (res.region, res.id), env.clock.monotonic()
    allocated = plan.allocated(res.spec, res.status)
    with _lock:
        last = _measured.get(key)
    if last is not None and last[1].allocated == allocated and now - last[0] < MEASURE_RELAXED \
            and last[1].free_bytes > max(last[1].capacity / 2, RELAXED_FREE_BYTES):
        return last[1]
    where = nodes.layout(env, res.region, res.id)
    found = storage.Usage(allocated, storage.measure(where.pgdata), storage.unit_bytes())
    with _lock:
        _measured[key] = (now, found)
    return found


def observe(env: Env, res: Resource) -> plan.Observed:
    state = res.status.get("state")
    op = (res.status.get("op") or {}).get("name")
    if op in plan.ABANDONABLE and state in plan.RUNNING and res.spec.get("desired") != "deleted":
        # standby work in progress: only whether the primary died meanwhile matters
        return plan.Observed(None, desired_for(env, res), ha=ha.look(env, res))
    if state in _QUIET or op or res.spec.get("desired") == "deleted":
        # Creating, deleting or resuming: the plan is fixed; only the parameters may be needed.
        return plan.Observed(None, desired_for(env, res))
    node = nodes.node_for(env, res)
    node_state = nodes.liveness(node) if node is not None else None
    if state in ("stopped", "stopping"):
        return plan.Observed(node_state, desired_for(env, res))
    used = usage(env, res)
    growth = storage.growth_per_hour(res.status.get("storage"), used.used_bytes, env.clock.now())
    alive = replica_steps.source_of(env, res) is not None if res.status.get("role") == "replica" else None
    multi = (res.status.get("routed") or plan.wants_standby(res.spec, res.status)) \
        and res.status.get("role") != "replica" and state in plan.RUNNING
    moved = replica_steps.source_moved(env, res) if res.status.get("role") == "replica" else False
    held = node_state is NodeState.STOPPED and cluster_monitor.holds(env, res)
    return plan.Observed(node_state, desired_for(env, res), used, growth, alive,
                         ha.look(env, res) if multi else None, moved, held)
