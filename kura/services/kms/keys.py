"""Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/Disable, Schedule/CancelKeyDeletion.

Deletion itself happens later, in the `kms.key` reconciler (kura/control/kms.py), once the
DeletionDate recorded here has passed.
"""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.kms import model
from kura.services.kms.model import ENCRYPT_DECRYPT, SYMMETRIC, KeyManager, KeyState
from kura.services.kms.policies import check_policy
from kura.services.kms.tagging import parse_tags
from kura.services.kms.views import key_entry, key_metadata, page
from kura.services.registry import Ctx, operation

DAY = 86400.0
DEFAULT_WINDOW_DAYS = 30


def unsupported(message: str) -> AwsError:
    return AwsError("UnsupportedOperationException", message)


def _check_key_spec(params: dict[str, Any]) -> None:
    """Kura's KMS makes symmetric encryption keys only; say so plainly for anything else."""
    if params.get("KeySpec") and params.get("CustomerMasterKeySpec"):
        raise AwsError("ValidationException",
                       "You cannot specify both KeySpec and CustomerMasterKeySpec; use KeySpec.")
    spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or SYMMETRIC
    if spec != SYMMETRIC:
        raise unsupported(f"kura supports only {SYMMETRIC} (AES-256-GCM) keys; KeySpec {spec} is not "
                          "supported.")
    usage = params.get("KeyUsage") or ENCRYPT_DECRYPT
    if usage != ENCRYPT_DECRYPT:
        raise AwsError("ValidationException",
                       f"KeyUsage {usage} is not compatible with KeySpec {SYMMETRIC}.")
    origin = params.get("Origin") or "AWS_KMS"
    if origin != "AWS_KMS":
        raise unsupported(f"kura supports only Origin AWS_KMS; Origin {origin} is not supported.")
    if params.get("CustomKeyStoreId") or params.get("XksKeyId"):
        raise unsupported("kura does not support custom key stores.")
    if params.get("MultiRegion"):
        raise unsupported("kura does not support multi-Region keys.")


@operation("kms", "CreateKey")
def create_key(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _check_key_spec(params)
    policy = params.get("Policy")
    if policy is not None:
        check_policy(policy)
    key = model.create_key(ctx.env, ctx.region, description=params.get("Description") or "",
                           policy=policy, tags=parse_tags(params.get("Tags")))
    return {"KeyMetadata": key_metadata(key)}


@operation("kms", "DescribeKey")
def describe_key(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return {"KeyMetadata": key_metadata(model.find_key(ctx.env, ctx.region, params["KeyId"]))}


@operation("kms", "ListKeys")
def list_keys(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    keys = [model.Key(r, ctx.account) for r in ctx.store.list(model.KIND_KEY, ctx.region)]
    got, paging = page(keys, lambda k: k.id, params, default=100, maximum=1000)
    return {"Keys": [key_entry(k) for k in got], **paging}


def _pending(key: model.Key) -> AwsError:
    return AwsError("KMSInvalidStateException", f"{key.arn} is pending deletion.")


def _customer_key(ctx: Ctx, key_ref: str, action: str) -> model.Key:
    """The customer managed key `key_ref` (id or ARN): AWS managed keys refuse management."""
    key = model.find_key(ctx.env, ctx.region, key_ref, aliases=False)
    if key.manager is KeyManager.AWS:
        raise model.access_denied(ctx.env, key, action)
    return key


def _set_enabled(ctx: Ctx, params: dict[str, Any], state: KeyState) -> dict[str, Any]:
    action = "EnableKey" if state is KeyState.ENABLED else "DisableKey"
    with ctx.store.transaction():
        key = _customer_key(ctx, params["KeyId"], action)
        if key.state is KeyState.PENDING_DELETION:
            raise _pending(key)
        if key.state is not state:
            model.save(ctx.env, key, KeyState=state.value)
    return {}


@operation("kms", "EnableKey")
def enable_key(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, KeyState.ENABLED)


@operation("kms", "DisableKey")
def disable_key(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _set_enabled(ctx, params, KeyState.DISABLED)


@operation("kms", "ScheduleKeyDeletion")
def schedule_key_deletion(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    days = params.get("PendingWindowInDays")
    days = DEFAULT_WINDOW_DAYS if days is None else int(days)
    if not 7 <= days <= 30:
        raise AwsError("ValidationException",
                       f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
                       "satisfy constraint: Member must have value between 7 and 30")
    with ctx.store.transaction():
        key = _customer_key(ctx, params["KeyId"], "ScheduleKeyDeletion")
        if key.state is KeyState.PENDING_DELETION:
            raise _pending(key)
        when = ctx.now() + days * DAY
        model.save(ctx.env, key, KeyState=KeyState.PENDING_DELETION.value, DeletionDate=when,
                   PendingWindowInDays=days)
    return {"KeyId": key.arn, "DeletionDate": when, "KeyState": KeyState.PENDING_DELETION.value,
            "PendingWindowInDays": days}


@operation("kms", "CancelKeyDeletion")
def cancel_key_deletion(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        key = _customer_key(ctx, params["KeyId"], "CancelKeyDeletion")
        if key.state is not KeyState.PENDING_DELETION:
            raise AwsError("KMSInvalidStateException", f"{key.arn} is not pending deletion.")
        # As on AWS, a key saved from deletion comes back disabled, not enabled.
        model.save(ctx.env, key, KeyState=KeyState.DISABLED.value, DeletionDate=None,
                   PendingWindowInDays=None)
    return {"KeyId": key.arn}
