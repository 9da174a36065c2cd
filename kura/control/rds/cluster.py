"""The `rds.db-cluster` reconciler: an Aurora cluster's endpoints.

A cluster runs no process of its own. It gets two loopback addresses — the cluster (writer) endpoint
and the reader endpoint — which the router owns; each pass publishes the router table when what the
endpoints point at (the writer, the readers that serve) changed, so members coming and going move
them within a second. Deleting the cluster releases the addresses, its managed secret and the storage
(the continuous backup of its last writer) it kept.
"""

from __future__ import annotations

from kura.control.rds import cluster_failover, routing, serverless
from kura.control.registry import reconciler
from kura.control.types import Outcome
from kura.env import Env
from kura.net import addresses
from kura.services.rds.records import (
    KIND_AUTOMATED_BACKUP,
    KIND_CLUSTER,
    KIND_CLUSTER_ENDPOINT,
    KIND_INSTANCE,
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
    env.store.delete(res)
    routing.publish(env)
    _event(env, res, "DB cluster deleted", "deletion")
    return Outcome(f"deleted DB cluster {res.id}")


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
            res = env.store.update(res, status={**res.status, "address": writer.address,
                                                "reader_address": reader.address, "port": port,
                                                "state": "available"})
            _event(env, res, "DB cluster created", "creation")
        if res.status.get("failover"):
            return cluster_failover.run(env, res)
        if int(res.spec.get("failover_seq", 0)) > int(res.status.get("failover_seq", 0)):
            return cluster_failover.run(env, cluster_failover.start(env, res))
        members = [m for m in _members(env, res) if m.spec.get("desired") != "deleted"]
        serverless.scale(env, res, members)
        signature = _signature(res, members, _customs(env, res))
        if signature != res.status.get("published"):
            routing.publish(env)
            res = env.store.update(res, status={**res.status, "published": signature})
            targets = {str(e[0]).rsplit("/", 1)[-1]: len(e[2]) for e in signature}  # type: ignore[arg-type]
            return Outcome(f"DB cluster {res.id}: endpoints published ({targets})", requeue_after=WATCH)
        return Outcome(f"DB cluster {res.id} is available", requeue_after=WATCH)
