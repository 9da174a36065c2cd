"""Automated backups: the `rds.automated-backup` record that follows each instance with backups on, and
DescribeDBInstanceAutomatedBackups / DeleteDBInstanceAutomatedBackup.

The handlers of CreateDBInstance, ModifyDBInstance, DeleteDBInstance and the restores keep the record's
spec in step with the instance (`start`, `follow`, `retire`); the automated-backup reconciler takes the
base backups, streams the WAL and writes the restore window into its status.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kura.services.common import filters
from kura.services.common.pagination import rds_page
from kura.services.rds import errors, shared
from kura.services.rds import snapshot_views as sv
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_INSTANCE
from kura.services.registry import Ctx, operation
from kura.store.types import Resource, Store

ACTIVE, RETAINED, DELETED = "active", "retained", "deleted"


def mirror(store: Store, account: str, inst: Resource) -> dict[str, Any]:
    """The automated backup's spec as its live instance dictates it (all but `desired`)."""
    spec = sv.instance_fields(store, inst)
    spec["DBInstanceArn"] = f"arn:aws:rds:{inst.region}:{account}:db:{inst.id}"
    return spec


def of_instance(store: Store, inst: Resource) -> Resource | None:
    dbi = inst.spec.get("DbiResourceId")
    return store.get(KIND_AUTOMATED_BACKUP, inst.region, str(dbi)) if dbi else None


def start(store: Store, account: str, inst: Resource) -> Resource | None:
    """A new instance with BackupRetentionPeriod >= 1 gets its automated backup record (same
    transaction as the instance)."""
    if int(inst.spec.get("BackupRetentionPeriod") or 0) < 1:
        return None
    spec = {**mirror(store, account, inst), "desired": ACTIVE}
    return store.create(KIND_AUTOMATED_BACKUP, inst.region, str(inst.spec["DbiResourceId"]), spec,
                        {"state": "creating"})


def follow(store: Store, account: str, inst: Resource) -> None:
    """After the instance spec changed: retention 0 → N starts the automated backups, N → 0 deletes
    them (as RDS does), anything else updates what the record mirrors. The maintenance window, which
    applies a deferred BackupRetentionPeriod, can call this too."""
    ab = of_instance(store, inst)
    on = int(inst.spec.get("BackupRetentionPeriod") or 0) >= 1
    if ab is None:
        if on:
            start(store, account, inst)
        return
    if ab.spec.get("desired") == DELETED:
        if on:
            raise errors.instance_state(f"The automated backups of DB instance {inst.id} are still being "
                                        "deleted; turn backups on again once they are gone.")
        return
    if not on:
        store.update(ab, spec={**ab.spec, "desired": DELETED})
        return
    wanted = {**mirror(store, account, inst), "desired": ab.spec.get("desired") or ACTIVE}
    if wanted != ab.spec:
        store.update(ab, spec=wanted)


def retire(store: Store, inst: Resource, delete: bool) -> None:
    """DeleteDBInstance: DeleteAutomatedBackups (default true) removes them, false retains them until
    their retention runs out, showing the instance as it was last."""
    ab = of_instance(store, inst)
    if ab is not None and ab.spec.get("desired") != DELETED:
        store.update(ab, spec={**ab.spec, **sv.instance_fields(store, inst),
                               "desired": DELETED if delete else RETAINED})


def current(store: Store, account: str, res: Resource) -> Resource:
    """An active automated backup as its instance is now: the record mirrors the instance as of the
    last change a handler made, before the control plane knew, e.g., the engine version it runs."""
    if res.spec.get("desired") != ACTIVE:
        return res
    inst = store.get(KIND_INSTANCE, res.region, str(res.spec.get("DBInstanceIdentifier")))
    if inst is None or inst.spec.get("DbiResourceId") != res.id:
        return res
    return dataclasses.replace(res, spec={**res.spec, **mirror(store, account, inst)})


def arn(ctx: Ctx, res: Resource) -> str:
    return sv.automated_backup_arn(res.region, ctx.account, res.id)


def _by_arn(ctx: Ctx, value: str) -> Resource:
    for res in ctx.store.list(KIND_AUTOMATED_BACKUP, ctx.region):
        if arn(ctx, res) == value:
            return res
    raise errors.automated_backup_not_found(value)


def find(ctx: Ctx, dbi: str | None, backup_arn: str | None) -> Resource:
    """The automated backup named by DbiResourceId or by its ARN (one of the two)."""
    if bool(dbi) == bool(backup_arn):
        raise errors.combination("Specify either DbiResourceId or DBInstanceAutomatedBackupsArn.")
    if backup_arn:
        return _by_arn(ctx, backup_arn)
    res = ctx.store.get(KIND_AUTOMATED_BACKUP, ctx.region, str(dbi))
    if res is None:
        raise errors.automated_backup_not_found(str(dbi))
    return res


def _getters(ctx: Ctx) -> dict[str, filters.Getter]:
    return {
        "db-instance-id": lambda r: [str(r.spec.get(k)) for k in ("DBInstanceIdentifier", "DBInstanceArn")],
        "dbi-resource-id": lambda r: r.id,
        "status": sv.automated_backup_status,
    }


@operation("rds", "DescribeDBInstanceAutomatedBackups")
def describe_db_instance_automated_backups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    dbi, backup_arn = params.get("DbiResourceId"), params.get("DBInstanceAutomatedBackupsArn")
    if dbi:
        found = [find(ctx, dbi, None)]
    elif backup_arn:
        found = [_by_arn(ctx, backup_arn)]
    else:
        found = ctx.store.list(KIND_AUTOMATED_BACKUP, ctx.region)
    if backup_arn:
        found = [r for r in found if arn(ctx, r) == backup_arn]
    if params.get("DBInstanceIdentifier"):
        ident = shared.instance_id(ctx, params["DBInstanceIdentifier"])
        found = [r for r in found if r.spec.get("DBInstanceIdentifier") == ident]
    found = filters.apply(found, params.get("Filters"), _getters(ctx))
    page, marker = rds_page(found, lambda r: r.id, params)
    items = [sv.automated_backup(current(ctx.store, ctx.account, r), ctx.account) for r in page]
    return shared.with_marker({"DBInstanceAutomatedBackups": items}, marker)


@operation("rds", "DeleteDBInstanceAutomatedBackup")
def delete_db_instance_automated_backup(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = find(ctx, params.get("DbiResourceId"), params.get("DBInstanceAutomatedBackupsArn"))
        state = sv.automated_backup_status(res)
        if state != RETAINED:
            raise errors.fault("InvalidDBInstanceAutomatedBackupState",
                               f"Automated backup {res.id} is {state}: only retained automated backups (of "
                               "deleted DB instances) can be deleted.")
        res = ctx.store.update(res, spec={**res.spec, "desired": DELETED})
    return {"DBInstanceAutomatedBackup": sv.automated_backup(res, ctx.account)}
