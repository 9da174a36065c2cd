"""The `rds.db-cluster` reconciler: an Aurora cluster's endpoints.

A cluster runs no process of its own. It gets two loopback addresses — the cluster (writer) endpoint
and the reader endpoint — which the router owns; each pass publishes the router table when what the
endpoints point at (the writer, the readers that serve) changed, so members coming and going move
them within a second. While it has readers, each pass (every 0.5 s then) is also its HA monitor's
(cluster_monitor.py: synchronous readers, failover when the writer dies). Deleting the cluster releases
the addresses, its managed secret and the storage (the continuous backup of its last writer) it kept,
once its final snapshot, if asked for, is taken. A clone is `creating` until its first pass has copied
its volume (cluster_volume); a cluster stopped for seven days is started (autostart).
"""

from __future__ import annotations

from kura.control import steps
from kura.control.rds import (
    autostart,
    cluster_failover,
    cluster_monitor,
    cluster_volume,
    routing,
    serverless,
)
from kura.control.registry import reconciler
from kura.control.types import Outcome
from kura.env import Env
from kura.net import addresses
from kura.services.rds.records import (
    KIND_AUTOMATED_BACKUP,
    KIND_CLUSTER,
    KIND_CLUSTER_ENDPOINT,
    KIND_INSTANCE,
    KIND_SNAPSHOT,
    SOURCE_CLUSTER,
)
from kura.services.secretsmanager import internal as sm
from kura.store.types import Event, Resource

WATCH = 1.0  # seconds between looks while the cluster lives: its members move its endpoints


def _arn(env: Env, res: Resource) -> str:
    return f"arn:aws:rds:{res.region}:{env.account}:cluster:{res.id}"


def _event(env: Env, res: Resource, message: str, *categories: str) -> None:
    env.store.add_event(Event(res.region, SOURCE_CLUSTER, res.id, message, categories,
                              extra={"arn": _arn(env, res)}))


def _members(env: Env, res: Resource) -> list[Resource]:
    return [m for m in env.store.list(KIND_INSTANCE, res.region)
            if m.spec.get("DBClusterIdentifier") == res.id]


def _delete(env: Env, res: Resource) -> Outcome:
    if any(m.spec.get("desired") != "deleted" or m.status.get("state") for m in _members(env, res)):
        return Outcome(f"DB cluster {res.id} waits for its DB instances to be deleted", requeue_after=WATCH)
    waiting = _final_snapshot(env, res)
    if waiting is not None:
        return waiting
    _customs(env, res)  # released and removed with the cluster
    arn = _arn(env, res)
    for owner in (arn, f"{arn}/reader"):
        addresses.release(env.store, owner)
    if res.spec.get("ManageMasterUserPassword") and res.spec.get("MasterUserSecretArn"):
        sm.delete_managed_secret(env, res.region, str(res.spec["MasterUserSecretArn"]))
    kept = res.spec.get("storage") or {}
    storage = env.store.get(KIND_AUTOMATED_BACKUP, res.region, str(kept.get("automated_backup"))) \
        if kept.get("owned") else None
    if storage is not None:
        env.store.update(storage, spec={**storage.spec, "desired": "deleted"})
    cluster_volume.drop(env, res.region, res.id)  # a clone's volume no writer took
    env.store.delete(res)
    routing.publish(env)
    _event(env, res, "DB cluster deleted", "deletion")
    return Outcome(f"deleted DB cluster {res.id}")


def _final_snapshot(env: Env, res: Resource) -> Outcome | None:
    """DeleteDBCluster with FinalDBSnapshotIdentifier: the storage stays until the snapshot is taken; if
    it fails, the cluster stays `deleting` with its data (an event says why)."""
    ident = res.spec.get("final_snapshot")
    snap = env.store.get(KIND_SNAPSHOT, res.region, str(ident)) if ident else None
    state = snap.status.get("state") if snap is not None else None
    if snap is None or state == "available":
        return None
    if state == "failed":
        if not res.status.get("final_snapshot_failed"):
            env.store.update(res, status={**res.status, "final_snapshot_failed": True})
            _event(env, res, f"The final snapshot {ident} failed ({snap.status.get('failure')}): the DB "
                   "cluster and its storage are kept", "failure")
        return Outcome(f"DB cluster {res.id}: its final snapshot {ident} failed", requeue_after=60.0)
    return Outcome(f"DB cluster {res.id} waits for its final snapshot {ident}", requeue_after=WATCH)


def _customs(env: Env, res: Resource) -> list[Resource]:
    """The cluster's custom endpoints, each given its address (or released and removed once deleted)."""
    out = []
    for custom in env.store.list(KIND_CLUSTER_ENDPOINT, res.region):
        if custom.spec.get("DBClusterIdentifier") != res.id:
            continue
        owner = f"{_arn(env, res)}/endpoint/{custom.id}"
        if custom.spec.get("desired") == "deleted" or res.spec.get("desired") == "deleted":
            addresses.release(env.store, owner)
            env.store.delete(custom)
            continue
        if not custom.status.get("address"):
            found = addresses.allocate(env.store, owner, int(res.spec.get("Port") or 5432))
            custom = env.store.update(custom, status={"address": found.address, "state": "available"})
        out.append(custom)
    return out


def _signature(res: Resource, members: list[Resource], customs: list[Resource]) -> list[list[object]]:
    return [[e.name, list(e.listen), [list(t) for t in e.targets]]
            for e in routing.cluster_endpoints(res, members, customs)]


@reconciler
class DbClusterReconciler:
    kind = KIND_CLUSTER
    source_type = SOURCE_CLUSTER

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        if res.spec.get("desired") == "deleted":
            return _delete(env, res)
        if not res.status.get("address"):
            arn, port = _arn(env, res), int(res.spec.get("Port") or 5432)
            writer = addresses.allocate(env.store, arn, port)
            reader = addresses.allocate(env.store, f"{arn}/reader", port)
            if writer.port != port or reader.port != port:
                return Outcome(f"DB cluster {res.id}: no loopback address is free on port {port}",
                               requeue_after=5.0)
            state = "creating" if cluster_volume.clone_pending(res) else "available"
            res = env.store.update(res, status={**res.status, "address": writer.address,
                                                "reader_address": reader.address, "port": port,
                                                "state": state})
            _event(env, res, "DB cluster created", "creation")
        if cluster_volume.clone_pending(res):
            res = cluster_volume.make_clone(env, res)
        if res.status.get("failover"):
            return cluster_failover.run(env, res)
        if int(res.spec.get("failover_seq", 0)) > int(res.status.get("failover_seq", 0)):
            return cluster_failover.run(env, cluster_failover.start(env, res))
        members = [m for m in _members(env, res) if m.spec.get("desired") != "deleted"]
        res = autostart.cluster(env, res, members)  # stopped for seven days: started, as AWS does
        acted = cluster_monitor.cycle(env, res, members)  # the writer's health, the synchronous readers
        if acted is not None:
            return acted
        serverless.scale(env, res, members)
        signature = _signature(res, members, _customs(env, res))
        if signature != res.status.get("published"):
            routing.publish(env)
            res = steps.patch_status(env.store, res, lambda s: {**s, "published": signature}) or res
            targets = {str(e[0]).rsplit("/", 1)[-1]: len(e[2]) for e in signature}  # type: ignore[arg-type]
            return Outcome(f"DB cluster {res.id}: endpoints published ({targets})",
                           requeue_after=cluster_monitor.pace(res, members, WATCH))
        return Outcome(f"DB cluster {res.id} is available",
                       requeue_after=cluster_monitor.pace(res, members, WATCH))
