"""The master password: sealed in the spec, or held in a Secrets Manager secret that RDS owns.

A managed secret is named like AWS's (`rds!db-<uuid>`), holds {"username", "password"} and rotates
every 7 days by default, through the rotator the control plane registers as "rds".
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from kura.api.errors import AwsError
from kura.services import registry
from kura.services.rds import errors
from kura.services.registry import Ctx
from kura.services.secretsmanager import internal as sm
from kura.services.secretsmanager.password import random_password

ROTATOR = "rds"
ROTATION_RULES = {"ScheduleExpression": "rate(7 days)"}
DEFAULT_KEY_ALIAS = "alias/aws/secretsmanager"


def seal(ctx: Ctx, instance_arn: str, password: str) -> str:
    """base64 of the password sealed with the master key, bound to the instance ARN."""
    blob = ctx.env.master_key.seal(password.encode(), aad=instance_arn.encode())
    return base64.b64encode(blob).decode()


def generate() -> str:
    # What RDS generates: no characters PostgreSQL's or the CLI's quoting would trip on.
    return random_password(28, exclude_characters='/"@ \'\\`')


def create(ctx: Ctx, *, username: str, kms_key_arn: str,
           tags: dict[str, str] | None = None) -> sm.ManagedSecret:
    name = f"rds!db-{uuid.uuid4()}"
    value = json.dumps({"username": username, "password": generate()})
    return sm.create_managed_secret(
        ctx.env, ctx.region, name=name, value=value, owning_service="rds", kms_key_id=kms_key_arn,
        description="Secret associated with primary RDS DB instance", tags=tags,
        rotation_rules=ROTATION_RULES, rotator=ROTATOR)


def delete(ctx: Ctx, secret_arn: str) -> None:
    sm.delete_managed_secret(ctx.env, ctx.region, secret_arn)


def rotate(ctx: Ctx, secret_arn: str) -> None:
    """RotateMasterUserPassword: an immediate rotation of the managed secret (AWSPENDING → AWSCURRENT)."""
    handler = registry.lookup("secretsmanager", "RotateSecret")
    if handler is None:  # pragma: no cover - the package is always loaded with RDS
        raise errors.not_implemented("rotation of managed master passwords")
    sm_ctx = Ctx(ctx.env, "secretsmanager", "RotateSecret", ctx.region, ctx.request_id, ctx.access_key)
    try:
        handler(sm_ctx, {"SecretId": secret_arn})
    except AwsError as exc:
        raise errors.instance_state(f"The master user secret can't be rotated now: {exc.message}") from exc


def view(spec: dict[str, Any]) -> dict[str, Any] | None:
    if not spec.get("ManageMasterUserPassword") or not spec.get("MasterUserSecretArn"):
        return None
    return {"SecretArn": spec["MasterUserSecretArn"], "SecretStatus": "active",
            "KmsKeyId": spec.get("MasterUserSecretKmsKeyId")}
