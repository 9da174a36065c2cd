"""Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

An alias is a region-scoped name for one customer managed key. `alias/aws/…` names belong to the
AWS managed keys, which Kura creates on first use (model.ensure_managed); users cannot manage them.
"""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.kms import model
from kura.services.kms.model import KeyManager, KeyState
from kura.services.kms.views import alias_entry, page
from kura.services.registry import Ctx, operation


def _check_name(name: str) -> None:
    if not name.startswith("alias/") or name == "alias/":
        raise AwsError("InvalidAliasNameException",
                       f"Alias name {name} must begin with 'alias/' followed by a name.")
    if name.startswith("alias/aws/"):
        raise AwsError("InvalidAliasNameException",
                       f"Alias name {name} is not valid: the alias/aws/ prefix is reserved for AWS managed "
                       "keys.")


def _target(ctx: Ctx, key_ref: str, action: str) -> model.Key:
    """The key an alias may point at: customer managed and not pending deletion."""
    key = model.find_key(ctx.env, ctx.region, key_ref, aliases=False)
    if key.manager is KeyManager.AWS:
        raise model.access_denied(ctx.env, key, action)
    if key.state is KeyState.PENDING_DELETION:
        raise AwsError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    return key


def _alias_not_found(ctx: Ctx, name: str) -> AwsError:
    return model.not_found(f"Alias {ctx.arn(name)} is not found.")


@operation("kms", "CreateAlias")
def create_alias(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    _check_name(name)
    with ctx.store.transaction():
        key = _target(ctx, params["TargetKeyId"], "CreateAlias")
        model.create_alias(ctx.env, ctx.region, name, key)
    return {}


@operation("kms", "UpdateAlias")
def update_alias(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    _check_name(name)
    with ctx.store.transaction():
        alias = model.get_alias(ctx.env, ctx.region, name)
        if alias is None:
            raise _alias_not_found(ctx, name)
        key = _target(ctx, params["TargetKeyId"], "UpdateAlias")
        spec = {**alias.res.spec, "TargetKeyId": key.id, "LastUpdatedDate": ctx.now()}
        ctx.store.update(alias.res, spec=spec)
    return {}


@operation("kms", "DeleteAlias")
def delete_alias(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    _check_name(name)
    with ctx.store.transaction():
        alias = model.get_alias(ctx.env, ctx.region, name)
        if alias is None:
            raise _alias_not_found(ctx, name)
        ctx.store.delete(alias.res)
    return {}


@operation("kms", "ListAliases")
def list_aliases(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    aliases = model.list_aliases(ctx.env, ctx.region)
    if params.get("KeyId"):
        key = model.find_key(ctx.env, ctx.region, params["KeyId"], aliases=False)
        aliases = [a for a in aliases if a.target == key.id]
    got, paging = page(aliases, lambda a: a.name, params, default=50, maximum=100)
    return {"Aliases": [alias_entry(a) for a in got], **paging}
