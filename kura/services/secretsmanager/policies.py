"""Resource policies: stored, validated JSON documents (Kura authorizes by SigV4 identity only).

A secret has at most one policy, named "default", as on AWS. Validation checks what IAM Access
Analyzer's basic checks would reject outright: JSON, the policy grammar, and (with
BlockPublicPolicy) statements that allow any principal.
"""

from __future__ import annotations

import json
from typing import Any

from kura.api.errors import AwsError
from kura.services.registry import Ctx, operation
from kura.services.secretsmanager import ops
from kura.services.secretsmanager.model import require
from kura.services.secretsmanager.names import SERVICE, invalid_parameter, not_found

DEFAULT = "default"
_EFFECTS = ("Allow", "Deny")
_VERSIONS = ("2012-10-17", "2008-10-17")


def _malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocumentException", message)


def problems(document: str) -> list[dict[str, str]]:
    """Validation errors as ValidateResourcePolicy reports them ({CheckName, ErrorMessage})."""
    try:
        policy = json.loads(document)
    except json.JSONDecodeError as exc:
        return [{"CheckName": "SYNTAX_CHECK", "ErrorMessage": f"The policy is not valid JSON: {exc.msg}."}]
    if not isinstance(policy, dict):
        return [{"CheckName": "SYNTAX_CHECK", "ErrorMessage": "The policy must be a JSON object."}]
    out: list[dict[str, str]] = []
    if policy.get("Version", "2012-10-17") not in _VERSIONS:
        out.append({"CheckName": "SYNTAX_CHECK", "ErrorMessage": f"Invalid Version: {policy.get('Version')}"})
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return [*out, {"CheckName": "SYNTAX_CHECK", "ErrorMessage": "The policy needs a Statement."}]
    for i, st in enumerate(statements):
        out.extend({"CheckName": "SYNTAX_CHECK", "ErrorMessage": f"Statement {i}: {msg}"}
                   for msg in _statement_problems(st))
    return out


def _statement_problems(st: Any) -> list[str]:
    if not isinstance(st, dict):
        return ["a statement must be a JSON object."]
    msgs: list[str] = []
    if st.get("Effect") not in _EFFECTS:
        msgs.append("Effect must be Allow or Deny.")
    if "Action" not in st and "NotAction" not in st:
        msgs.append("the statement needs Action or NotAction.")
    if "Principal" not in st and "NotPrincipal" not in st:
        msgs.append("a resource policy statement needs Principal or NotPrincipal.")
    return msgs


def is_public(document: str) -> bool:
    """An Allow statement for any principal ("*" or {"AWS": "*"}) without conditions."""
    statements = json.loads(document).get("Statement")
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        principal = st.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        if aws == "*" or (isinstance(aws, list) and "*" in aws):
            return True
    return False


def _policy_name(params: dict[str, Any]) -> str:
    name = params.get("PolicyName") or DEFAULT
    if name != DEFAULT:
        raise invalid_parameter("You can only use the default policy name: default.")
    return name


@operation(SERVICE, "PutResourcePolicy")
def put_resource_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = _policy_name(params)
    document = params["ResourcePolicy"]
    errors = problems(document)
    if errors:
        raise _malformed(f"This resource policy contains an unsupported format: {errors[0]['ErrorMessage']}")
    if params.get("BlockPublicPolicy") and is_public(document):
        raise AwsError("PublicPolicyException",
                       "The BlockPublicPolicy parameter is set to true, and the resource policy did not "
                       "prevent broad access to the secret.")
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        ops.save(ctx.env, res, secret.changed(ctx.now(), policy=document))
    return {"ARN": secret.arn, "Name": secret.name, "PolicyName": name}


@operation(SERVICE, "GetResourcePolicy")
def get_resource_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _, secret = require(ctx.env, ctx.region, params["SecretId"])
    name = params.get("PolicyName") or DEFAULT
    if name != DEFAULT:
        raise not_found(f"The resource policy {name} doesn't exist.")
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
    if secret.policy is not None:
        out["ResourcePolicy"] = secret.policy
        out["PolicyName"] = DEFAULT
    return out


@operation(SERVICE, "ListResourcePolicies")
def list_resource_policies(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _, secret = require(ctx.env, ctx.region, params["SecretId"])
    return {"ResourcePolicies": [{"PolicyName": DEFAULT}] if secret.policy is not None else []}


@operation(SERVICE, "DeleteResourcePolicy")
def delete_resource_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = _policy_name(params)
    with ctx.store.transaction():
        res, secret = require(ctx.env, ctx.region, params["SecretId"])
        ops.usable(secret)
        if secret.policy is not None:
            ops.save(ctx.env, res, secret.changed(ctx.now(), policy=None))
    return {"ARN": secret.arn, "Name": secret.name, "PolicyName": name}


@operation(SERVICE, "ValidateResourcePolicy")
def validate_resource_policy(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("SecretId"):
        require(ctx.env, ctx.region, params["SecretId"])
    document = params["ResourcePolicy"]
    try:
        json.loads(document)
    except ValueError:
        raise _malformed("This resource policy contains an unsupported format.") from None
    errors = problems(document)
    return {"PolicyValidationPassed": not errors, "ValidationErrors": errors}
