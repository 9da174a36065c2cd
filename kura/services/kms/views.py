"""Stored KMS records → response shapes (botocore's KeyMetadata, AliasListEntry, Tag)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kura.api.errors import AwsError
from kura.services.common.pagination import decode_token, paginate
from kura.services.kms.model import SYMMETRIC, Alias, Key, KeyState

T = TypeVar("T")


def key_metadata(key: Key) -> dict[str, Any]:
    spec = key.spec
    meta: dict[str, Any] = {
        "AWSAccountId": key.account,
        "KeyId": key.id,
        "Arn": key.arn,
        "CreationDate": spec["CreationDate"],
        "Enabled": key.state is KeyState.ENABLED,
        "Description": spec.get("Description", ""),
        "KeyUsage": spec["KeyUsage"],
        "KeyState": key.state.value,
        "Origin": spec["Origin"],
        "KeyManager": spec["KeyManager"],
        "CustomerMasterKeySpec": spec["KeySpec"],
        "KeySpec": spec["KeySpec"],
        "EncryptionAlgorithms": [SYMMETRIC],
        "MultiRegion": bool(spec.get("MultiRegion")),
    }
    if key.state is KeyState.PENDING_DELETION:
        meta["DeletionDate"] = spec["DeletionDate"]
        meta["PendingDeletionWindowInDays"] = spec["PendingWindowInDays"]
    return meta


def key_entry(key: Key) -> dict[str, str]:
    return {"KeyId": key.id, "KeyArn": key.arn}


def alias_entry(alias: Alias) -> dict[str, Any]:
    spec = alias.res.spec
    return {
        "AliasName": alias.name,
        "AliasArn": alias.arn,
        "TargetKeyId": alias.target,
        "CreationDate": spec["CreationDate"],
        "LastUpdatedDate": spec["LastUpdatedDate"],
    }


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


def page(items: Sequence[T], key: Callable[[T], str], params: dict[str, Any], *, default: int,
         maximum: int) -> tuple[list[T], dict[str, Any]]:
    """KMS paging (Limit/Marker → NextMarker/Truncated): one page and the output's paging fields."""
    marker = params.get("Marker")
    if marker:
        decode_token(marker, "InvalidMarkerException")
    limit = params.get("Limit")
    if limit is not None and not 1 <= limit <= maximum:
        raise AwsError("ValidationException", f"1 validation error detected: Value '{limit}' at 'limit' "
                       f"failed to satisfy constraint: Member must have value between 1 and {maximum}")
    got, token = paginate(items, key, marker, limit, default=default, maximum=maximum, limit_name="Limit",
                          error_code="InvalidMarkerException")
    fields: dict[str, Any] = {"Truncated": token is not None}
    if token is not None:
        fields["NextMarker"] = token
    return got, fields
