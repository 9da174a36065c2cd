"""Writes shared by the handlers, the rotation runtime and other services' internal calls.

Callers hold a store transaction around read-modify-write, so a version's value record and the
secret's metadata change together or not at all.
"""

from __future__ import annotations

import dataclasses

from kura.env import Env
from kura.services.secretsmanager import values, versions
from kura.services.secretsmanager.model import Secret, Version, day_of, find
from kura.services.secretsmanager.names import exists, invalid_request, marked_for_deletion
from kura.services.secretsmanager.values import SecretValue
from kura.store.types import Resource


def save(env: Env, res: Resource, secret: Secret) -> Resource:
    return env.store.update(res, spec=secret.to_spec())


def usable(secret: Secret) -> Secret:
    """Refuse secrets scheduled for deletion, as AWS does for every operation but a few."""
    if secret.deleted is not None:
        raise marked_for_deletion()
    return secret


def not_managed(secret: Secret, action: str) -> None:
    """Secrets another service manages (OwningService) change only through that service."""
    if secret.owning_service:
        raise invalid_request(
            f"You can't {action} the secret {secret.name} because it's managed by {secret.owning_service}. "
            f"Use {secret.owning_service} to change it."
        )


def add_version(env: Env, secret: Secret, version_id: str, value: SecretValue,
                stages: list[str] | None, now: float) -> Secret:
    """Encrypt `value` as a new version, attach `stages` (default AWSCURRENT), prune the oldest."""
    values.store(env, secret.region, secret.arn, version_id, secret.kms_key_id, value)
    new, dropped = versions.add(secret, Version(version_id, (), now, secret.kms_key_id), stages, now)
    values.drop(env, secret.region, secret.arn, dropped)
    return new.changed(now)


def same_version(env: Env, secret: Secret, version_id: str, value: SecretValue) -> bool:
    """A retry of a version that exists: True if it holds `value`, ResourceExistsException if not."""
    if secret.version(version_id) is None:
        return False
    if not values.load(env, secret.region, secret.arn, version_id).same_as(value):
        raise exists("You can't modify an existing version, you can only create a new version.")
    return True


def purge(env: Env, res: Resource, secret: Secret) -> None:
    """Delete the secret and every value record it owns."""
    values.drop(env, secret.region, secret.arn, [v.id for v in secret.versions])
    env.store.delete(res)


def touch(env: Env, secret: Secret, version_id: str, now: float) -> None:
    """Record the access date (day resolution, as AWS keeps it): a write at most once a day.

    `secret` is the copy the caller read; only when its dates are stale is it read again, inside
    a write transaction, so the hot path of GetSecretValue stays read-only.
    """
    day = day_of(now)
    v = secret.version(version_id)
    if secret.last_accessed == day and (v is None or v.last_accessed == day):
        return
    with env.store.transaction():
        found = find(env, secret.region, secret.name)
        if found is None or found[1].arn != secret.arn:
            return
        res, fresh = found
        vs = [Version(x.id, x.stages, x.created, x.kms_key_arn, day) if x.id == version_id else x
              for x in fresh.versions]
        save(env, res, dataclasses.replace(fresh.with_versions(vs), last_accessed=day))
