"""Tags on keys: TagResource, UntagResource, ListResourceTags (KMS spells them TagKey/TagValue)."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.common import tags as common_tags
from kura.services.kms import model
from kura.services.kms.model import KeyManager, KeyState
from kura.services.kms.views import page, tag_list
from kura.services.registry import Ctx, operation

ERROR = "TagException"


def parse_tags(tags: list[dict[str, Any]] | None) -> dict[str, str]:
    parsed = common_tags.normalize(tags, ERROR, key_name="TagKey", value_name="TagValue")
    return common_tags.merged({}, parsed, ERROR)


def _taggable(ctx: Ctx, key_ref: str, action: str) -> model.Key:
    key = model.find_key(ctx.env, ctx.region, key_ref, aliases=False)
    if key.manager is KeyManager.AWS:
        raise model.access_denied(ctx.env, key, action)
    if key.state is KeyState.PENDING_DELETION:
        raise AwsError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    return key


@operation("kms", "TagResource")
def tag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    new = parse_tags(params["Tags"])
    with ctx.store.transaction():
        key = _taggable(ctx, params["KeyId"], "TagResource")
        model.save(ctx.env, key, Tags=common_tags.merged(key.tags, new, ERROR))
    return {}


@operation("kms", "UntagResource")
def untag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        key = _taggable(ctx, params["KeyId"], "UntagResource")
        model.save(ctx.env, key, Tags=common_tags.without(key.tags, params["TagKeys"]))
    return {}


@operation("kms", "ListResourceTags")
def list_resource_tags(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    key = model.find_key(ctx.env, ctx.region, params["KeyId"], aliases=False)
    got, paging = page(list(key.tags.items()), lambda kv: kv[0], params, default=50, maximum=50)
    return {"Tags": tag_list(dict(got)), **paging}
