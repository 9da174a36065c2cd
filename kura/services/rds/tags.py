"""AddTagsToResource, ListTagsForResource, RemoveTagsFromResource by ARN (instances, parameter groups,
subnet groups, manual snapshots). Tags live in each resource's spec under `Tags` (key → value)."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.common import tags as tagging
from kura.services.rds import errors, event_subscriptions, shared, snapshots
from kura.services.rds.parameter_groups import find
from kura.services.rds.records import KIND_INSTANCE, KIND_PARAMETER_GROUP, KIND_SNAPSHOT, KIND_SUBNET_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

_NOT_FOUND = {
    KIND_INSTANCE: errors.instance_not_found,
    KIND_PARAMETER_GROUP: errors.parameter_group_not_found,
    KIND_SUBNET_GROUP: errors.subnet_group_not_found,
    KIND_SNAPSHOT: errors.snapshot_not_found,
    "rds.event-subscription": event_subscriptions.not_found,
}


def _bad_arn(arn: str) -> AwsError:
    return errors.invalid(f"The specified resource name does not match an RDS resource in this region: {arn}")


def _resource(ctx: Ctx, arn: str) -> Resource | None:
    """The tagged resource; None for a default parameter group or an automated snapshot (they exist but
    keep no tags)."""
    parsed = shared.parse_arn(ctx, arn)
    if parsed is None:
        raise _bad_arn(arn)
    arn_type, name = parsed
    kind = shared.ARN_TYPES.get(arn_type)
    if kind is None:
        raise errors.invalid(f"kura keeps no {arn_type} resources to tag ({arn}).")
    # Event subscriptions keep their name's case; every other RDS identifier is stored lowercased.
    res = ctx.store.get(kind, ctx.region, name.lower()) or ctx.store.get(kind, ctx.region, name)
    if res is not None:
        return res
    if kind == KIND_SNAPSHOT and name.startswith("rds:"):
        snapshots.get(ctx, name)  # DBSnapshotNotFound unless it is an automated snapshot
        return None
    if kind == KIND_PARAMETER_GROUP and find(ctx, name).is_default:
        return None
    raise _NOT_FOUND[kind](name)


@operation("rds", "AddTagsToResource")
def add_tags_to_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    new = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        res = _resource(ctx, params["ResourceName"])
        if res is None:
            if ":snapshot:rds:" in params["ResourceName"]:
                raise errors.not_implemented("tags on automated snapshots")
            raise errors.invalid("Default parameter groups can't be tagged.")
        merged = tagging.merged(dict(res.spec.get("Tags") or {}), new)
        ctx.store.update(res, spec={**res.spec, "Tags": merged})
    return {}


@operation("rds", "ListTagsForResource")
def list_tags_for_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
    res = _resource(ctx, params["ResourceName"])
    tags = dict(res.spec.get("Tags") or {}) if res is not None else {}
    return {"TagList": tagging.as_list(tags)}


@operation("rds", "RemoveTagsFromResource")
def remove_tags_from_resource(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _resource(ctx, params["ResourceName"])
        if res is not None:
            kept = tagging.without(dict(res.spec.get("Tags") or {}), params.get("TagKeys") or [])
            ctx.store.update(res, spec={**res.spec, "Tags": kept})
    return {}
