"""Staging labels and the version list: pure functions from a Secret to the next Secret.

Rules as AWS applies them: a label is on at most one version; moving AWSCURRENT moves AWSPREVIOUS
to the version AWSCURRENT left; the first version always gets AWSCURRENT; a version without labels
is deprecated and pruned once the secret has more than 100 versions, but never in its first 24 hours.
"""

from __future__ import annotations

from kura.api.errors import AwsError
from kura.services.secretsmanager.model import DAY, Secret, Version
from kura.services.secretsmanager.names import (
    CURRENT,
    MAX_STAGES_PER_VERSION,
    MAX_VERSIONS,
    PREVIOUS,
    invalid_parameter,
)


def _limit(message: str) -> AwsError:
    return AwsError("LimitExceededException", message)


def _attach(versions: list[Version], stage: str, target: str) -> list[Version]:
    """Put `stage` on version `target` only; AWSCURRENT drags AWSPREVIOUS to its old version."""
    old = next((v.id for v in versions if stage in v.stages), None)
    if old == target:
        return versions
    out: list[Version] = []
    for v in versions:
        stages = [s for s in v.stages if s != stage]
        if v.id == target:
            stages.append(stage)
        out.append(_with_stages(v, stages))
    if stage == CURRENT and old is not None:
        out = _attach(out, PREVIOUS, old)
    return out


def _detach(versions: list[Version], stage: str) -> list[Version]:
    return [_with_stages(v, [s for s in v.stages if s != stage]) for v in versions]


def _with_stages(v: Version, stages: list[str]) -> Version:
    if tuple(stages) == v.stages:
        return v
    return Version(v.id, tuple(stages), v.created, v.kms_key_arn, v.last_accessed)


def _check_limits(versions: list[Version]) -> None:
    for v in versions:
        if len(v.stages) > MAX_STAGES_PER_VERSION:
            raise _limit(f"A version can have at most {MAX_STAGES_PER_VERSION} staging labels.")
    labels = {s for v in versions for s in v.stages}
    if len(labels) > MAX_STAGES_PER_VERSION:
        raise _limit(f"A secret can have at most {MAX_STAGES_PER_VERSION} staging labels.")


def add(secret: Secret, version: Version, stages: list[str] | None, now: float) -> tuple[Secret, list[str]]:
    """Attach a new version with `stages` (default AWSCURRENT); return it and the pruned version ids."""
    wanted = list(dict.fromkeys(stages if stages is not None else [CURRENT]))
    if not secret.versions and CURRENT not in wanted:
        wanted.append(CURRENT)  # the first version of a secret is always current
    versions = [*secret.versions, Version(version.id, (), version.created, version.kms_key_arn)]
    for stage in wanted:
        versions = _attach(versions, stage, version.id)
    _check_limits(versions)
    return prune(secret.with_versions(versions), now)


def prune(secret: Secret, now: float) -> tuple[Secret, list[str]]:
    """Drop the oldest deprecated versions beyond 100; versions younger than a day are kept."""
    versions = list(secret.versions)
    dropped: list[str] = []
    for v in list(versions):
        if len(versions) <= MAX_VERSIONS:
            break
        if not v.stages and now - v.created >= DAY:
            versions.remove(v)
            dropped.append(v.id)
    if len(versions) > MAX_VERSIONS:
        raise _limit(
            f"You can't create more versions: the secret has {MAX_VERSIONS} versions and Secrets Manager "
            "keeps every version created in the last 24 hours."
        )
    return secret.with_versions(versions), dropped


def move_stage(secret: Secret, stage: str, remove_from: str | None, move_to: str | None) -> Secret:
    """UpdateSecretVersionStage."""
    holder = secret.staged(stage)
    for vid, what in ((remove_from, "RemoveFromVersionId"), (move_to, "MoveToVersionId")):
        if vid is not None and secret.version(vid) is None:
            raise invalid_parameter(f"The {what} {vid} doesn't exist in this secret.")
    if remove_from is not None and (holder is None or holder.id != remove_from):
        raise invalid_parameter(
            f"The staging label {stage} is not attached to version {remove_from}, so it can't be removed "
            "from it."
        )
    if move_to is None and remove_from is None:
        raise invalid_parameter("You must specify MoveToVersionId, RemoveFromVersionId or both.")
    if holder is not None and move_to is not None and holder.id not in (move_to, remove_from):
        raise invalid_parameter(
            f"The staging label {stage} is currently attached to version {holder.id}, so you must "
            "explicitly reference that version in RemoveFromVersionId."
        )
    versions = list(secret.versions)
    if move_to is None:
        if stage == CURRENT:
            raise invalid_parameter(
                "You can only move staging label AWSCURRENT to a different secret version. It can't be "
                "completely removed."
            )
        versions = _detach(versions, stage)
    else:
        versions = _attach(versions, stage, move_to)
    _check_limits(versions)
    return secret.with_versions(versions)


def retag(secret: Secret, version_id: str, kms_key_arn: str | None) -> Secret:
    """Record the key a version was re-encrypted under."""
    return secret.with_versions([
        Version(v.id, v.stages, v.created, kms_key_arn, v.last_accessed) if v.id == version_id else v
        for v in secret.versions
    ])
