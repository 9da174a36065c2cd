"""Secret values and versions: get (one or a batch), put, move staging labels, list versions."""

from __future__ import annotations

import uuid
from typing import Any

from kura.api.errors import AwsError
from kura.services.registry import Ctx, operation
from kura.services.secretsmanager import listing, ops, values, versions, views
from kura.services.secretsmanager.model import Secret, Version, require
from kura.services.secretsmanager.names import CURRENT, SERVICE, invalid_parameter, not_found

_BATCH_MAX = 20


def _pick(secret: Secret, version_id: str | None, stage: str | None) -> Version:
    if version_id is not None:
        v = secret.version(version_id)
        if v is None:
            raise not_found(
                f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
        if stage is not None and stage not in v.stages:
            raise not_found("You provided a VersionStage that is not associated to the provided VersionId.")
        return v
    stage = stage or CURRENT
    v = secret.staged(stage)
    if v is None:
        raise not_found(f"Secrets Manager can't find the specified secret value for staging label: {stage}")
    return v


def read(ctx: Ctx, secret_id: str, version_id: str | None = None,
         stage: str | None = None) -> dict[str, Any]:
    """GetSecretValue's answer; records the access date (at most one write a day)."""
    _, secret = require(ctx.env, ctx.region, secret_id)
    ops.usable(secret)
    v = _pick(secret, version_id, stage)
    value = values.load(ctx.env, ctx.region, secret.arn, v.id)
    ops.touch(ctx.env, secret, v.id, ctx.now())
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name, "VersionId": v.id, **value.as_output()}
    if v.stages:
        out["VersionStages"] = list(v.stages)
    out["CreatedDate"] = v.created
    return out


@operation(SERVICE, "GetSecretValue")
def get_secret_value(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return read(ctx, params["SecretId"], params.get("VersionId"), params.get("VersionStage"))


@operation(SERVICE, "BatchGetSecretValue")
def batch_get_secret_value(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ids, filters = params.get("SecretIdList"), params.get("Filters")
    if (ids is None) == (filters is None):
        raise invalid_parameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.")
    token: str | None = None
    if ids is None:
        secrets = listing.matching(listing.all_secrets(ctx, include_deleted=False), filters)
        chunk, token = listing.page(secrets, lambda s: s.name, params.get("NextToken"),
                                    params.get("MaxResults") or _BATCH_MAX)
        ids = [s.arn for s in chunk]
    elif params.get("MaxResults") is not None or params.get("NextToken") is not None:
        raise invalid_parameter("MaxResults and NextToken can only be used with Filters.")
    found: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for secret_id in dict.fromkeys(ids):
        try:
            found.append(read(ctx, secret_id))
        except AwsError as exc:
            errors.append({"SecretId": secret_id, "ErrorCode": exc.code, "Message": exc.message})
    out: dict[str, Any] = {"SecretValues": found, "Errors": errors}
    if token:
        out["NextToken"] = token
    return out


@operation(SERVICE, "PutSecretValue")
def put_secret_value(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    value = values.required(params)
    token = params.get("ClientRequestToken") or str(uuid.uuid4())
    stages = params.get("VersionStages")
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        ops.not_managed(secret, "put a value into")
        if not ops.same_version(ctx.env, secret, token, value):
            secret = ops.add_version(ctx.env, secret, token, value, stages, ctx.now())
            ops.save(ctx.env, res, secret)
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name, "VersionId": token}
    v = secret.version(token)
    if v is not None and v.stages:
        out["VersionStages"] = list(v.stages)
    return out


@operation(SERVICE, "UpdateSecretVersionStage")
def update_secret_version_stage(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        moved = versions.move_stage(secret, params["VersionStage"], params.get("RemoveFromVersionId"),
                                    params.get("MoveToVersionId"))
        ops.save(ctx.env, res, moved.changed(ctx.now()))
    return {"ARN": secret.arn, "Name": secret.name}


@operation(SERVICE, "ListSecretVersionIds")
def list_secret_version_ids(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _, secret = require(ctx.env, ctx.region, params["SecretId"])
    # Newest first; the position breaks ties between versions created in the same instant.
    order = {v.id: f"{v.created:020.6f}\n{i:04d}\n{v.id}" for i, v in enumerate(secret.versions)}
    shown = [v for v in secret.versions if v.stages or params.get("IncludeDeprecated")]
    chunk, token = listing.page(shown, lambda v: order[v.id], params.get("NextToken"),
                                params.get("MaxResults") or 100, descending=True)
    out: dict[str, Any] = {"Versions": [views.version_entry(v) for v in chunk], "ARN": secret.arn,
                           "Name": secret.name}
    if token:
        out["NextToken"] = token
    return out
