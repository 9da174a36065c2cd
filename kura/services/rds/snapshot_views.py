"""Stored snapshots and automated backups → the DBSnapshot and DBInstanceAutomatedBackup shapes.

Automated snapshots are not stored: each base backup of an automated backup (its status.backups) is
shown as one, named `rds:<instance>-YYYY-MM-DD-HH-MM` after the backup's start.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from kura.services.common import tags as tagging
from kura.services.rds import views
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_SNAPSHOT, KIND_SUBNET_GROUP
from kura.store.types import Resource, Store

MANUAL, AUTOMATED = "manual", "automated"
LICENSE = "postgresql-license"
# What a snapshot (and an automated backup) keeps of its instance, under the same names.
_FROM_INSTANCE = ("DbiResourceId", "Engine", "DBInstanceClass", "Port", "StorageType", "Iops",
                  "StorageThroughput", "AvailabilityZone", "MasterUsername", "DBName", "InstanceCreateTime",
                  "StorageEncrypted", "KmsKeyId", "BackupRetentionPeriod", "PreferredBackupWindow",
                  "DBParameterGroupName")
# Snapshot spec keys an automated snapshot takes from its automated backup.
_FROM_BACKUP = ("DBInstanceIdentifier", "DbiResourceId", "Engine", "EngineVersion", "DBInstanceClass", "Port",
                "AllocatedStorage", "StorageType", "Iops", "StorageThroughput", "AvailabilityZone", "VpcId",
                "MasterUsername", "DBName", "InstanceCreateTime", "StorageEncrypted", "KmsKeyId",
                "IAMDatabaseAuthenticationEnabled", "BackupRetentionPeriod", "PreferredBackupWindow",
                "DBParameterGroupName")
_SNAPSHOT_PLAIN = ("DBInstanceIdentifier", "Engine", "AllocatedStorage", "Port", "AvailabilityZone", "VpcId",
                   "InstanceCreateTime", "MasterUsername", "EngineVersion", "SnapshotType", "Iops",
                   "StorageThroughput", "StorageType", "DbiResourceId", "SourceDBSnapshotIdentifier",
                   "BackupRetentionPeriod", "PreferredBackupWindow")
_BACKUP_PLAIN = ("DBInstanceArn", "DbiResourceId", "DBInstanceIdentifier", "AllocatedStorage", "Port",
                 "AvailabilityZone", "VpcId", "InstanceCreateTime", "MasterUsername", "Engine",
                 "EngineVersion", "Iops", "StorageThroughput", "StorageType", "BackupRetentionPeriod",
                 "PreferredBackupWindow")


def vpc_id(store: Store, region: str, subnet_group: str | None) -> str | None:
    group = store.get(KIND_SUBNET_GROUP, region, subnet_group) if subnet_group else None
    return str(group.spec["VpcId"]) if group is not None else None


def instance_fields(store: Store, inst: Resource) -> dict[str, Any]:
    """What snapshots and automated backups record of a DB instance as it is now."""
    spec = inst.spec
    out: dict[str, Any] = {k: spec.get(k) for k in _FROM_INSTANCE}
    out.update({
        "DBInstanceIdentifier": inst.id,
        "EngineVersion": inst.status.get("engine_version") or spec.get("EngineVersion"),
        "AllocatedStorage": views.allocated_storage(spec, inst.status),
        "VpcId": vpc_id(store, inst.region, spec.get("DBSubnetGroupName")),
        "LicenseModel": spec.get("LicenseModel") or LICENSE,
        "IAMDatabaseAuthenticationEnabled": bool(spec.get("EnableIAMDatabaseAuthentication")),
    })
    return {k: v for k, v in out.items() if v is not None}


# -- snapshots -------------------------------------------------------------------------------------
def snapshot_status(res: Resource) -> str:
    if res.spec.get("desired") == "deleted":
        return "deleting"
    return str(res.status.get("state") or "creating")


def snapshot_arn(region: str, account: str, ident: str) -> str:
    return f"arn:aws:rds:{region}:{account}:snapshot:{ident}"


def snapshot(res: Resource, account: str) -> dict[str, Any]:
    spec, status = res.spec, res.status
    out: dict[str, Any] = {"DBSnapshotIdentifier": res.id}
    out.update({k: spec[k] for k in _SNAPSHOT_PLAIN if spec.get(k) is not None})
    state = snapshot_status(res)
    created = status.get("created")  # as on AWS, none while the snapshot is being created
    if created is not None:
        out["SnapshotCreateTime"] = created
    original = spec.get("OriginalSnapshotCreateTime") or created
    if original is not None:
        out["OriginalSnapshotCreateTime"] = original
    out["Status"] = state
    out["PercentProgress"] = 100 if state == "available" else int(status.get("progress") or 0)
    out["LicenseModel"] = spec.get("LicenseModel") or LICENSE
    out["OptionGroupName"] = f"default:postgres-{str(spec.get('EngineVersion', '')).split('.')[0]}"
    out["Encrypted"] = bool(spec.get("StorageEncrypted"))
    if out["Encrypted"] and spec.get("KmsKeyId"):
        out["KmsKeyId"] = spec["KmsKeyId"]
    out["DBSnapshotArn"] = snapshot_arn(res.region, account, res.id)
    out["IAMDatabaseAuthenticationEnabled"] = bool(spec.get("IAMDatabaseAuthenticationEnabled"))
    out["TagList"] = tagging.as_list(dict(spec.get("Tags") or {}))
    out["SnapshotTarget"] = "region"
    out["ProcessorFeatures"] = []
    out["MultiTenant"] = False
    out["DedicatedLogVolume"] = False
    return out


def automated_name(instance: str, started: float) -> str:
    return f"rds:{instance}-{dt.datetime.fromtimestamp(started, dt.UTC):%Y-%m-%d-%H-%M}"


def automated_snapshots(ab: Resource) -> list[Resource]:
    """The automated snapshots an automated backup shows: one per finished base backup. They are
    built here, never stored; a version of 0 says so."""
    if ab.spec.get("desired") == "deleted":
        return []
    base = {k: ab.spec[k] for k in _FROM_BACKUP if ab.spec.get(k) is not None}
    out = []
    for backup in ab.status.get("backups") or []:
        if not backup.get("finished"):
            continue
        started = float(backup["started"])
        name = automated_name(str(ab.spec.get("DBInstanceIdentifier")), started)
        spec = {**base, "DBSnapshotIdentifier": name, "SnapshotType": AUTOMATED, "requested": started,
                "LicenseModel": LICENSE, "desired": "available"}
        status = {"state": "available", "progress": 100, "created": started, "size": backup.get("size"),
                  "backup": dict(backup)}
        out.append(Resource(KIND_SNAPSHOT, ab.region, name, spec, status, 0, started, started))
    return out


# -- automated backups -------------------------------------------------------------------------------
def automated_backup_arn(region: str, account: str, dbi_resource_id: str) -> str:
    """AWS names them `ab-` and lowercase letters and digits; Kura derives them from the DbiResourceId so
    that they stay the same without being stored."""
    digest = base64.b32encode(hashlib.sha256(dbi_resource_id.encode()).digest()).decode().lower()
    return f"arn:aws:rds:{region}:{account}:auto-backup:ab-{digest[:38]}"


def automated_backup_status(res: Resource) -> str:
    desired = res.spec.get("desired") or "active"
    if desired == "deleted":
        return "deleting"
    if desired == "retained":
        return "retained"
    return str(res.status.get("state") or "creating")


def automated_backup(res: Resource, account: str) -> dict[str, Any]:
    assert res.kind == KIND_AUTOMATED_BACKUP
    spec, status = res.spec, res.status
    out: dict[str, Any] = {k: spec[k] for k in _BACKUP_PLAIN if spec.get(k) is not None}
    out["DbiResourceId"] = res.id
    out["Region"] = res.region
    window = {k: status[f] for k, f in (("EarliestTime", "earliest"), ("LatestTime", "latest"))
              if status.get(f) is not None}
    if window:
        out["RestoreWindow"] = window
    out["Status"] = automated_backup_status(res)
    out["LicenseModel"] = LICENSE
    out["Encrypted"] = bool(spec.get("StorageEncrypted"))
    if out["Encrypted"] and spec.get("KmsKeyId"):
        out["KmsKeyId"] = spec["KmsKeyId"]
    out["IAMDatabaseAuthenticationEnabled"] = bool(spec.get("IAMDatabaseAuthenticationEnabled"))
    out["OptionGroupName"] = f"default:postgres-{str(spec.get('EngineVersion', '')).split('.')[0]}"
    out["DBInstanceAutomatedBackupsArn"] = automated_backup_arn(res.region, account, res.id)
    out["DBInstanceAutomatedBackupsReplications"] = []
    out["BackupTarget"] = "region"
    out["MultiTenant"] = False
    out["DedicatedLogVolume"] = False
    return out
