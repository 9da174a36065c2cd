"""In-process API for services that manage secrets of their own (RDS's ManageMasterUserPassword).

Such secrets carry OwningService; users can read them, but only the owning service changes their
value or deletes them (as on AWS). Rotation of them goes through a Rotator (rotation.py) that the
owning service registers.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from kura.api.errors import AwsError
from kura.env import Env
from kura.services.secretsmanager import ops, schedule, values
from kura.services.secretsmanager.model import Rotation, Secret, find, require
from kura.services.secretsmanager.names import CURRENT, DEFAULT_KEY_ALIAS, KIND, check_name, exists, new_arn
from kura.services.secretsmanager.values import SecretValue


@dataclass(frozen=True, slots=True)
class ManagedSecret:
    arn: str
    name: str
    version_id: str
    kms_key_arn: str  # the key that encrypts it (the AWS managed key's ARN when none was given)


def create_managed_secret(
    env: Env, region: str, *, name: str, value: str, owning_service: str,
    kms_key_id: str | None = None, description: str | None = None, tags: dict[str, str] | None = None,
    rotation_rules: dict[str, Any] | None = None, rotator: str | None = None,
) -> ManagedSecret:
    """Create a secret owned by `owning_service` (names like "rds!db-<uuid>" are allowed).

    `rotation_rules` (e.g. {"ScheduleExpression": "rate(7 days)"}) turn on scheduled rotation by
    the rotator registered as `rotator`. Raises AwsError (ResourceExistsException, KMS failures).
    """
    check_name(name, managed=True)
    now = env.clock.now()
    with env.store.transaction():
        if env.store.get(KIND, region, name) is not None:
            raise exists(f"The operation failed because the secret {name} already exists.")
        key_arn = values.resolve_key(env, region, kms_key_id)
        default = values.resolve_key(env, region, None)
        rules = schedule.validate(rotation_rules, now) if rotation_rules else None
        secret = Secret(
            arn=new_arn(region, env.account, name), name=name, region=region, created=now, last_changed=now,
            description=description, kms_key_id=None if key_arn == default else key_arn,
            tags=dict(tags or {}), owning_service=owning_service,
            rotation=Rotation(enabled=rules is not None, rules=rules, rotator=rotator,
                              next_rotation=schedule.next_rotation(rules, now)),
        )
        version_id = str(uuid.uuid4())
        secret = ops.add_version(env, secret, version_id, SecretValue(text=value), None, now)
        env.store.create(KIND, region, name, secret.to_spec())
    return ManagedSecret(secret.arn, name, version_id, key_arn)


def read_secret(env: Env, region: str, secret_id: str, stage: str = CURRENT) -> str | bytes:
    """The value carrying `stage` (name or ARN).

    Raises AwsError ResourceNotFoundException / DecryptionFailure.
    """
    _, secret = require(env, region, secret_id)
    v = secret.staged(stage)
    if v is None:
        raise AwsError("ResourceNotFoundException",
                       f"Secrets Manager can't find the specified secret value for staging label: {stage}")
    value = values.load(env, region, secret.arn, v.id)
    return value.binary if value.binary is not None else (value.text or "")


def put_managed_value(env: Env, region: str, secret_id: str, value: str) -> str:
    """A new AWSCURRENT version (e.g. after ModifyDBInstance changed the password); its id."""
    version_id = str(uuid.uuid4())
    with env.store.transaction():
        res, secret = require(env, region, secret_id)
        secret = ops.add_version(env, secret, version_id, SecretValue(text=value), None, env.clock.now())
        ops.save(env, res, secret)
    return version_id


def set_managed_rotation(env: Env, region: str, secret_id: str, rules: dict[str, Any] | None) -> None:
    """Turn scheduled rotation on (rules) or off (None) for a managed secret."""
    now = env.clock.now()
    recorded = schedule.validate(rules, now) if rules else None
    with env.store.transaction():
        res, secret = require(env, region, secret_id)
        rot = dataclasses.replace(secret.rotation, enabled=recorded is not None, rules=recorded,
                                  next_rotation=schedule.next_rotation(recorded, now))
        ops.save(env, res, secret.changed(now, rotation=rot))


def delete_managed_secret(env: Env, region: str, secret_id: str) -> None:
    """Delete at once (AWS deletes a managed secret with its DB instance). Missing is fine."""
    with env.store.transaction():
        found = find(env, region, secret_id)
        if found is not None:
            ops.purge(env, *found)


__all__ = [
    "DEFAULT_KEY_ALIAS", "ManagedSecret", "create_managed_secret", "delete_managed_secret",
    "put_managed_value", "read_secret", "set_managed_rotation",
]
