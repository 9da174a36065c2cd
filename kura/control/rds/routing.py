"""The router's table for RDS: every Multi-AZ instance's endpoint forwards to its current primary, and
every Aurora cluster's endpoint to its writer and its reader endpoint over its readers.

An instance is *routed* (status `routed`) once its endpoint address belongs to the router and its
members listen on addresses of their own (status `ha.members`). The table is always built whole from
the store, so publishing is idempotent and any pass may do it; the router is started on first need
and again if it died (`ensure`, from every HA pass).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from kura.control.rds.plan import RUNNING
from kura.env import Env
from kura.net.router.control import RouterControl, RouterError
from kura.net.router.table import Endpoint, Table
from kura.services.rds.records import KIND_CLUSTER, KIND_CLUSTER_ENDPOINT, KIND_INSTANCE
from kura.store.types import Resource

HOLD_SECONDS = float(os.environ.get("KURA_ROUTER_HOLD_SECONDS", "30"))
APPLY_TIMEOUT = 5.0
_lock = threading.Lock()


def control(env: Env) -> RouterControl:
    return RouterControl(env.settings.paths.home / "router",
                         workers=int(os.environ.get("KURA_ROUTER_WORKERS", "1")))


def member(res: Resource, which: str) -> dict[str, Any] | None:
    found = ((res.status.get("ha") or {}).get("members") or {}).get(which)
    return dict(found) if found else None


def listen_address(res: Resource, which: str | None = None) -> tuple[str, int]:
    """Where a member's postmaster listens: its own address once routed, else the endpoint."""
    ha = res.status.get("ha") or {}
    which = which or str(ha.get("primary") or "1")
    found = member(res, which) if res.status.get("routed") else None
    if found is not None:
        return str(found["address"]), int(found["port"])
    return str(res.status["address"]), int(res.status["port"])


def _endpoint(res: Resource) -> Endpoint | None:
    if not res.status.get("routed") or not res.status.get("address"):
        return None
    ha = res.status.get("ha") or {}
    primary = member(res, str(ha.get("primary") or "1"))
    targets = ((str(primary["address"]), int(primary["port"])),) if primary and not ha.get("holding") else ()
    return Endpoint(f"rds/{res.region}/{res.id}", (str(res.status["address"]), int(res.status["port"])),
                    targets)


def _serving(res: Resource) -> tuple[str, int] | None:
    """Where a cluster member takes connections, if it does now."""
    if res.spec.get("desired") == "deleted" or res.status.get("state") not in RUNNING:
        return None
    if not res.status.get("address") or res.status.get("holding") or paused(res):
        return None
    return str(res.status["address"]), int(res.status["port"])


def paused(res: Resource) -> bool:
    """A Serverless v2 member paused at zero capacity (its postmaster stopped until a client comes)."""
    return bool((res.status.get("serverless") or {}).get("paused"))


def cluster_endpoints(cluster: Resource, members: list[Resource],
                      customs: list[Resource] | None = None) -> list[Endpoint]:
    """An Aurora cluster's endpoint (its writer), reader endpoint (its readers, spread; the writer when
    it has none) and custom endpoints (spread over their chosen members)."""
    if cluster.spec.get("desired") == "deleted" or not cluster.status.get("address"):
        return []
    port = int(cluster.status["port"])
    writer = next((m for m in members if m.id == cluster.spec.get("writer")), None)
    to_writer = _serving(writer) if writer is not None and writer.status.get("role") != "replica" \
        and not cluster.status.get("holding") else None
    readers = [a for m in members if m is not writer and (a := _serving(m)) is not None]
    name = f"rds-cluster/{cluster.region}/{cluster.id}"
    wake = any(paused(m) for m in members)  # a client held on any endpoint resumes the paused members
    out = [Endpoint(name, (str(cluster.status["address"]), port), (to_writer,) if to_writer else (),
                    wake=wake),
           Endpoint(f"{name}/reader", (str(cluster.status["reader_address"]), port),
                    tuple(readers) or ((to_writer,) if to_writer else ()), balance="spread", wake=wake)]
    for custom in customs or []:
        if custom.spec.get("desired") == "deleted" or not custom.status.get("address"):
            continue
        static, excluded = custom.spec.get("StaticMembers") or [], custom.spec.get("ExcludedMembers") or []
        chosen = [m for m in members if (m.id in static if static else m.id not in excluded)]
        if custom.spec.get("CustomEndpointType") == "READER":
            chosen = [m for m in chosen if m is not writer]
        targets = tuple(a for m in chosen if (a := _serving(m)) is not None
                        and (m is not writer or to_writer is not None))
        out.append(Endpoint(f"{name}/custom/{custom.id}", (str(custom.status["address"]), port), targets,
                            balance="spread", wake=wake))
    return out


def table(env: Env, pending: Resource | None = None) -> Table:
    """Every routed instance's and Aurora cluster's endpoints; `pending`: this instance as it is about to
    be (not stored yet)."""
    found = []
    members: dict[tuple[str, str], list[Resource]] = {}
    for res in env.store.list(KIND_INSTANCE):
        if pending is not None and (res.region, res.id) == (pending.region, pending.id):
            res = pending
        found.append(_endpoint(res))
        if res.spec.get("DBClusterIdentifier"):
            members.setdefault((res.region, str(res.spec["DBClusterIdentifier"])), []).append(res)
    customs: dict[tuple[str, str], list[Resource]] = {}
    for custom in env.store.list(KIND_CLUSTER_ENDPOINT):
        customs.setdefault((custom.region, str(custom.spec.get("DBClusterIdentifier"))), []).append(custom)
    for cluster in env.store.list(KIND_CLUSTER):
        key = (cluster.region, cluster.id)
        found.extend(cluster_endpoints(cluster, members.get(key, []), customs.get(key, [])))
    return Table(tuple(e for e in found if e is not None), hold_seconds=HOLD_SECONDS)


def publish(env: Env, pending: Resource | None = None) -> Table:
    """Write the table and make sure the router runs when any endpoint is routed; returns once every
    router worker has it in force (a step that holds an endpoint must not go on while connections are
    still handed to the old primary)."""
    with _lock:
        ctl = control(env)
        current = table(env, pending)
        if current.endpoints:
            ctl.ensure()
        if current.endpoints or ctl.table_path.exists():
            serial = ctl.publish(current)
            if ctl.pid() is not None and not ctl.wait_applied(serial, APPLY_TIMEOUT):
                raise RouterError(f"the router did not load its new table in {APPLY_TIMEOUT:g} s")
        return current


def ensure(env: Env) -> None:
    """Restart the router if it died (its table is on disk; publish again to be sure it is current)."""
    if control(env).pid() is None:
        publish(env)


def wait_listening(env: Env, res: Resource, timeout: float = 10.0) -> bool:
    return control(env).wait_listening((str(res.status["address"]), int(res.status["port"])), timeout)


def stop_all(env: Env) -> None:
    """`kura down --all`: the router goes with the instances it fronts."""
    control(env).stop()
