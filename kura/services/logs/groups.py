"""Log groups: create, describe, delete, retention and deletion protection."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.metrics import logstore
from kura.metrics.logstore import Group
from kura.services.common.pagination import paginate
from kura.services.logs import shared
from kura.services.logs.shared import SERVICE
from kura.services.registry import Ctx, operation


def view(ctx: Ctx, grp: Group) -> dict[str, Any]:
    arn = shared.group_arn(ctx, grp.name)
    out: dict[str, Any] = {
        "logGroupName": grp.name, "creationTime": grp.created, "metricFilterCount": 0,
        "arn": arn + ":*", "logGroupArn": arn, "storedBytes": grp.stored_bytes, "logGroupClass": grp.cls,
        "deletionProtectionEnabled": grp.protected,
    }
    if grp.retention is not None:
        out["retentionInDays"] = grp.retention
    if grp.kms_key:
        out["kmsKeyId"] = grp.kms_key
    return out


@operation(SERVICE, "CreateLogGroup")
def create_log_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["logGroupName"]
    tags = dict(params.get("tags") or {})
    if any(k.lower().startswith("aws:") for k in tags):
        raise shared.invalid("Tag keys cannot start with the reserved prefix 'aws:'.")
    try:
        shared.store(ctx).create_group(ctx.region, name, shared.now_ms(ctx), kms_key=params.get("kmsKeyId"),
                                       cls=params.get("logGroupClass") or "STANDARD", tags=tags,
                                       protected=bool(params.get("deletionProtectionEnabled")))
    except logstore.Exists as exc:
        raise shared.exists("The specified log group already exists") from exc
    return {}


@operation(SERVICE, "DeleteLogGroup")
def delete_log_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, params)
    if grp.protected:
        raise AwsError("OperationAbortedException",
                       f"Log group {grp.name} has deletion protection enabled: disable it first.")
    shared.store(ctx).delete_group(grp.id)
    return {}


def _selected(ctx: Ctx, params: dict[str, Any]) -> list[Group]:
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    idents = params.get("logGroupIdentifiers")
    if sum(x is not None for x in (prefix, pattern, idents)) > 1:
        raise shared.invalid("LogGroup name prefix, name pattern and identifiers are mutually exclusive "
                             "parameters.")
    groups = shared.store(ctx).groups(ctx.region, prefix or "")
    if pattern:  # a case-insensitive substring of the name, as CloudWatch Logs matches it
        groups = [g for g in groups if pattern.lower() in g.name.lower()]
    if idents is not None:
        wanted = {shared.name_of(ctx, i) for i in idents}
        groups = [g for g in groups if g.name in wanted]
    if params.get("logGroupClass"):
        groups = [g for g in groups if g.cls == params["logGroupClass"]]
    return groups


@operation(SERVICE, "DescribeLogGroups")
def describe_log_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    page, token = paginate(_selected(ctx, params), lambda g: g.name, params.get("nextToken"),
                           params.get("limit"), default=50, maximum=50, limit_name="limit",
                           error_code="InvalidParameterException")
    out: dict[str, Any] = {"logGroups": [view(ctx, g) for g in page]}
    if token:
        out["nextToken"] = token
    return out


@operation(SERVICE, "PutRetentionPolicy")
def put_retention_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    days = params["retentionInDays"]
    if days not in shared.RETENTION_DAYS:
        raise shared.invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                             "satisfy constraint: Member must satisfy enum value set: "
                             f"[{', '.join(str(d) for d in shared.RETENTION_DAYS)}]")
    grp = shared.group(ctx, params)
    shared.store(ctx).set_retention(grp.id, days)
    # What the new retention no longer keeps goes now (the control plane sweeps what ages out later).
    shared.store(ctx).expire(grp.id, shared.now_ms(ctx) - days * logstore.DAY_MS)
    return {}


@operation(SERVICE, "DeleteRetentionPolicy")
def delete_retention_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, params)
    shared.store(ctx).set_retention(grp.id, None)
    return {}


@operation(SERVICE, "PutLogGroupDeletionProtection")
def put_log_group_deletion_protection(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, {"logGroupIdentifier": params["logGroupIdentifier"]})
    shared.store(ctx).set_protected(grp.id, bool(params["deletionProtectionEnabled"]))
    return {}
