"""TagResource, UntagResource, ListTagsForResource on topics (SNS tags nothing else Kura keeps)."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.common import tags as tagging
from kura.services.registry import Ctx, operation
from kura.services.sns import errors, shared
from kura.store.types import Resource


def _topic(ctx: Ctx, arn: str) -> Resource:
    try:
        return shared.get_topic(ctx, arn, "ResourceArn")
    except AwsError as exc:
        if exc.code == "NotFound":
            raise errors.fault("ResourceNotFound", "Resource does not exist") from None
        raise


@operation("sns", "TagResource")
def tag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    new = tagging.normalize(params.get("Tags"), "InvalidParameter")
    with ctx.store.transaction():
        res = _topic(ctx, params["ResourceArn"])
        merged = {**dict(res.spec.get("Tags") or {}), **new}
        if len(merged) > tagging.MAX_TAGS:
            raise errors.fault("TagLimitExceeded", "Could not complete request: tag quota of per resource "
                                                   "exceeded")
        ctx.store.update(res, spec={**res.spec, "Tags": merged})
    return {}


@operation("sns", "UntagResource")
def untag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _topic(ctx, params["ResourceArn"])
        kept = tagging.without(dict(res.spec.get("Tags") or {}), params.get("TagKeys") or [])
        ctx.store.update(res, spec={**res.spec, "Tags": kept})
    return {}


@operation("sns", "ListTagsForResource")
def list_tags_for_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    res = _topic(ctx, params["ResourceArn"])
    return {"Tags": tagging.as_list(dict(res.spec.get("Tags") or {}))}
