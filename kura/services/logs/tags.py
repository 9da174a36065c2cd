"""Tags of log groups: TagResource/UntagResource/ListTagsForResource by ARN, and the older
TagLogGroup/UntagLogGroup/ListTagsLogGroup by name."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.metrics.logstore import Group
from kura.services.common.tags import MAX_TAGS
from kura.services.logs import shared
from kura.services.logs.shared import SERVICE
from kura.services.registry import Ctx, operation


def _by_arn(ctx: Ctx, arn: str) -> Group:
    parts = arn.split(":", 6)
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != SERVICE:
        raise shared.invalid(f"Invalid resource ARN: {arn}")
    if parts[5] != "log-group" or ":log-stream:" in parts[6]:
        raise shared.invalid(f"Tagging is not supported for resource {arn}: only log groups are tagged here.")
    return shared.group(ctx, {"logGroupIdentifier": arn})


def _add(ctx: Ctx, grp: Group, tags: dict[str, str], error: str) -> None:
    if any(k.lower().startswith("aws:") for k in tags):
        raise shared.invalid("Tag keys cannot start with the reserved prefix 'aws:'.")
    merged = {**grp.tags, **tags}
    if len(merged) > MAX_TAGS:
        raise AwsError(error, f"A log group can have at most {MAX_TAGS} tags.")
    shared.store(ctx).set_tags(grp.id, merged)


def _remove(ctx: Ctx, grp: Group, keys: list[str]) -> None:
    shared.store(ctx).set_tags(grp.id, {k: v for k, v in grp.tags.items() if k not in set(keys)})


@operation(SERVICE, "TagResource")
def tag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _add(ctx, _by_arn(ctx, params["resourceArn"]), dict(params["tags"]), "TooManyTagsException")
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _remove(ctx, _by_arn(ctx, params["resourceArn"]), list(params["tagKeys"]))
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return {"tags": dict(_by_arn(ctx, params["resourceArn"]).tags)}


@operation(SERVICE, "TagLogGroup")
def tag_log_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _add(ctx, shared.group(ctx, params), dict(params["tags"]), "InvalidParameterException")
    return {}


@operation(SERVICE, "UntagLogGroup")
def untag_log_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _remove(ctx, shared.group(ctx, params), list(params["tags"]))
    return {}


@operation(SERVICE, "ListTagsLogGroup")
def list_tags_log_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return {"tags": dict(shared.group(ctx, params).tags)}
