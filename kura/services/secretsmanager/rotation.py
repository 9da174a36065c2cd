"""The rotation hook: rotators that other services (RDS) or plugins register, and what they may do.

AWS rotates a secret by calling a Lambda function four times (createSecret, setSecret, testSecret,
finishSecret) with the secret's ARN and a ClientRequestToken, the id of the version being created.
Kura runs no Lambda; instead a Rotator registered here owns some secrets (`owns`) and implements the
same four steps in-process. The control plane (kura/control/secrets.py) runs them one by one, each
checkpointed, so a crash mid-rotation resumes at the interrupted step: every step must be
idempotent, exactly as AWS requires of a rotation Lambda.

    create_secret: put the new value as version `rot.token` with AWSPENDING (`rot.put_pending`),
                   unless that version exists already.
    set_secret:    make the resource (database user …) accept the AWSPENDING credentials.
    test_secret:   check that the AWSPENDING credentials work.
    finish_secret: anything left to do; then Kura moves AWSCURRENT to the new version (AWSPREVIOUS
                   follows) and removes AWSPENDING.

Raise TemporaryError to retry a step later, PermanentError to give up until RotateSecret is called
again; never put a secret value into an exception message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from kura.env import Env
from kura.services.secretsmanager import ops, schedule, versions
from kura.services.secretsmanager import values as _values
from kura.services.secretsmanager.model import Secret, require
from kura.services.secretsmanager.names import CURRENT, PENDING
from kura.services.secretsmanager.password import random_password

__all__ = [
    "RotationContext", "Rotator", "SecretInfo", "complete", "get_rotator", "random_password",
    "register_rotator", "rotator_for", "unregister_rotator",
]


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What a rotator may know about a secret to decide whether it owns it (no values)."""

    arn: str
    name: str
    region: str
    description: str | None
    owning_service: str | None
    tags: Mapping[str, str]
    kms_key_id: str | None
    rotation_lambda_arn: str | None
    type: str | None

    @classmethod
    def of(cls, secret: Secret) -> SecretInfo:
        return cls(secret.arn, secret.name, secret.region, secret.description, secret.owning_service,
                   dict(secret.tags), secret.kms_key_id, secret.rotation.lambda_arn, secret.type)


class Rotator(Protocol):
    def owns(self, secret: SecretInfo) -> bool: ...

    def create_secret(self, rot: RotationContext) -> None: ...

    def set_secret(self, rot: RotationContext) -> None: ...

    def test_secret(self, rot: RotationContext) -> None: ...

    def finish_secret(self, rot: RotationContext) -> None: ...


_ROTATORS: dict[str, Rotator] = {}


def register_rotator(name: str, rotator: Rotator) -> Rotator:
    """Register (or, under the same name, replace) a rotator. Call at import time."""
    _ROTATORS[name] = rotator
    return rotator


def unregister_rotator(name: str) -> None:
    _ROTATORS.pop(name, None)


def get_rotator(name: str) -> Rotator | None:
    return _ROTATORS.get(name)


def rotator_for(secret: SecretInfo) -> tuple[str, Rotator] | None:
    """The first registered rotator that owns the secret (registration order)."""
    for name, rotator in _ROTATORS.items():
        if rotator.owns(secret):
            return name, rotator
    return None


@dataclass(frozen=True, slots=True)
class RotationContext:
    """One rotation of one secret: what the four steps receive instead of a Lambda event."""

    env: Env
    region: str
    secret_arn: str
    token: str  # the ClientRequestToken: id of the version this rotation creates

    def _secret(self) -> Secret:
        return require(self.env, self.region, self.secret_arn)[1]

    @property
    def secret(self) -> SecretInfo:
        return SecretInfo.of(self._secret())

    def value(self, stage: str = CURRENT) -> str | bytes | None:
        """The value of the version that carries `stage`, or None if none does."""
        secret = self._secret()
        v = secret.staged(stage)
        return None if v is None else _plain(self.env, secret, v.id)

    def pending_value(self) -> str | bytes | None:
        """The value of the version this rotation creates, once create_secret stored it."""
        secret = self._secret()
        return None if secret.version(self.token) is None else _plain(self.env, secret, self.token)

    def put_pending(self, value: str | bytes) -> None:
        """Store `value` as version `token` with AWSPENDING. Idempotent for the same value."""
        new = _values.SecretValue(binary=value) if isinstance(value, bytes) else \
            _values.SecretValue(text=value)
        with self.env.store.transaction():
            res, secret = require(self.env, self.region, self.secret_arn)
            if not ops.same_version(self.env, secret, self.token, new):
                secret = ops.add_version(self.env, secret, self.token, new, [PENDING], self.env.clock.now())
                ops.save(self.env, res, secret)


def _plain(env: Env, secret: Secret, version_id: str) -> str | bytes:
    value = _values.load(env, secret.region, secret.arn, version_id)
    return value.binary if value.binary is not None else (value.text or "")


def complete(env: Env, region: str, secret_arn: str, token: str) -> Secret:
    """After finish_secret: AWSCURRENT to the new version, AWSPENDING removed, next date scheduled.

    Idempotent: a second call after a crash finds the labels already in place.
    """
    now = env.clock.now()
    with env.store.transaction():
        res, secret = require(env, region, secret_arn)
        if secret.version(token) is None:
            raise LookupError(f"rotation of {secret.name}: version {token} was never created")
        holder = secret.current
        if holder is None or holder.id != token:
            secret = versions.move_stage(secret, CURRENT, holder.id if holder else None, token)
        pending = secret.staged(PENDING)
        if pending is not None:
            secret = versions.move_stage(secret, PENDING, pending.id, None)
        rot = secret.rotation
        rotation = dataclasses.replace(
            rot, pending=None if rot.pending == token else rot.pending, last_rotated=now,
            next_rotation=schedule.next_rotation(rot.rules, now) if rot.enabled else None,
        )
        secret = secret.changed(now, rotation=rotation)
        ops.save(env, res, secret)
        return secret
