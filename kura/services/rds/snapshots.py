"""CreateDBSnapshot, DescribeDBSnapshots, DeleteDBSnapshot and CopyDBSnapshot.

A handler writes the manual snapshot's record (`creating`); the snapshot reconciler takes a base
backup of the running instance (or copies the source's files) and marks it `available`. Automated
snapshots are the base backups of the automated backups (snapshot_views.automated_snapshots).
"""

from __future__ import annotations

from typing import Any

from kura.services.common import filters
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.rds import errors, shared, views
from kura.services.rds import instance_validation as check
from kura.services.rds import snapshot_views as sv
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_INSTANCE, KIND_SNAPSHOT
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

SNAPSHOT_TYPES = (sv.MANUAL, sv.AUTOMATED, "shared", "public", "awsbackup")
# Spec keys of a source snapshot that are its own, not what a copy inherits.
_NOT_COPIED = ("desired", "attributes", "copy_of", "requested", "Tags", "SourceDBSnapshotIdentifier",
               "OriginalSnapshotCreateTime")
_COPY_REFUSED = {
    "SourceRegion": "copying DB snapshots across regions (SourceRegion)",
    "PreSignedUrl": "copying DB snapshots across regions (PreSignedUrl)",
    "TargetCustomAvailabilityZone": "RDS Custom on Outposts (TargetCustomAvailabilityZone)",
    "SnapshotAvailabilityZone": "snapshots in Dedicated Local Zones (SnapshotAvailabilityZone)",
}


def snapshot_id(ctx: Ctx, ref: str) -> str:
    """A snapshot identifier or ARN of this account and region → the identifier as stored."""
    if ref.startswith("arn:"):
        parsed = shared.parse_arn(ctx, ref)
        if parsed is None or parsed[0] != "snapshot":
            raise errors.snapshot_not_found(ref)
        return parsed[1].lower()
    return ref.lower()


def automated(ctx: Ctx) -> list[Resource]:
    return [s for ab in ctx.store.list(KIND_AUTOMATED_BACKUP, ctx.region) for s in sv.automated_snapshots(ab)]


def get(ctx: Ctx, ref: str) -> Resource:
    """A manual snapshot (stored) or an automated one (derived from its automated backup)."""
    ident = snapshot_id(ctx, ref)
    res = ctx.store.get(KIND_SNAPSHOT, ctx.region, ident)
    if res is None and ident.startswith("rds:"):
        res = next((s for s in automated(ctx) if s.id == ident), None)
    if res is None:
        raise errors.snapshot_not_found(ref)
    return res


def new_identifier(ctx: Ctx, value: str | None, param: str) -> str:
    ident = shared.check_identifier(value, param, 255)
    if ctx.store.get(KIND_SNAPSHOT, ctx.region, ident) is not None:
        raise errors.snapshot_exists(ident)
    return ident


def require_key(ctx: Ctx, spec: dict[str, Any]) -> None:
    """The data of an encrypted snapshot, automated backup or instance is sealed under its KMS key: while
    that key is disabled or pending deletion, what would read it (a restore, a copy, a final snapshot)
    is refused with RDS's KMSKeyNotAccessibleFault, not accepted to fail later."""
    if spec.get("StorageEncrypted"):
        check.kms_key(ctx, spec.get("KmsKeyId"), "alias/aws/rds")


def instance_tags(inst: Resource) -> dict[str, str]:
    """The tags a snapshot of `inst` gets when the request names none (CopyTagsToSnapshot)."""
    return dict(inst.spec.get("Tags") or {}) if inst.spec.get("CopyTagsToSnapshot") else {}


def take(ctx: Ctx, inst: Resource, ident: str, tags: dict[str, str]) -> Resource:
    """The record of a manual snapshot of `inst` (CreateDBSnapshot, and the final snapshot of
    DeleteDBInstance / the snapshot of StopDBInstance), in the caller's transaction."""
    if ctx.store.get(KIND_SNAPSHOT, ctx.region, ident) is not None:
        raise errors.snapshot_exists(ident)
    spec = {**sv.instance_fields(ctx.store, inst), "DBSnapshotIdentifier": ident, "SnapshotType": sv.MANUAL,
            "Tags": tags, "requested": ctx.now(), "desired": "available"}
    res = ctx.store.create(KIND_SNAPSHOT, ctx.region, ident, spec, {"state": "creating", "progress": 0})
    shared.record(ctx, KIND_SNAPSHOT, ident, "Creating manual snapshot", "creation")
    return res


def _answer(ctx: Ctx, res: Resource) -> dict[str, Any]:
    return {"DBSnapshot": sv.snapshot(res, ctx.account)}


@operation("rds", "CreateDBSnapshot")
def create_db_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        inst = shared.get_instance(ctx, params["DBInstanceIdentifier"])
        ident = new_identifier(ctx, params["DBSnapshotIdentifier"], "DBSnapshotIdentifier")
        state = views.instance_status(inst.spec, inst.status)
        if state != "available":
            raise errors.instance_state(f"DB instance {inst.id} is not in available state (it is {state}).")
        res = take(ctx, inst, ident, tags or instance_tags(inst))
    return _answer(ctx, res)


def _is_public(res: Resource) -> bool:
    return "all" in ((res.spec.get("attributes") or {}).get("restore") or [])


def _of_type(found: list[Resource], wanted: str | None) -> list[Resource]:
    if wanted is None:
        return found
    if wanted not in SNAPSHOT_TYPES:
        raise errors.invalid(f"Invalid snapshot type: {wanted}. Use one of {', '.join(SNAPSHOT_TYPES)}.")
    if wanted == "public":
        return [s for s in found if _is_public(s)]
    # "shared" lists other accounts' snapshots shared with this one: one account here, none.
    return [s for s in found if s.spec.get("SnapshotType") == wanted]


def _getters(ctx: Ctx) -> dict[str, filters.Getter]:
    return {
        "db-instance-id": lambda r: [str(r.spec.get("DBInstanceIdentifier")),
                                     shared.arn(ctx, KIND_INSTANCE, str(r.spec.get("DBInstanceIdentifier")))],
        "db-snapshot-id": lambda r: [r.id, sv.snapshot_arn(r.region, ctx.account, r.id)],
        "dbi-resource-id": lambda r: r.spec.get("DbiResourceId"),
        "snapshot-type": lambda r: r.spec.get("SnapshotType"),
        "engine": lambda r: r.spec.get("Engine"),
    }


@operation("rds", "DescribeDBSnapshots")
def describe_db_snapshots(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("DBSnapshotIdentifier")
    found = [get(ctx, ref)] if ref else ctx.store.list(KIND_SNAPSHOT, ctx.region) + automated(ctx)
    members = {r.id for r in ctx.store.list(KIND_INSTANCE, ctx.region) if r.spec.get("DBClusterIdentifier")}
    # DB cluster snapshots are DescribeDBClusterSnapshots'
    found = [s for s in found if not s.spec.get("DBClusterIdentifier")
             and s.spec.get("DBInstanceIdentifier") not in members]
    if params.get("DBInstanceIdentifier"):
        ident = shared.instance_id(ctx, params["DBInstanceIdentifier"])
        found = [s for s in found if s.spec.get("DBInstanceIdentifier") == ident]
    if params.get("DbiResourceId"):
        found = [s for s in found if s.spec.get("DbiResourceId") == params["DbiResourceId"]]
    found = _of_type(found, params.get("SnapshotType"))
    found = filters.apply(found, params.get("Filters"), _getters(ctx))
    page, marker = rds_page(found, lambda r: r.id, params)
    return shared.with_marker({"DBSnapshots": [sv.snapshot(r, ctx.account) for r in page]}, marker)


@operation("rds", "DeleteDBSnapshot")
def delete_db_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = get(ctx, params["DBSnapshotIdentifier"])
        if res.spec.get("SnapshotType") != sv.MANUAL:
            raise errors.snapshot_state(f"Snapshot {res.id} is an automated snapshot: automated snapshots "
                                        "are deleted with their automated backups.")
        state = sv.snapshot_status(res)
        if state not in ("available", "failed"):
            raise errors.snapshot_state(f"Snapshot {res.id} is {state}: it can't be deleted now.")
        res = ctx.store.update(res, spec={**res.spec, "desired": "deleted"})
        shared.record(ctx, KIND_SNAPSHOT, res.id, "Manual snapshot deletion requested", "deletion")
    return _answer(ctx, res)


def _copy_encryption(ctx: Ctx, source: Resource, key: str | None) -> dict[str, Any]:
    """The source's key, or the one asked for (which also encrypts a copy of an unencrypted snapshot)."""
    if not key:
        return {"StorageEncrypted": bool(source.spec.get("StorageEncrypted")),
                "KmsKeyId": source.spec.get("KmsKeyId")}
    return {"StorageEncrypted": True, "KmsKeyId": check.kms_key(ctx, key, "alias/aws/rds")}


def _check_copy(params: dict[str, Any], source: Resource) -> None:
    for name, what in _COPY_REFUSED.items():
        if params.get(name):
            raise errors.not_implemented(what)
    if params.get("SnapshotTarget", "region") != "region":
        raise errors.not_implemented("snapshots on Outposts (SnapshotTarget)")
    group = params.get("OptionGroupName")
    major = str(source.spec.get("EngineVersion", "")).split(".")[0]
    if group is not None and group != f"default:postgres-{major}":
        raise errors.fault("OptionGroupNotFoundFault", f"Specified OptionGroupName: {group} not found.")


@operation("rds", "CopyDBSnapshot")
def copy_db_snapshot(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        source = get(ctx, params["SourceDBSnapshotIdentifier"])
        _check_copy(params, source)
        state = sv.snapshot_status(source)
        if state != "available":
            raise errors.snapshot_state(f"Snapshot {source.id} is {state}, not available: it can't be "
                                        "copied.")
        ident = new_identifier(ctx, params["TargetDBSnapshotIdentifier"], "TargetDBSnapshotIdentifier")
        require_key(ctx, source.spec)  # the copy reads the source through its key
        inherited = dict(source.spec.get("Tags") or {}) if params.get("CopyTags") else {}
        created = source.status.get("created") or source.spec.get("requested")
        spec = {k: v for k, v in source.spec.items() if k not in _NOT_COPIED}
        spec.update(_copy_encryption(ctx, source, params.get("KmsKeyId")))
        spec.update({"DBSnapshotIdentifier": ident, "SnapshotType": sv.MANUAL, "copy_of": source.id,
                     "SourceDBSnapshotIdentifier": sv.snapshot_arn(ctx.region, ctx.account, source.id),
                     "OriginalSnapshotCreateTime": source.spec.get("OriginalSnapshotCreateTime") or created,
                     "Tags": tagging.merged(inherited, tags), "requested": ctx.now(), "desired": "available"})
        spec = {k: v for k, v in spec.items() if v is not None}
        res = ctx.store.create(KIND_SNAPSHOT, ctx.region, ident, spec, {"state": "creating", "progress": 0})
        shared.record(ctx, KIND_SNAPSHOT, ident, f"Copying snapshot {source.id}", "creation")
    return _answer(ctx, res)
