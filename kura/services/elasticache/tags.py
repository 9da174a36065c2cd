"""AddTagsToResource, ListTagsForResource, RemoveTagsFromResource by ARN: cache clusters, replication
groups, parameter groups, subnet groups and snapshots. Tags live in each resource's spec under `Tags`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kura.api.errors import AwsError
from kura.services.common import tags as tagging
from kura.services.elasticache import errors, shared
from kura.services.elasticache.parameter_groups import find
from kura.services.elasticache.records import (
    KIND_CACHE_CLUSTER,
    KIND_PARAMETER_GROUP,
    KIND_REPLICATION_GROUP,
    KIND_SNAPSHOT,
    KIND_SUBNET_GROUP,
)
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

_NOT_FOUND: dict[str, Callable[[str], AwsError]] = {
    KIND_CACHE_CLUSTER: errors.cluster_not_found,
    KIND_REPLICATION_GROUP: errors.group_not_found,
    KIND_PARAMETER_GROUP: errors.parameter_group_not_found,
    KIND_SUBNET_GROUP: errors.subnet_group_not_found,
    KIND_SNAPSHOT: errors.snapshot_not_found,
}


def _resource(ctx: Ctx, arn: str) -> Resource | None:
    """The tagged resource; None for a default parameter group (it exists but keeps no tags)."""
    parsed = shared.parse_arn(ctx, arn)
    kind = shared.ARN_TYPES.get(parsed[0]) if parsed else None
    if parsed is None or kind is None:
        raise errors.fault("InvalidARN", f"The ARN {arn} is not a valid ElastiCache resource ARN of this "
                                         "region and account.")
    name = parsed[1]
    res = ctx.store.get(kind, ctx.region, name.lower())
    if res is not None and res.spec.get("desired") != "deleted":
        return res
    if kind == KIND_PARAMETER_GROUP and find(ctx, name).is_default:
        return None
    raise _NOT_FOUND[kind](name)


def _listed(res: Resource | None) -> dict[str, Any]:
    tags = dict(res.spec.get("Tags") or {}) if res is not None else {}
    return {"TagList": tagging.as_list(tags)}


@operation("elasticache", "AddTagsToResource")
def add_tags_to_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    new = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        res = _resource(ctx, params["ResourceName"])
        if res is None:
            raise errors.invalid("Default parameter groups can't be tagged.")
        try:
            merged = tagging.merged(dict(res.spec.get("Tags") or {}), new,
                                    error_code="TagQuotaPerResourceExceeded")
        except AwsError as exc:
            raise errors.fault(exc.code, exc.message) from exc
        res = ctx.store.update(res, spec={**res.spec, "Tags": merged})
    return _listed(res)


@operation("elasticache", "ListTagsForResource")
def list_tags_for_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _listed(_resource(ctx, params["ResourceName"]))


@operation("elasticache", "RemoveTagsFromResource")
def remove_tags_from_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _resource(ctx, params["ResourceName"])
        existing = dict(res.spec.get("Tags") or {}) if res is not None else {}
        keys = list(params.get("TagKeys") or [])
        missing = [k for k in keys if k not in existing]
        if missing:
            raise errors.fault("TagNotFound", f"Tag with key {missing[0]} not found.")
        if res is not None:
            res = ctx.store.update(res, spec={**res.spec, "Tags": tagging.without(existing, keys)})
    return _listed(res)
