"""The secret's lifecycle: create, describe, update, delete (recovery window or forced), restore, tags."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from kura.api.errors import AwsError
from kura.services.common import tags as tagging
from kura.services.registry import Ctx, operation
from kura.services.secretsmanager import ops, values, versions, views
from kura.services.secretsmanager.model import DAY, Secret, find, require
from kura.services.secretsmanager.names import (
    CURRENT,
    KIND,
    PENDING,
    PREVIOUS,
    SERVICE,
    check_name,
    exists,
    invalid_parameter,
    invalid_request,
    new_arn,
    not_found,
)

_TAG_ERROR = "InvalidParameterException"


def customer_key(ctx: Ctx, key_ref: str | None) -> str | None:
    """The ARN of the customer key a KmsKeyId names; None for the AWS managed key (or "")."""
    if not key_ref:
        return None
    arn = values.resolve_key(ctx.env, ctx.region, key_ref)
    return None if arn == values.resolve_key(ctx.env, ctx.region, None) else arn


@operation(SERVICE, "CreateSecret")
def create_secret(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Name"]
    check_name(name)
    if params.get("AddReplicaRegions") or params.get("CrossAccountPrimaryARN"):
        raise invalid_request(
            "kura does not implement Secrets Manager replication (AddReplicaRegions, cross-account "
            "replicas): create the secret in each region instead."
        )
    value = values.from_params(params, required=False)
    tags = tagging.normalize(params.get("Tags"), _TAG_ERROR)
    tagging.merged({}, tags, _TAG_ERROR)
    token = params.get("ClientRequestToken") or str(uuid.uuid4())
    now = ctx.now()
    with ctx.store.transaction():
        old = ctx.store.get(KIND, ctx.region, name)
        if old is not None:
            return _existing(ctx, Secret.from_resource(old), token, value)
        secret = Secret(
            arn=new_arn(ctx.region, ctx.account, name), name=name, region=ctx.region, created=now,
            last_changed=now, description=params.get("Description"),
            kms_key_id=customer_key(ctx, params.get("KmsKeyId")), tags=tags, type=params.get("Type"),
        )
        if value is not None:
            secret = ops.add_version(ctx.env, secret, token, value, None, now)
        ctx.store.create(KIND, ctx.region, name, secret.to_spec())
    out = {"ARN": secret.arn, "Name": name}
    if value is not None:
        out["VersionId"] = token
    return out


def _existing(ctx: Ctx, secret: Secret, token: str, value: values.SecretValue | None) -> dict[str, Any]:
    """CreateSecret on a taken name: a retry of the same request succeeds again, anything else fails."""
    if secret.deleted is not None:
        raise invalid_request(
            "You can't create this secret because a secret with this name is already scheduled for deletion."
        )
    if value is not None and secret.version(token) is not None:
        try:
            if ops.same_version(ctx.env, secret, token, value):
                return {"ARN": secret.arn, "Name": secret.name, "VersionId": token}
        except AwsError:
            pass
    raise exists(f"The operation failed because the secret {secret.name} already exists.")


@operation(SERVICE, "DescribeSecret")
def describe_secret(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _, secret = require(ctx.env, ctx.region, params["SecretId"])
    return views.describe(secret)


@operation(SERVICE, "UpdateSecret")
def update_secret(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    value = values.from_params(params, required=False)
    now = ctx.now()
    out: dict[str, Any] = {}
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        if value is not None or "KmsKeyId" in params:
            ops.not_managed(secret, "update the value or key of")
        changes: dict[str, Any] = {}
        for param, attr in (("Description", "description"), ("Type", "type")):
            if param in params:
                changes[attr] = params[param]
        secret = secret.changed(now, **changes)
        if "KmsKeyId" in params:
            secret = _rekey(ctx, secret, customer_key(ctx, params["KmsKeyId"]))
        if value is not None:
            token = params.get("ClientRequestToken") or str(uuid.uuid4())
            if secret.version(token) is not None:
                raise exists("You can't modify an existing version, you can only create a new version.")
            secret = ops.add_version(ctx.env, secret, token, value, None, now)
            out["VersionId"] = token
        ops.save(ctx.env, res, secret)
    return {"ARN": secret.arn, "Name": secret.name, **out}


def _rekey(ctx: Ctx, secret: Secret, key_arn: str | None) -> Secret:
    """Re-encrypt the labelled versions under the new key, as AWS does on a KmsKeyId change."""
    if key_arn == secret.kms_key_id:
        return secret
    secret = dataclasses.replace(secret, kms_key_id=key_arn)
    for v in secret.versions:
        if not {CURRENT, PREVIOUS, PENDING} & set(v.stages):
            continue
        try:
            plain = values.load(ctx.env, ctx.region, secret.arn, v.id)
        except AwsError:
            continue  # the old key is unusable: AWS too leaves such versions as they are
        values.store(ctx.env, ctx.region, secret.arn, v.id, key_arn, plain)
        secret = versions.retag(secret, v.id, key_arn)
    return secret


@operation(SERVICE, "DeleteSecret")
def delete_secret(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    window, force = params.get("RecoveryWindowInDays"), bool(params.get("ForceDeleteWithoutRecovery"))
    if window is not None and force:
        raise invalid_parameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
        )
    if window is not None and not 7 <= window <= 30:
        raise invalid_parameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
    now = ctx.now()
    with ctx.store.transaction():
        found = find(ctx.env, ctx.region, params["SecretId"])
        if found is None:
            if not force:
                raise not_found()
            return _gone(params["SecretId"], now)  # AWS: forcing a missing secret is not an error
        res, secret = found
        ops.not_managed(secret, "delete")
        if force:
            ops.purge(ctx.env, res, secret)
            return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": now}
        ops.usable(secret)
        when = now + (window or 30) * DAY
        ops.save(ctx.env, res, secret.changed(now, deleted=now, deletion_date=when))
    return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": when}


def _gone(secret_id: str, now: float) -> dict[str, Any]:
    if secret_id.startswith("arn:"):
        return {"ARN": secret_id, "Name": secret_id.rsplit(":", 1)[-1], "DeletionDate": now}
    return {"Name": secret_id, "DeletionDate": now}


@operation(SERVICE, "RestoreSecret")
def restore_secret(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        if secret.deleted is not None:
            ops.save(ctx.env, res, secret.changed(ctx.now(), deleted=None, deletion_date=None))
    return {"ARN": secret.arn, "Name": secret.name}


@operation(SERVICE, "TagResource")
def tag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    new = tagging.normalize(params["Tags"], _TAG_ERROR)
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        tags = tagging.merged(secret.tags, new, _TAG_ERROR)
        ops.save(ctx.env, res, secret.changed(ctx.now(), tags=tags))
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        tags = tagging.without(secret.tags, params["TagKeys"])
        ops.save(ctx.env, res, secret.changed(ctx.now(), tags=tags))
    return {}
