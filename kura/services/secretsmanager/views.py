"""Stored secrets → response shapes. AWS omits every field that has no value; so do we."""

from __future__ import annotations

from typing import Any

from kura.services.common import tags as tagging
from kura.services.secretsmanager.model import Secret, Version


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def rotation_rules(secret: Secret) -> dict[str, Any] | None:
    rules = secret.rotation.rules
    return dict(rules) if rules else None


def _common(secret: Secret) -> dict[str, Any]:
    rot = secret.rotation
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
    _put(out, "Type", secret.type)
    _put(out, "Description", secret.description)
    _put(out, "KmsKeyId", secret.kms_key_id)
    if rot.enabled or rot.lambda_arn or rot.rules or rot.rotator:  # null until rotation is configured
        out["RotationEnabled"] = rot.enabled
    _put(out, "RotationLambdaARN", rot.lambda_arn)
    _put(out, "RotationRules", rotation_rules(secret))
    _put(out, "LastRotatedDate", rot.last_rotated)
    out["LastChangedDate"] = secret.last_changed
    _put(out, "LastAccessedDate", secret.last_accessed)
    _put(out, "DeletedDate", secret.deleted)
    if rot.enabled:
        _put(out, "NextRotationDate", rot.next_rotation)
    if secret.tags:
        out["Tags"] = tagging.as_list(secret.tags)
    _put(out, "OwningService", secret.owning_service)
    out["CreatedDate"] = secret.created
    out["PrimaryRegion"] = secret.region
    return out


def describe(secret: Secret) -> dict[str, Any]:
    out = _common(secret)
    out["VersionIdsToStages"] = secret.stages_map()
    return out


def list_entry(secret: Secret) -> dict[str, Any]:
    out = _common(secret)
    out["SecretVersionsToStages"] = secret.stages_map()
    return out


def version_entry(v: Version) -> dict[str, Any]:
    out: dict[str, Any] = {"VersionId": v.id}
    if v.stages:
        out["VersionStages"] = list(v.stages)
    _put(out, "LastAccessedDate", v.last_accessed)
    out["CreatedDate"] = v.created
    out["KmsKeyIds"] = [v.kms_key_arn or "DefaultEncryptionKey"]  # AWS's word for aws/secretsmanager
    return out
