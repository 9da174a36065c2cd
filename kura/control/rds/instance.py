"""The `rds.db-instance` reconciler: observe, plan (plan.py, pure), apply (actions.py, checkpointed).

One operation per pass; after one the reconciler comes straight back (requeue 0) to decide the next,
and while nothing is due it looks again every POLL_SECONDS to measure storage and check that the
postmaster lives. A Kura restart never restarts a running instance: the start-up resync finds the
postmaster answering and the plan is empty (adoption); only a postmaster that died is started again,
with an event.

Failures: EngineMissing (or a create that kept failing) → state `failed` with the reason in an event,
and nothing more until the instance is deleted; a postmaster that will not start with its parameters →
`incompatible-parameters` until the parameters change or a reboot is asked for; PostgreSQL refusing a
reloaded value → an event, the old values stay. Anything else is a TemporaryError with backoff.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from typing import Any

from kura.api.errors import AwsError
from kura.control import maintenance, steps
from kura.control.rds import (
    actions,
    autostart,
    cluster_failover,
    events,
    ha,
    nodes,
    replica_steps,
    routing,
    storage,
)
from kura.control.rds.observe import forget, observe
from kura.control.rds.plan import Observed, Op, Plan, Step, plan
from kura.control.registry import reconciler
from kura.control.types import STATUS_OP, Outcome, PermanentError, TemporaryError
from kura.engines.postgres.errors import InvalidSettings
from kura.env import Env
from kura.services.rds import automated_backups
from kura.services.rds.records import KIND_INSTANCE, SOURCE_INSTANCE
from kura.store.types import Resource

log = logging.getLogger("kura.control.rds")

POLL_SECONDS = float(os.environ.get("KURA_RDS_POLL_SECONDS", "5"))
LOOP_WINDOW = 2.0  # the same operation finished twice within this many seconds: a decider bug
STOPPED_POLL_SECONDS = 30.0
MAX_CREATE_ATTEMPTS = 5
# RDS's event messages (and categories) for what each operation finished.
CREATES = (Op.CREATE, Op.RESTORE, Op.CREATE_REPLICA)
EVENTS: dict[Op, tuple[str, str]] = {
    Op.CREATE: ("DB instance created", "creation"),
    Op.RESTORE: ("DB instance restored", "creation"),
    Op.CREATE_REPLICA: ("Read replica created", "creation"),
    Op.PROMOTE: ("Promoted Read Replica to a stand-alone database instance", "read replica"),
    Op.STOP: ("DB instance stopped", "notification"),
    Op.START: ("DB instance started", "notification"),
    Op.REBOOT: ("DB instance restarted", "availability"),
    Op.RECOVER: ("DB instance restarted", "availability"),
    Op.MODIFY: ("Finished applying modification to DB instance class", "configuration change"),
    Op.ROTATE_CERTIFICATE: ("CA certificate rotated", "maintenance"),
    Op.APPLY_PARAMETERS: ("Finished applying parameter changes", "configuration change"),
    Op.SET_PASSWORD: ("Reset master credentials", "configuration change"),
    Op.MANAGE_PASSWORD: ("Reset master credentials", "configuration change"),
    Op.UNMANAGE_PASSWORD: ("Reset master credentials", "configuration change"),
    Op.FENCE: ("Allocated storage has been exhausted. Allocate additional storage to resolve the issue.",
               "low storage"),
    Op.UNFENCE: ("DB instance has free storage again and accepts writes", "notification"),
    Op.ENABLE_MULTI_AZ: ("Finished applying modification to convert to a Multi-AZ DB instance",
                         "configuration change"),
    Op.DISABLE_MULTI_AZ: ("Finished applying modification to convert to a Single-AZ DB instance",
                          "configuration change"),
    Op.SWITCHOVER: ("DB instance restarted", "availability"),
    Op.REFOLLOW: ("Read replica follows the new primary of its source DB instance after a failover",
                  "read replica"),
}


def _patch(env: Env, res: Resource, fields: dict[str, Any], drop_op: bool) -> Resource:
    def change(status: dict[str, Any]) -> dict[str, Any]:
        status.update(fields)
        if drop_op:
            status.pop(STATUS_OP, None)
        return status

    return steps.patch_status(env.store, res, change) or res


def _failed(env: Env, res: Resource, reason: str) -> Outcome:
    node = nodes.node_for(env, res)
    if node is not None and node.exists():
        node.stop()  # a half-made instance holds no memory while it waits to be deleted
    _patch(env, res, {"state": "failed", "failure": reason}, drop_op=True)
    events.event(env, res, f"DB instance creation failed: {reason}", "failure")
    return Outcome(f"DB instance {res.id} failed: {reason}")


def _incompatible(env: Env, res: Resource, seen: Observed, chosen: Plan, reason: str) -> Outcome:
    """The postmaster refused to start: wait for corrected parameters. A create keeps its checkpoint,
    moved back to its configure step, so that it goes on with the corrected parameters."""
    failed = seen.want.values if seen.want else None
    current = env.store.get(res.kind, res.region, res.id) or res
    fields: dict[str, Any] = {"state": "incompatible-parameters", "failed_parameters": failed}
    op = steps.OpState.of(current)
    if chosen.op in CREATES and op is not None:
        index = chosen.steps.index(Step.CONFIGURE)
        fields[STATUS_OP] = dataclasses.replace(op, step=index, step_name=Step.CONFIGURE.value).as_status()
    _patch(env, current, fields, drop_op=chosen.op not in CREATES)
    events.event(env, res, "The DB instance has invalid parameters and could not start. Correct the "
                  "parameters of its DB parameter group and reboot it.", "failure", reason=reason[-2000:])
    return Outcome(f"DB instance {res.id} has incompatible parameters: {reason.splitlines()[0]}")


def _rejected(env: Env, res: Resource, seen: Observed, exc: InvalidSettings) -> Outcome:
    current = env.store.get(res.kind, res.region, res.id) or res
    _patch(env, current, {"failed_parameters": seen.want.values if seen.want else None}, drop_op=True)
    events.event(env, res, f"PostgreSQL refused the parameter change, which was not applied: {exc}",
                  "configuration change")
    return Outcome(f"DB instance {res.id}: PostgreSQL refused {', '.join(exc.errors)}")


def _create_failed(env: Env, res: Resource, exc: Exception) -> Outcome:
    """Count a failed create attempt; after MAX_CREATE_ATTEMPTS the instance is `failed`."""
    current = env.store.get(res.kind, res.region, res.id) or res
    attempts = int(current.status.get("create_attempts", 0)) + 1
    if attempts >= MAX_CREATE_ATTEMPTS or isinstance(exc, PermanentError):
        return _failed(env, current, str(exc))
    _patch(env, current, {"create_attempts": attempts}, drop_op=False)
    raise TemporaryError(f"creating DB instance {res.id} failed (attempt {attempts}): {exc}", 1.0) from exc


def _finish(env: Env, res: Resource, chosen: Plan) -> None:
    if chosen.op is Op.DELETE:
        current = env.store.get(res.kind, res.region, res.id)
        if current is not None:
            env.store.delete(current)
        forget(res.region, res.id)
        ha.forget(res)
        if res.status.get("routed"):
            routing.publish(env)  # the endpoint leaves the router's table
        events.event(env, res, "DB instance deleted", "deletion")
        return
    if chosen.op is Op.GROW_STORAGE:
        auto = (chosen.target or 0) > int(res.spec.get("AllocatedStorage") or 0)
        what = "autoscaling-initiated modification" if auto else "modification"
        events.event(env, res, f"Finished applying {what} to allocated storage", "configuration change",
                      allocated_gib=chosen.target)
        return
    found = EVENTS.get(chosen.op)
    if found is not None:
        events.event(env, res, found[0], found[1])


def execute(env: Env, res: Resource, chosen: Plan, seen: Observed) -> Outcome:
    if chosen.abandon:
        res = _patch(env, res, {}, drop_op=True)
    work = actions.Work(env, chosen)
    try:
        done = steps.apply(env, res, chosen.op.value, actions.steps_for(work), done=chosen.done)
    except actions.EngineMissing as exc:
        return _failed(env, res, str(exc))
    except actions.StartFailed as exc:
        return _incompatible(env, res, seen, chosen, str(exc))
    except InvalidSettings as exc:
        return _rejected(env, res, seen, exc)
    except Exception as exc:
        if chosen.op in CREATES:
            return _create_failed(env, res, exc)
        if isinstance(exc, TemporaryError | PermanentError):
            raise
        raise TemporaryError(f"{chosen.op} of DB instance {res.id} failed: {exc}", 1.0) from exc
    _finish(env, done, chosen)
    return Outcome(chosen.reason, requeue_after=_next_look(env, res, chosen))


_last: dict[tuple[str, str], tuple[str, float]] = {}  # (region, id) → (last outcome, when)


def _next_look(env: Env, res: Resource, chosen: Plan) -> float:
    """At once after an operation (the next one may be due), unless the very same operation just ran:
    then the plan keeps asking for what was done, and a hot loop would hide it, so back off and say so."""
    key, now = (res.region, res.id), env.clock.monotonic()
    previous = _last.get(key)
    _last[key] = (chosen.reason, now)
    if chosen.op is Op.DELETE:
        _last.pop(key, None)
    elif previous is not None and previous[0] == chosen.reason and now - previous[1] < LOOP_WINDOW:
        log.warning('kind=%s id=%s outcome="%s again within %gs; looking again in %gs"', res.kind, res.id,
                    chosen.reason, LOOP_WINDOW, POLL_SECONDS)
        return POLL_SECONDS
    return 0.0


def _idle(env: Env, res: Resource, seen: Observed) -> Outcome:
    """Nothing to do: keep status.storage current and come back for the next look."""
    state = res.status.get("state")
    if seen.usage is not None:
        new = storage.recorded(res.status.get("storage"), seen.usage, env.clock.now())
        if new is not None:
            _patch(env, res, {"storage": new}, drop_op=False)
    if state == "failed":
        return Outcome(f"DB instance {res.id} is failed: {res.status.get('failure', '')}")
    if state in ("stopped", "incompatible-parameters"):
        due = autostart.remaining(res.status, env.clock.now()) if state == "stopped" else STOPPED_POLL_SECONDS
        return Outcome(f"DB instance {res.id} is {state}",
                       requeue_after=max(0.5, min(STOPPED_POLL_SECONDS, due)))
    if res.status.get("role") == "replica":
        found = replica_steps.measure(env, res)
        if found is not None:
            _patch(env, res, {"replication": found}, drop_op=False)
    node = seen.node.value if seen.node else "unknown"
    if seen.ha is not None:
        routing.ensure(env)  # the router died (kill -9): start it again with its table
        standby = "synchronous" if (res.status.get("ha") or {}).get("in_sync") else "not synchronous"
        if not (res.status.get("ha") or {}).get("standby"):
            standby = "none"
        return Outcome(f"DB instance {res.id} is {state} (primary {node}, standby {standby})",
                       requeue_after=ha.PACE)
    if seen.cluster_held:  # its cluster's HA monitor fails over, or hands it back to be restarted
        return Outcome(f"DB instance {res.id}: its postmaster is gone; its cluster decides",
                       requeue_after=ha.PACE)
    return Outcome(f"DB instance {res.id} is {state} (postmaster {node})", requeue_after=POLL_SECONDS)


@reconciler
class DbInstanceReconciler:
    kind = KIND_INSTANCE
    source_type = SOURCE_INSTANCE

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        if res.spec.get("DBClusterIdentifier") and cluster_failover.in_progress(env, res):
            return Outcome(f"DB instance {res.id} waits for its cluster's failover", requeue_after=0.5)
        applied = maintenance.apply_due(env, res, SOURCE_INSTANCE)
        if applied is not None:
            if "BackupRetentionPeriod" in (res.spec.get("PendingModifiedValues") or {}):
                with contextlib.suppress(AwsError):  # backups still being deleted: the next pass
                    automated_backups.follow(env.store, env.account, applied)
            res = applied
        res = autostart.instance(env, res)  # stopped for seven days: started, as AWS does
        seen = observe(env, res)
        chosen = plan(res.spec, res.status, seen)
        if chosen is None:
            return _idle(env, res, seen)
        return execute(env, res, chosen, seen)


def stop_all(env: Env) -> None:
    """`kura down --all`: stop every DB instance's postmaster (the next `kura up` starts them again)."""
    for res in env.store.list(KIND_INSTANCE):
        for member in nodes.MEMBERS:  # a Multi-AZ instance's standby too
            node = nodes.member_node(env, res, member)
            if node is not None and node.exists():
                try:
                    node.stop()
                except Exception:  # one stubborn instance must not keep the others running
                    log.exception("could not stop DB instance %s (member %s)", res.id, member)
