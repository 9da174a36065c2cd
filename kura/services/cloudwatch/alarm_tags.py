"""TagResource, UntagResource, ListTagsForResource on alarms (the CloudWatch resources Kura keeps)."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.cloudwatch import alarm_records as records
from kura.services.common import tags as tagging
from kura.services.registry import Ctx, operation
from kura.store.types import Resource


def _alarm(ctx: Ctx, arn: str) -> Resource:
    parts = arn.split(":", 6)
    kinds = ("alarm", "insight-rule")
    if len(parts) != 7 or parts[:3] != ["arn", "aws", "cloudwatch"] or parts[5] not in kinds:
        raise AwsError("InvalidParameterValue", f"Invalid resource ARN: {arn}")
    if parts[5] == "insight-rule":
        raise AwsError("InvalidParameterValue", "kura does not implement Contributor Insights rules.")
    res = None
    if parts[3] == ctx.region and parts[4] == ctx.account:
        res = ctx.store.get(records.KIND_ALARM, ctx.region, parts[6])
    if res is None:
        raise AwsError("ResourceNotFoundException", f"Resource {arn} not found.", 404)
    return res


@operation("cloudwatch", "TagResource")
def tag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    new = tagging.normalize(params.get("Tags"), "InvalidParameterValue")
    with ctx.store.transaction():
        res = _alarm(ctx, params["ResourceARN"])
        merged = tagging.merged(dict(res.spec.get("Tags") or {}), new, "InvalidParameterValue")
        ctx.store.update(res, spec={**res.spec, "Tags": merged})
    return {}


@operation("cloudwatch", "UntagResource")
def untag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _alarm(ctx, params["ResourceARN"])
        kept = tagging.without(dict(res.spec.get("Tags") or {}), params.get("TagKeys") or [])
        ctx.store.update(res, spec={**res.spec, "Tags": kept})
    return {}


@operation("cloudwatch", "ListTagsForResource")
def list_tags_for_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    res = _alarm(ctx, params["ResourceARN"])
    return {"Tags": tagging.as_list(dict(res.spec.get("Tags") or {}))}
