"""What the decider needs to know beyond spec and status: the postmaster, the parameters, the disk.

The only reads of the outside world before a decision: the node's status (postmaster.pid, /proc and a
connection attempt), the engine catalogue and the parameter group from the store, and `du` of the
data directory. Nothing here changes anything.
"""

from __future__ import annotations

import functools
from typing import Any

from kura.catalog import postgres_engines
from kura.control.rds import nodes, plan, settings, storage
from kura.engines.postgres.catalog import version_key
from kura.env import Env
from kura.services.rds.records import KIND_PARAMETER_GROUP
from kura.store.types import Resource

_QUIET = frozenset({None, "creating", "deleting", "failed"})  # states with nothing to look at


@functools.cache
def _host_memory() -> int:
    return settings.host_memory()


def catalogue(env: Env, major: int) -> dict[str, dict[str, Any]]:
    """The published parameters of the newest installed minor of `major`, by name."""
    best: dict[str, Any] | None = None
    for entry in postgres_engines(env.store):
        if int(entry["major"]) == major and (best is None or version_key(str(entry["version"]))
                                             > version_key(str(best["version"]))):
            best = entry
    return {str(p["name"]): p for p in (best or {}).get("parameters", [])}


def user_parameters(env: Env, region: str, group: str) -> dict[str, dict[str, Any]]:
    """The values set in a stored parameter group; {} for a default group (never stored)."""
    found = env.store.get(KIND_PARAMETER_GROUP, region, group)
    return dict(found.spec.get("Parameters") or {}) if found else {}


def group_of(res: Resource) -> str:
    version = str(res.status.get("engine_version") or res.spec.get("EngineVersion") or "0")
    return str(res.spec.get("DBParameterGroupName") or f"default.postgres{version.split('.')[0]}")


def desired_for(env: Env, res: Resource) -> settings.Desired | None:
    """The parameters the instance should run with; None until its engine is chosen."""
    version = res.status.get("engine_version")
    if not version:
        return None
    major = int(str(version).split(".")[0])
    size = settings.sizing(str(res.spec.get("DBInstanceClass", "")), _host_memory(),
                           allocated_gib=plan.allocated(res.spec, res.status),
                           port=int(res.spec.get("Port") or 5432))
    group = group_of(res)
    return settings.desired(catalogue(env, major), group, user_parameters(env, res.region, group), size,
                            major)


def usage(env: Env, res: Resource) -> storage.Usage:
    where = nodes.layout(env, res.region, res.id)
    return storage.Usage(plan.allocated(res.spec, res.status), storage.measure(where.pgdata),
                         storage.unit_bytes())


def observe(env: Env, res: Resource) -> plan.Observed:
    state = res.status.get("state")
    if state in _QUIET or res.status.get("op") or res.spec.get("desired") == "deleted":
        # Creating, deleting or resuming: the plan is fixed; only the parameters may be needed.
        return plan.Observed(None, desired_for(env, res))
    node = nodes.node_for(env, res)
    node_state = node.status().state if node is not None and node.exists() else None
    if state in ("stopped", "stopping"):
        return plan.Observed(node_state, desired_for(env, res))
    used = usage(env, res)
    growth = storage.growth_per_hour(res.status.get("storage"), used.used_bytes, env.clock.now())
    return plan.Observed(node_state, desired_for(env, res), used, growth)
