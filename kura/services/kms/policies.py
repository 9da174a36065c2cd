"""Key policies as stored documents: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies.

Kura keeps and returns the document; it does not evaluate it (SigV4 identifies the caller, but
there is one account and it owns everything).
"""

from __future__ import annotations

import json
from typing import Any

from kura.api.errors import AwsError
from kura.services.kms import model
from kura.services.kms.model import KeyManager, KeyState
from kura.services.kms.views import page
from kura.services.registry import Ctx, operation

POLICY_NAME = "default"  # the only key policy name KMS has


def check_policy(policy: str) -> None:
    try:
        doc = json.loads(policy)
    except ValueError as exc:
        raise AwsError("MalformedPolicyDocumentException", "The key policy is not valid JSON.") from exc
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise AwsError("MalformedPolicyDocumentException",
                       "The key policy must be a JSON object with a Statement.")


def _check_name(params: dict[str, Any]) -> None:
    name = params.get("PolicyName") or POLICY_NAME
    if name != POLICY_NAME:
        raise model.not_found(f"No such policy exists: {name}. The only key policy name is 'default'.")


@operation("kms", "GetKeyPolicy")
def get_key_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _check_name(params)
    key = model.find_key(ctx.env, ctx.region, params["KeyId"], aliases=False)
    return {"Policy": key.spec["Policy"], "PolicyName": POLICY_NAME}


@operation("kms", "PutKeyPolicy")
def put_key_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _check_name(params)
    check_policy(params["Policy"])
    with ctx.store.transaction():
        key = model.find_key(ctx.env, ctx.region, params["KeyId"], aliases=False)
        if key.manager is KeyManager.AWS:
            raise model.access_denied(ctx.env, key, "PutKeyPolicy")
        if key.state is KeyState.PENDING_DELETION:
            raise AwsError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
        model.save(ctx.env, key, Policy=params["Policy"])
    return {}


@operation("kms", "ListKeyPolicies")
def list_key_policies(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    model.find_key(ctx.env, ctx.region, params["KeyId"], aliases=False)
    got, paging = page([POLICY_NAME], lambda n: n, params, default=100, maximum=1000)
    return {"PolicyNames": got, **paging}
