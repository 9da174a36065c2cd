"""RebootDBInstance, StopDBInstance, StartDBInstance, DeleteDBInstance: each records the wish in the
spec (reboot_seq, desired) and answers with the status RDS shows while the control plane acts."""

from __future__ import annotations

from typing import Any

from kura.services.rds import automated_backups, cluster_members, errors, shared, snapshots, views
from kura.services.rds.records import KIND_INSTANCE
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

REBOOTABLE = ("available", "storage-full", "incompatible-parameters", "modifying")
# States without a running PostgreSQL to snapshot: a final snapshot can't be taken (RDS refuses it too
# while the instance is creating or failed).
NO_FINAL_SNAPSHOT = ("creating", "failed", "incompatible-parameters")


def _answer(ctx: Ctx, res: Resource) -> dict[str, Any]:
    return {"DBInstance": views.instance(res, ctx.account, ctx.store)}


def _state(res: Resource) -> str:
    return views.instance_status(res.spec, res.status)


def _not_in_cluster(res: Resource) -> None:
    if res.spec.get("DBClusterIdentifier"):
        raise errors.combination("aurora-postgresql DB instances are not eligible for stopping and starting: "
                                 "stop or start their DB cluster.")


@operation("rds", "RebootDBInstance")
def reboot_db_instance(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_instance(ctx, params["DBInstanceIdentifier"])
        failover = bool(params.get("ForceFailover"))
        if failover and not res.spec.get("MultiAZ"):
            raise errors.combination("ForceFailover option is not valid for non Multi-AZ instances.")
        state = _state(res)
        if state not in REBOOTABLE:
            raise errors.instance_state(f"DB instance {res.id} is not in available state (it is {state}).")
        spec = {**res.spec, "reboot_seq": int(res.spec.get("reboot_seq", 0)) + 1}
        if failover:
            spec["force_failover"] = spec["reboot_seq"]  # the HA issue fails over on this reboot
        res = ctx.store.update(res, spec=spec)
        shared.record(ctx, KIND_INSTANCE, res.id,
                      "DB instance reboot requested" + (" with failover" if failover else ""), "availability")
    return _answer(ctx, res)


@operation("rds", "StopDBInstance")
def stop_db_instance(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_instance(ctx, params["DBInstanceIdentifier"])
        _not_in_cluster(res)
        state = _state(res)
        if state != "available":
            raise errors.instance_state(f"DB instance {res.id} is not in available state (it is {state}).")
        _not_replicating(ctx, res)
        spec = {**res.spec, "desired": "stopped"}
        snapshot = params.get("DBSnapshotIdentifier")
        if snapshot:
            # The reconciler stops the instance once this snapshot is taken.
            spec["stop_snapshot"] = snapshots.new_identifier(ctx, snapshot, "DBSnapshotIdentifier")
            snapshots.take(ctx, res, spec["stop_snapshot"], snapshots.instance_tags(res))
        res = ctx.store.update(res, spec=spec)
        shared.record(ctx, KIND_INSTANCE, res.id, "DB instance stop requested", "notification")
    return _answer(ctx, res)


@operation("rds", "StartDBInstance")
def start_db_instance(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_instance(ctx, params["DBInstanceIdentifier"])
        _not_in_cluster(res)
        state = _state(res)
        if state != "stopped":
            raise errors.instance_state(f"DB instance {res.id} is not stopped (it is {state}), so it can't "
                                        "be started.")
        spec = {k: v for k, v in res.spec.items() if k != "stop_snapshot"}
        res = ctx.store.update(res, spec={**spec, "desired": "available"})
        shared.record(ctx, KIND_INSTANCE, res.id, "DB instance start requested", "notification")
    return _answer(ctx, res)


def _not_replicating(ctx: Ctx, res: Resource) -> None:
    """RDS can't stop a read replica, nor a DB instance that has read replicas."""
    if views.replica_source(res.spec, res.status) is not None:
        raise errors.combination("Cannot stop or start a Read-Replica instance")
    replicas = views.replicas_of(ctx.store, res)
    if replicas:
        raise errors.combination(f"Cannot stop DB instance {res.id}: it is the source of read replicas "
                                 f"({', '.join(sorted(r.id for r in replicas))}).")


def _final_snapshot(params: dict[str, Any], replica: bool) -> dict[str, Any]:
    skip = bool(params.get("SkipFinalSnapshot"))
    name = params.get("FinalDBSnapshotIdentifier")
    if skip and name:
        raise errors.combination("Cannot specify both SkipFinalSnapshot and FinalDBSnapshotIdentifier.")
    if replica and name:
        raise errors.combination("FinalDBSnapshotIdentifier can not be specified when deleting a replica "
                                 "instance.")
    if replica and not skip:
        raise errors.combination("SkipFinalSnapshot must be specified when deleting a read replica.")
    if not skip and not name:
        raise errors.combination(
            "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
    identifier = shared.check_identifier(name, "FinalDBSnapshotIdentifier", 255) if name else None
    return {"skip": skip, "identifier": identifier,
            "delete_automated_backups": params.get("DeleteAutomatedBackups", True) is not False}


@operation("rds", "DeleteDBInstance")
def delete_db_instance(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_instance(ctx, params["DBInstanceIdentifier"])
        if res.spec.get("desired") == "deleted":
            raise errors.instance_state(f"DB instance {res.id} is already being deleted.")
        if res.spec.get("DeletionProtection"):
            raise errors.combination("Cannot delete protected DB Instance, please disable deletion "
                                     "protection and try again.")
        if res.spec.get("DBClusterIdentifier"):
            final = cluster_members.on_delete(ctx, res)
        else:
            final = _final_snapshot(params, views.replica_source(res.spec, res.status) is not None)
        if final["identifier"]:
            state = _state(res)
            if state in NO_FINAL_SNAPSHOT:
                raise errors.instance_state(
                    f"Instance {res.id} is currently {state} - a final snapshot cannot be taken.")
            snapshots.require_key(ctx, res.spec)  # else the snapshot would fail and the data be gone
            # The reconciler keeps the data until this snapshot is taken.
            snapshots.take(ctx, res, final["identifier"], snapshots.instance_tags(res))
        automated_backups.retire(ctx.store, res, final["delete_automated_backups"])
        res = ctx.store.update(res, spec={**res.spec, "desired": "deleted", "final_snapshot": final})
        shared.record(ctx, KIND_INSTANCE, res.id, "DB instance deletion requested", "deletion")
    return _answer(ctx, res)
