"""Create/Describe/Delete/Copy DBParameterGroup.

`default.postgres<major>` exists implicitly for every installed major (never stored: its values
are the catalogue's defaults); it can be used, described and copied, never modified or deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.rds import catalogue, errors, group_views, shared
from kura.services.rds.records import KIND_INSTANCE, KIND_PARAMETER_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import AlreadyExists, Resource

DEFAULT_PREFIX = "default."
_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*$")


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    family: str
    description: str
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)  # user-set values only
    resource: Resource | None = None

    @property
    def is_default(self) -> bool:
        return self.resource is None

    def view(self, ctx: Ctx) -> dict[str, Any]:
        return group_views.parameter_group(self.name, self.family, self.description, ctx.region, ctx.account)


def default_name(major: int, aurora: bool = False) -> str:
    return f"{DEFAULT_PREFIX}{catalogue.family_of(major, aurora)}"


def _default(ctx: Ctx, name: str) -> Group | None:
    family = name[len(DEFAULT_PREFIX):] if name.startswith(DEFAULT_PREFIX) else ""
    major = catalogue.major_of_family(family)
    if major is None or major not in catalogue.majors(ctx.store):
        return None
    return Group(name, family, f"Default parameter group for {family}")


def _stored(res: Resource) -> Group:
    s = res.spec
    return Group(res.id, s["DBParameterGroupFamily"], s.get("Description", ""),
                 dict(s.get("Parameters") or {}), res)


def group_name(ctx: Ctx, ref: str) -> str:
    """A name or a parameter group ARN → the name as stored."""
    if ref.startswith("arn:"):
        parsed = shared.parse_arn(ctx, ref)
        if parsed is None or parsed[0] != "pg":
            raise errors.parameter_group_not_found(ref)
        ref = parsed[1]
    return ref.lower()


def find(ctx: Ctx, ref: str) -> Group:
    name = group_name(ctx, ref)
    res = ctx.store.get(KIND_PARAMETER_GROUP, ctx.region, name)
    if res is not None:
        return _stored(res)
    found = _default(ctx, name)
    if found is None:
        raise errors.parameter_group_not_found(ref)
    return found


def check_name(value: str, param: str = "DBParameterGroupName") -> str:
    lowered = value.lower()
    if not 1 <= len(lowered) <= 255 or not _NAME.match(lowered) or lowered.endswith("-"):
        raise errors.invalid(f"The parameter {param} is not a valid identifier. Identifiers must begin "
                             "with a letter; must contain only ASCII letters, digits, and hyphens; and must "
                             "not end with a hyphen or contain two consecutive hyphens.")
    return lowered


def _create(ctx: Ctx, name: str, family: str, description: str, tags: dict[str, str],
            parameters: dict[str, Any]) -> Group:
    spec = {"DBParameterGroupName": name, "DBParameterGroupFamily": family, "Description": description,
            "Tags": tags, "Parameters": parameters}
    try:
        res = ctx.store.create(KIND_PARAMETER_GROUP, ctx.region, name, spec)
    except AlreadyExists as exc:
        raise errors.fault("DBParameterGroupAlreadyExists", f"Parameter group {name} already exists") from exc
    shared.record(ctx, KIND_PARAMETER_GROUP, name, "DB parameter group created", "configuration change")
    return _stored(res)


@operation("rds", "CreateDBParameterGroup")
def create_db_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["DBParameterGroupName"])
    family = params["DBParameterGroupFamily"]
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        catalogue.require_family(ctx.store, family)
        group = _create(ctx, name, family, params["Description"], tags, {})
    return {"DBParameterGroup": group.view(ctx)}


@operation("rds", "DescribeDBParameterGroups")
def describe_db_parameter_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
    ref = params.get("DBParameterGroupName")
    if ref is not None:
        groups = [find(ctx, ref)]
    else:
        defaults = [g for m in catalogue.majors(ctx.store) for aurora in (False, True)
                    if (g := _default(ctx, default_name(m, aurora)))]
        groups = defaults + [_stored(r) for r in ctx.store.list(KIND_PARAMETER_GROUP, ctx.region)]
    page, marker = rds_page(groups, lambda g: g.name, params)
    return shared.with_marker({"DBParameterGroups": [g.view(ctx) for g in page]}, marker)


def users(ctx: Ctx, name: str) -> list[str]:
    return sorted(r.id for r in ctx.store.list(KIND_INSTANCE, ctx.region)
                  if r.spec.get("DBParameterGroupName") == name and r.spec.get("desired") != "deleted")


@operation("rds", "DeleteDBParameterGroup")
def delete_db_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        group = find(ctx, params["DBParameterGroupName"])
        if group.resource is None:
            raise errors.fault("InvalidDBParameterGroupState",
                               f"Default DBParameterGroup cannot be deleted: {group.name}")
        in_use = users(ctx, group.name)
        if in_use:
            raise errors.fault("InvalidDBParameterGroupState",
                               f"One or more database instances are still members of this parameter group "
                               f"{group.name}, so the group cannot be deleted (e.g. {in_use[0]}).")
        ctx.store.delete(group.resource)
        shared.record(ctx, KIND_PARAMETER_GROUP, group.name, "DB parameter group deleted",
                      "configuration change")
    return {}


@operation("rds", "CopyDBParameterGroup")
def copy_db_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    target = check_name(params["TargetDBParameterGroupIdentifier"], "TargetDBParameterGroupIdentifier")
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        source = find(ctx, params["SourceDBParameterGroupIdentifier"])
        group = _create(ctx, target, source.family, params["TargetDBParameterGroupDescription"], tags,
                        dict(source.parameters))
    return {"DBParameterGroup": group.view(ctx)}
