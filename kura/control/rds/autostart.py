"""AWS starts a DB instance, or an Aurora DB cluster, that has been stopped for seven consecutive days,
so that it does not fall behind on maintenance; it may be stopped again afterwards.

Like the maintenance window (kura.control.maintenance), this is the control plane writing a resource's
spec: it does what AWS itself does to a stopped resource, so `desired` becomes `available` (the cluster
and each of its DB instances, as StartDBCluster) with RDS's event, and the reconcilers start it the
way they start anything. Since when a resource is stopped is its status `stopped_at` (the injected
clock's time of the stop, recorded once it is stopped). `KURA_RDS_MAX_STOPPED_SECONDS` shortens the
seven days (tests, demonstrations).
"""

from __future__ import annotations

import os
from typing import Any

from kura.control import steps
from kura.control.rds import events
from kura.env import Env
from kura.services.rds import cluster_views
from kura.services.rds.records import KIND_INSTANCE, SOURCE_CLUSTER
from kura.store.types import Event, Resource, VersionConflict

MAX_STOPPED_SECONDS = float(os.environ.get("KURA_RDS_MAX_STOPPED_SECONDS", str(7 * 24 * 3600)))
INSTANCE_STARTED = "DB instance is being started due to it exceeding the maximum allowed time being stopped."
CLUSTER_STARTED = "DB cluster is being started due to it exceeding the maximum allowed time being stopped."


def remaining(status: dict[str, Any], now: float) -> float:
    """Seconds until a stopped resource is started (MAX_STOPPED_SECONDS when its stop time is unknown)."""
    since = status.get("stopped_at")
    return MAX_STOPPED_SECONDS if since is None else max(0.0, float(since) + MAX_STOPPED_SECONDS - now)


def _stopped_at(env: Env, res: Resource, stopped: bool) -> Resource:
    """Record when a stop ended (the first look at it stopped); forget it once started."""
    def change(status: dict[str, Any]) -> dict[str, Any] | None:
        if stopped:
            return None if status.get("stopped_at") is not None else {**status, "stopped_at": env.clock.now()}
        return {k: v for k, v in status.items() if k != "stopped_at"} if "stopped_at" in status else None

    return steps.patch_status(env.store, res, change) or res


def instance(env: Env, res: Resource) -> Resource:
    """A stopped DB instance (not a cluster's: its cluster is started) past the limit: started."""
    if res.spec.get("DBClusterIdentifier"):
        return res
    stopped = res.spec.get("desired") == "stopped" and res.status.get("state") == "stopped"
    if not stopped or res.status.get("stopped_at") is None:
        return _stopped_at(env, res, stopped)
    if remaining(res.status, env.clock.now()) > 0:
        return res
    spec = {k: v for k, v in res.spec.items() if k != "stop_snapshot"}
    try:
        res = env.store.update(res, spec={**spec, "desired": "available"})
    except VersionConflict:
        return res  # the API changed it meanwhile: the next pass decides again
    events.event(env, res, INSTANCE_STARTED, "notification")
    return res


def cluster(env: Env, res: Resource, members: list[Resource]) -> Resource:
    """A stopped DB cluster past the limit: it and its DB instances are started."""
    stopped = res.spec.get("desired") == "stopped" and cluster_views.status(res, members) == "stopped"
    if not stopped or res.status.get("stopped_at") is None:
        return _stopped_at(env, res, stopped)
    if remaining(res.status, env.clock.now()) > 0:
        return res
    with env.store.transaction():
        current = env.store.get(res.kind, res.region, res.id)
        if current is None or current.spec.get("desired") != "stopped":
            return current or res
        res = env.store.update(current, spec={**current.spec, "desired": "available"},
                               status={k: v for k, v in current.status.items() if k != "stopped_at"})
        for member in members:
            found = env.store.get(KIND_INSTANCE, member.region, member.id)
            if found is not None and found.spec.get("desired") == "stopped":
                env.store.update(found, spec={**found.spec, "desired": "available"})
        env.store.add_event(Event(res.region, SOURCE_CLUSTER, res.id, CLUSTER_STARTED, ("notification",),
                                  extra={"arn": f"arn:aws:rds:{res.region}:{env.account}:cluster:{res.id}"}))
    return res
