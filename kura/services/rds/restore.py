"""RestoreDBInstanceFromDBSnapshot and RestoreDBInstanceToPointInTime.

A restore is a CreateDBInstance whose defaults come from the source (a snapshot, or an automated
backup and its instance) and whose data comes from it: the spec is built by instances.settings and
carries `restore_from`, which the instance reconciler reads to restore instead of initialising. The
master user keeps the source's password, so no password is sealed here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.timestamps import epoch
from kura.services.rds import automated_backups, errors, instances, shared, snapshots, views
from kura.services.rds import instance_validation as check
from kura.services.rds import snapshot_views as sv
from kura.services.rds.records import KIND_INSTANCE
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

# What a restore takes from its source unless the request says otherwise (RDS: the restored instance
# inherits the source's class, port and backup retention).
_INHERITED = ("DBInstanceClass", "Port", "BackupRetentionPeriod", "PreferredBackupWindow")
_REFUSED = {
    "DBClusterSnapshotIdentifier": "restoring Multi-AZ DB cluster snapshots (DBClusterSnapshotIdentifier)",
    "UseDefaultProcessorFeatures": "processor features (Oracle only)",
    "TdeCredentialPassword": "TDE (an Oracle/SQL Server feature)",
    "ManageMasterUserPassword": "a managed master user password on restore (ManageMasterUserPassword): the "
                                "restored instance keeps the source's password; turn it on with "
                                "ModifyDBInstance once it is available",
    "MasterUserSecretKmsKeyId": "a managed master user password on restore (MasterUserSecretKmsKeyId)",
}


def _refuse(params: dict[str, Any]) -> None:
    for name, what in _REFUSED.items():
        if params.get(name):
            raise errors.not_implemented(what)
    if params.get("DBName") is not None:
        raise errors.invalid("DBName must be null when Restoring for this Engine.")


def _params(params: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The request with the source's values filled in: what instances.settings builds the spec from.
    Storage never shrinks; engine version, database name and encryption are the source's."""
    given = {k: v for k, v in params.items() if v is not None}
    size = int(source["AllocatedStorage"])
    allocated = int(given.get("AllocatedStorage", size))
    if allocated < size:
        raise errors.combination(f"The allocated storage of the restored DB instance ({allocated} GiB) can't "
                                 f"be less than the source's ({size} GiB).")
    kind = str(given.get("StorageType") or source["StorageType"])
    if "Iops" not in given and "StorageThroughput" not in given:
        given["Iops"], given["StorageThroughput"] = check.kept_performance(source, size, kind, allocated)
    merged = {k: source.get(k) for k in _INHERITED}
    merged.update(given)
    encrypted = bool(source.get("StorageEncrypted"))
    merged.update({"Engine": given.get("Engine", "postgres"), "EngineVersion": source["EngineVersion"],
                   "AllocatedStorage": allocated, "StorageType": kind, "DBName": source.get("DBName"),
                   "StorageEncrypted": encrypted, "KmsKeyId": source.get("KmsKeyId") if encrypted else None})
    return {k: v for k, v in merged.items() if v is not None}


def _restore(ctx: Ctx, ident: str, params: dict[str, Any], source: dict[str, Any], tags: dict[str, str],
             restore_from: dict[str, Any], message: str) -> dict[str, Any]:
    """Check, build and store the restored instance (in the caller's transaction)."""
    instances.check_new(ctx, ident)
    effective = _params(params, source)
    instances.refuse(effective)
    spec = instances.settings(ctx, ident, effective, tags)
    spec.update({"MasterUsername": source["MasterUsername"], "ManageMasterUserPassword": False,
                 "restore_from": restore_from})
    res = instances.insert(ctx, spec, message, "restoration")
    return {"DBInstance": views.instance(res, ctx.account, ctx.store)}


def _snapshot_source(snap: Resource) -> dict[str, Any]:
    """restore_from of a manual snapshot, or of an automated one: its base backup, replayed to the end."""
    if snap.spec.get("SnapshotType") == sv.AUTOMATED:
        backup = snap.status["backup"]
        return {"automated_backup": snap.spec["DbiResourceId"], "time": float(backup["finished"])}
    return {"snapshot": snap.id}


@operation("rds", "RestoreDBInstanceFromDBSnapshot")
def restore_db_instance_from_db_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["DBInstanceIdentifier"], "DBInstanceIdentifier")
    _refuse(params)
    if not params.get("DBSnapshotIdentifier"):
        raise errors.combination("DBSnapshotIdentifier is required to restore a DB instance from a snapshot.")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        snap = snapshots.get(ctx, params["DBSnapshotIdentifier"])
        state = sv.snapshot_status(snap)
        if state != "available":
            raise errors.snapshot_state(f"Snapshot {snap.id} is {state}, not available: it can't be "
                                        "restored.")
        snapshots.require_key(ctx, snap.spec)
        # RDS gives a restored instance the snapshot's tags when the request names none.
        tags = tags or dict(snap.spec.get("Tags") or {})
        return _restore(ctx, ident, params, snap.spec, tags, _snapshot_source(snap),
                        f"Restored from snapshot {snap.id}")


def _pitr_source(ctx: Ctx, params: dict[str, Any]) -> tuple[Resource, Resource | None]:
    """(the automated backup, its live instance or None) named by exactly one of the three sources."""
    names = ("SourceDBInstanceIdentifier", "SourceDbiResourceId", "SourceDBInstanceAutomatedBackupsArn")
    if sum(1 for n in names if params.get(n)) != 1:
        raise errors.combination(f"Specify exactly one of {', '.join(names)}.")
    if params.get("SourceDBInstanceIdentifier"):
        inst = shared.get_instance(ctx, params["SourceDBInstanceIdentifier"])
        ab = automated_backups.of_instance(ctx.store, inst)
        if ab is None or ab.spec.get("desired") == automated_backups.DELETED:
            raise errors.fault("PointInTimeRestoreNotEnabled",
                               f"Point-in-time restore is not enabled for DB instance {inst.id}: its backup "
                               "retention period is 0.")
        return ab, inst
    ab = automated_backups.find(ctx, params.get("SourceDbiResourceId"),
                                params.get("SourceDBInstanceAutomatedBackupsArn"))
    if ab.spec.get("desired") == automated_backups.DELETED:
        raise errors.automated_backup_not_found(ab.id)
    live = ctx.store.get(KIND_INSTANCE, ctx.region, str(ab.spec.get("DBInstanceIdentifier")))
    if ab.spec.get("desired") != automated_backups.ACTIVE or live is None \
            or live.spec.get("DbiResourceId") != ab.id:
        return ab, None  # a retained backup: its instance is gone (a new one may have its name)
    return ab, live


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _restore_time(params: dict[str, Any], ab: Resource) -> float | None:
    """The epoch asked for, or None for the latest restorable time; inside the restore window."""
    when = epoch(params.get("RestoreTime"), "RestoreTime")
    latest = bool(params.get("UseLatestRestorableTime"))
    if when is not None and latest:
        raise errors.combination("Cannot specify both RestoreTime and UseLatestRestorableTime.")
    if when is None and not latest:
        raise errors.combination("Specify either RestoreTime or UseLatestRestorableTime.")
    earliest, newest = ab.status.get("earliest"), ab.status.get("latest")
    if earliest is None or newest is None:
        raise errors.fault("InvalidRestoreFault", f"DB instance {ab.spec.get('DBInstanceIdentifier')} has no "
                                                  "restorable time yet: its first automated backup is not "
                                                  "done.")
    if when is not None and not float(earliest) <= when <= float(newest):
        raise errors.fault("InvalidRestoreFault", f"Restore time must be between {_iso(float(earliest))} and "
                                                  f"{_iso(float(newest))}.")
    return when


@operation("rds", "RestoreDBInstanceToPointInTime")
def restore_db_instance_to_point_in_time(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["TargetDBInstanceIdentifier"], "TargetDBInstanceIdentifier")
    _refuse(params)
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        ab, inst = _pitr_source(ctx, params)
        snapshots.require_key(ctx, ab.spec)  # base backups and WAL are sealed under its key
        when = _restore_time(params, ab)
        source = sv.instance_fields(ctx.store, inst) if inst is not None else ab.spec
        target = _iso(when) if when is not None else "the latest restorable time"
        message = f"Restored from DB instance {ab.spec.get('DBInstanceIdentifier')} to {target}"
        return _restore(ctx, ident, params, source, tags, {"automated_backup": ab.id, "time": when}, message)
