"""RotateSecret / CancelRotateSecret: record the wish; kura/control/secrets.py carries it out."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from kura.services.registry import Ctx, operation
from kura.services.secretsmanager import ops, rotation, schedule
from kura.services.secretsmanager.model import Rotation, Secret, require
from kura.services.secretsmanager.names import PENDING, SERVICE, exists, invalid_request

_NO_LAMBDA = "No Lambda rotation function ARN is associated with this secret."


def _busy(secret: Secret) -> bool:
    """A rotation is under way, or AWSPENDING sits on a version other than AWSCURRENT's."""
    pending, current = secret.staged(PENDING), secret.current
    return secret.rotation.pending is not None or (
        pending is not None and (current is None or pending.id != current.id))


def _rotator(secret: Secret, lambda_arn: str | None) -> str:
    found = rotation.rotator_for(rotation.SecretInfo.of(secret))
    if found is not None:
        return found[0]
    if lambda_arn:
        raise invalid_request(
            f"kura cannot invoke the Lambda rotation function {lambda_arn}: it runs no AWS Lambda. Kura "
            "rotates only secrets that one of its rotators owns, such as secrets managed by RDS."
        )
    raise invalid_request(_NO_LAMBDA)


@operation(SERVICE, "RotateSecret")
def rotate_secret(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("ExternalSecretRotationMetadata") or params.get("ExternalSecretRotationRoleArn"):
        raise invalid_request("kura does not implement rotation of managed external secrets.")
    now = ctx.now()
    rules = params.get("RotationRules")
    recorded = schedule.validate(rules, now) if rules else None
    immediately = params.get("RotateImmediately", True) is not False
    token = params.get("ClientRequestToken") or str(uuid.uuid4())
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        if immediately and secret.rotation.pending == token:
            return {"ARN": secret.arn, "Name": secret.name, "VersionId": token}  # a retry
        if _busy(secret):
            raise invalid_request("A previous rotation isn't complete. That rotation will be reattempted.")
        if immediately and secret.version(token) is not None:
            raise exists("You can't modify an existing version, you can only create a new version.")
        lambda_arn = params.get("RotationLambdaARN") or secret.rotation.lambda_arn
        rotator = _rotator(secret, lambda_arn)
        rules_now = recorded or secret.rotation.rules
        # An immediate rotation schedules the next one when it completes (rotation.complete).
        next_at = schedule.next_rotation(rules_now, now) if rules_now and not immediately else None
        new = dataclasses.replace(
            secret.rotation, enabled=rules_now is not None, lambda_arn=lambda_arn or None, rules=rules_now,
            rotator=rotator, pending=token if immediately else None, next_rotation=next_at,
        )
        ops.save(ctx.env, res, secret.changed(now, rotation=new))
    out = {"ARN": secret.arn, "Name": secret.name}
    if immediately:
        out["VersionId"] = token
    return out


@operation(SERVICE, "CancelRotateSecret")
def cancel_rotate_secret(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        rot = secret.rotation
        new = Rotation(enabled=False, lambda_arn=rot.lambda_arn, rules=rot.rules,
                       last_rotated=rot.last_rotated, rotator=rot.rotator)
        ops.save(ctx.env, res, secret.changed(ctx.now(), rotation=new))
    out = {"ARN": secret.arn, "Name": secret.name}
    staged = secret.staged(PENDING)
    pending = rot.pending or (staged.id if staged else None)
    if pending:
        out["VersionId"] = pending  # the possibly half-made version, for the caller to clean up
    return out
