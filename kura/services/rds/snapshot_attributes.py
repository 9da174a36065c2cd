"""ModifyDBSnapshotAttribute and DescribeDBSnapshotAttributes: who may restore a manual snapshot.

The `restore` attribute lists account ids (or `all`: public). Kura serves one account, so the list is
recorded and shown as RDS shows it; nobody else can restore from it here.
"""

from __future__ import annotations

import re
from typing import Any

from kura.services.rds import errors, snapshots
from kura.services.rds import instance_validation as check
from kura.services.rds import snapshot_views as sv
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

RESTORE = "restore"
MAX_SHARED = 20  # accounts a manual snapshot can be shared with
_ACCOUNT = re.compile(r"^\d{12}$")


def _result(res: Resource) -> dict[str, Any]:
    values = list((res.spec.get("attributes") or {}).get(RESTORE) or [])
    return {"DBSnapshotAttributesResult": {
        "DBSnapshotIdentifier": res.id,
        "DBSnapshotAttributes": [{"AttributeName": RESTORE, "AttributeValues": values}]}}


def _values(params: dict[str, Any], name: str) -> list[str]:
    values = [str(v) for v in params.get(name) or []]
    for value in values:
        if value != "all" and not _ACCOUNT.match(value):
            raise errors.invalid(f"Invalid value {value} in {name}: use 12-digit AWS account ids or all.")
    return values


def _check_public(ctx: Ctx, res: Resource, wanted: list[str]) -> None:
    if not res.spec.get("StorageEncrypted") or not wanted:
        return
    if "all" in wanted:
        raise errors.invalid("Encrypted snapshots can't be shared publicly (restore attribute all).")
    if res.spec.get("KmsKeyId") == check.kms_key(ctx, None, "alias/aws/rds"):
        raise errors.invalid("A snapshot encrypted with the default KMS key (aws/rds) can't be shared: copy "
                             "it with a customer managed key first.")


@operation("rds", "ModifyDBSnapshotAttribute")
def modify_db_snapshot_attribute(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params["AttributeName"] != RESTORE:
        raise errors.invalid(f"Invalid attribute name {params['AttributeName']}: use {RESTORE}.")
    add, remove = _values(params, "ValuesToAdd"), _values(params, "ValuesToRemove")
    with ctx.store.transaction():
        res = snapshots.get(ctx, params["DBSnapshotIdentifier"])
        if res.spec.get("SnapshotType") != sv.MANUAL:
            raise errors.snapshot_state(f"Snapshot {res.id} is an automated snapshot: copy it to share it.")
        state = sv.snapshot_status(res)
        if state != "available":
            raise errors.snapshot_state(f"Snapshot {res.id} is {state}, not available.")
        current = list((res.spec.get("attributes") or {}).get(RESTORE) or [])
        wanted = [v for v in dict.fromkeys(current + add) if v not in remove]
        _check_public(ctx, res, [v for v in wanted if v not in current])
        if len([v for v in wanted if v != "all"]) > MAX_SHARED:
            raise errors.fault("SharedSnapshotQuotaExceeded", f"A manual snapshot can be shared with at most "
                                                              f"{MAX_SHARED} accounts.")
        attributes = {**(res.spec.get("attributes") or {}), RESTORE: wanted}
        res = ctx.store.update(res, spec={**res.spec, "attributes": attributes})
    return _result(res)


@operation("rds", "DescribeDBSnapshotAttributes")
def describe_db_snapshot_attributes(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _result(snapshots.get(ctx, params["DBSnapshotIdentifier"]))
