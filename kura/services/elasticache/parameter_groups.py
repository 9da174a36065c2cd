"""Create/Describe/Delete CacheParameterGroup.

`default.<family>` (e.g. `default.redis7`) exists implicitly for every installed family (never stored:
its values are the catalogue's defaults); it can be used and described, never modified or deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.elasticache import catalogue, errors, shared
from kura.services.elasticache.records import (
    KIND_CACHE_CLUSTER,
    KIND_PARAMETER_GROUP,
    KIND_REPLICATION_GROUP,
)
from kura.services.registry import Ctx, operation
from kura.store.types import AlreadyExists, Resource

DEFAULT_PREFIX = "default."
_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*$")


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    family: str
    description: str
    parameters: dict[str, str] = field(default_factory=dict)  # user-set values only
    resource: Resource | None = None

    @property
    def is_default(self) -> bool:
        return self.resource is None

    def view(self, ctx: Ctx) -> dict[str, Any]:
        return {"CacheParameterGroupName": self.name, "CacheParameterGroupFamily": self.family,
                "Description": self.description, "IsGlobal": False,
                "ARN": ctx.arn(f"parametergroup:{self.name}", service="elasticache")}


def default_name(family: str) -> str:
    return f"{DEFAULT_PREFIX}{family}"


def _default(ctx: Ctx, name: str) -> Group | None:
    family = name[len(DEFAULT_PREFIX):] if name.startswith(DEFAULT_PREFIX) else ""
    if family not in catalogue.families(ctx.store):
        return None
    return Group(name, family, f"Default parameter group for {family}")


def _stored(res: Resource) -> Group:
    s = res.spec
    return Group(res.id, s["CacheParameterGroupFamily"], s.get("Description", ""),
                 dict(s.get("Parameters") or {}), res)


def find(ctx: Ctx, ref: str) -> Group:
    name = ref
    if ref.startswith("arn:"):
        parsed = shared.parse_arn(ctx, ref)
        if parsed is None or parsed[0] != "parametergroup":
            raise errors.parameter_group_not_found(ref)
        name = parsed[1]
    res = ctx.store.get(KIND_PARAMETER_GROUP, ctx.region, name.lower())
    if res is not None:
        return _stored(res)
    found = _default(ctx, name.lower())
    if found is None:
        raise errors.parameter_group_not_found(ref)
    return found


def check_name(value: str) -> str:
    lowered = value.lower()
    if not 1 <= len(lowered) <= 255 or not _NAME.match(lowered) or lowered.endswith("-"):
        raise errors.invalid("The parameter CacheParameterGroupName is not a valid identifier. Identifiers "
                             "must begin with a letter; must contain only ASCII letters, digits, and "
                             "hyphens; and must not end with a hyphen or contain two consecutive hyphens.")
    return lowered


def for_cluster(ctx: Ctx, ref: str | None, family: str) -> str:
    """The parameter group a cluster of `family` uses: the one named (same family) or the default."""
    group = find(ctx, ref) if ref else find(ctx, default_name(family))
    if group.family != family:
        raise errors.combination(f"The parameter group {group.name} has family {group.family}; this cluster "
                                 f"needs a parameter group of family {family}.")
    return group.name


@operation("elasticache", "CreateCacheParameterGroup")
def create_cache_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["CacheParameterGroupName"])
    if name.startswith(DEFAULT_PREFIX):
        raise errors.invalid(f"Parameter group names beginning with {DEFAULT_PREFIX} are reserved.")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        family = catalogue.require_family(ctx.store, params["CacheParameterGroupFamily"]).family
        spec = {"CacheParameterGroupName": name, "CacheParameterGroupFamily": family,
                "Description": params["Description"], "Tags": tags, "Parameters": {}}
        try:
            res = ctx.store.create(KIND_PARAMETER_GROUP, ctx.region, name, spec)
        except AlreadyExists as exc:
            raise errors.fault("CacheParameterGroupAlreadyExists",
                               f"Parameter group {name} already exists.") from exc
        shared.record(ctx, KIND_PARAMETER_GROUP, name, "Cache parameter group created",
                      "configuration change")
    return {"CacheParameterGroup": _stored(res).view(ctx)}


@operation("elasticache", "DescribeCacheParameterGroups")
def describe_cache_parameter_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("CacheParameterGroupName")
    if ref is not None:
        groups = [find(ctx, ref)]
    else:
        defaults = [g for f in catalogue.families(ctx.store) if (g := _default(ctx, default_name(f)))]
        groups = defaults + [_stored(r) for r in ctx.store.list(KIND_PARAMETER_GROUP, ctx.region)]
    page, marker = rds_page(groups, lambda g: g.name, params)
    return shared.with_marker({"CacheParameterGroups": [g.view(ctx) for g in page]}, marker)


def users(ctx: Ctx, name: str) -> list[str]:
    return sorted(r.id for kind in (KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP)
                  for r in ctx.store.list(kind, ctx.region)
                  if r.spec.get("CacheParameterGroupName") == name and r.spec.get("desired") != "deleted")


@operation("elasticache", "DeleteCacheParameterGroup")
def delete_cache_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        group = find(ctx, params["CacheParameterGroupName"])
        if group.resource is None:
            raise errors.fault("InvalidCacheParameterGroupState",
                               f"Default parameter group {group.name} cannot be deleted.")
        in_use = users(ctx, group.name)
        if in_use:
            raise errors.fault("InvalidCacheParameterGroupState",
                               f"Parameter group {group.name} is in use by {in_use[0]} and cannot be "
                               "deleted.")
        ctx.store.delete(group.resource)
        shared.record(ctx, KIND_PARAMETER_GROUP, group.name, "Cache parameter group deleted",
                      "configuration change")
    return {}
