"""The `elasticache.cache-cluster` reconciler: one redis-server per cache cluster, at its own loopback
address on port 6379.

One operation per pass, decided in this order: delete, resume a checkpointed operation, create, reboot,
node-type/parameter changes (modify), a server that died (recover, with an event). While nothing is due
the reconciler looks again every POLL_SECONDS. A Kura restart never restarts a running server: the
start-up resync finds it answering and does nothing (adoption). A replication group's primary that
died is left to the group's failover for FAILOVER_GRACE seconds before it is started again.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from kura.control import maintenance, steps
from kura.control.elasticache import actions, common, members, nodes, snapshot
from kura.control.registry import reconciler
from kura.control.types import Outcome, PermanentError, TemporaryError
from kura.engines.redis.errors import RedisEngineError
from kura.env import Env
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, SOURCE_CLUSTER
from kura.store.types import Resource

log = logging.getLogger("kura.control.elasticache")

POLL_SECONDS = float(os.environ.get("KURA_ELASTICACHE_POLL_SECONDS", "2"))
FAILOVER_GRACE = 3.0
DONE_EVENTS = {"create": ("Cache cluster created", "creation"),
               "reboot": ("Cache cluster rebooted", "availability"),
               "modify": ("Cache cluster modified", "configuration change"),
               "recover": ("Cache node 0001 restarted", "availability")}


def decide(env: Env, res: Resource) -> str | None:
    """The operation due now, or None."""
    spec, status = res.spec, res.status
    if spec.get("desired") == "deleted":
        return "delete"
    running = steps.in_progress(res)
    if running:
        return running
    state = status.get("state")
    if state in (None, "creating"):
        return "create"
    if state in ("failed", "restore-failed"):
        return None
    if int(spec.get("reboot_seq") or 0) > int(status.get("reboot_seq") or 0):
        return "reboot"
    if actions.auth_seq(env, res) > int(status.get("auth_token_seq") or 0):
        return "modify"  # an AuthToken change (SET / ROTATE / DELETE) to carry out on the node
    applied = status.get("applied") or {}
    if any(applied.get(k) != spec.get(k) for k in actions.APPLIED_KEYS) \
            or applied.get("settings") != common.settings_for(env, res):
        return "modify"
    return None


def _done_fields(op: str, res: Resource) -> dict[str, Any]:
    fields: dict[str, Any] = {"state": "available", "dead_since": None}
    if op in ("create", "reboot"):
        fields["reboot_seq"] = int(res.spec.get("reboot_seq") or 0)
    return fields


def _run(env: Env, res: Resource, op: str) -> Outcome:
    try:
        finish = None if op == "delete" else _done_fields(op, res)
        steps.apply(env, res, op, actions.plan(op), done=finish)
    except PermanentError as exc:
        if op != "create":
            raise
        state = "restore-failed" if res.spec.get("SnapshotName") else "failed"
        common.patch(env, res, {"state": state, "failure": str(exc)}, drop_op=True)
        common.event(env, res, f"Failed to create cache cluster: {exc}", "failure")
        return Outcome(f"cache cluster {res.id} failed: {exc}")
    if op == "delete":
        current = env.store.get(res.kind, res.region, res.id)
        if current is not None:
            env.store.delete(current)
        common.event(env, res, "Cache cluster deleted", "deletion")
        return Outcome(f"cache cluster {res.id} deleted")
    message, category = DONE_EVENTS[op]
    common.event(env, res, message, category)
    return Outcome(f"cache cluster {res.id}: {op} done", requeue_after=0.0)


def _dead_primary_waits(env: Env, res: Resource) -> bool:
    """A dead primary of a group with automatic failover: give the group's failover its chance first."""
    group = common.group_of(env, res)
    if group is None or members.primary_of(group) != res.id or len(group.spec.get("members") or []) < 2:
        return False
    if not group.spec.get("AutomaticFailoverEnabled"):
        return False
    since = res.status.get("dead_since")
    if since is None:
        common.patch(env, res, {"dead_since": env.clock.now()})
        return True
    return env.clock.now() - float(since) < FAILOVER_GRACE


def _watch(env: Env, res: Resource) -> Outcome:
    node = nodes.node_for(env, res)
    if node is None:
        return Outcome(f"cache cluster {res.id}: Redis {res.status.get('engine_version')} is not installed",
                       requeue_after=POLL_SECONDS * 5)
    status = node.status()
    if nodes.alive(status):
        if res.status.get("dead_since") is not None:
            common.patch(env, res, {"dead_since": None})
        if not res.spec.get("ReplicationGroupId"):
            snapshot.schedule(env, res)
        return Outcome(f"cache cluster {res.id} is available ({status.role})", requeue_after=POLL_SECONDS)
    if status.pid is not None:  # alive but not answering: busy (a long command, loading); look again
        return Outcome(f"cache cluster {res.id}: redis-server {status.pid} is not answering",
                       requeue_after=POLL_SECONDS)
    if _dead_primary_waits(env, res):
        return Outcome(f"cache cluster {res.id}: primary down; waiting for failover", requeue_after=0.5)
    common.event(env, res, "Recovering cache nodes 0001", "availability")
    return _run(env, res, "recover")


def _group_undecided(env: Env, res: Resource) -> bool:
    """A member whose group has not allocated its endpoints and members' addresses yet."""
    if not res.spec.get("ReplicationGroupId") or steps.in_progress(res):
        return False
    group = common.group_of(env, res)
    return group is None or not group.status.get("primary_endpoint")


@reconciler
class CacheClusterReconciler:
    kind = KIND_CACHE_CLUSTER
    source_type = SOURCE_CLUSTER

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        if not res.spec.get("ReplicationGroupId") and res.status.get("state") == "available":
            res = maintenance.apply_due(env, res, SOURCE_CLUSTER) or res  # a group's come from the group
        op = decide(env, res)
        if op == "create" and _group_undecided(env, res):
            return Outcome(f"cache cluster {res.id}: waiting for its replication group", requeue_after=0.1)
        if op is None:
            if res.status.get("state") != "available":
                return Outcome(f"cache cluster {res.id} is {res.status.get('state')}")
            return _watch(env, res)
        try:
            return _run(env, res, op)
        except RedisEngineError as exc:
            raise TemporaryError(f"{op} of cache cluster {res.id} failed: {exc}", 1.0) from exc


def stop_all(env: Env) -> None:
    """`kura down --all`: stop every cache cluster's redis-server (the next `kura up` starts them)."""
    for res in env.store.list(KIND_CACHE_CLUSTER):
        node = nodes.node_for(env, res)
        if node is not None and node.exists():
            try:
                node.stop()
            except Exception:
                log.exception("could not stop cache cluster %s", res.id)
