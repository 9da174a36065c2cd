"""DescribeCacheParameters, DescribeEngineDefaultParameters, ModifyCacheParameterGroup and
ResetCacheParameterGroup, over the catalogue's parameter metadata (the real server's `CONFIG GET *`)."""

from __future__ import annotations

import re
from typing import Any

from kura.services.common.pagination import rds_page
from kura.services.elasticache import catalogue, errors, shared
from kura.services.elasticache.parameter_groups import Group, find
from kura.services.elasticache.records import KIND_PARAMETER_GROUP
from kura.services.registry import Ctx, operation

_RANGE = re.compile(r"^(-?\d+)-(-?\d+)?$")


def _view(meta: dict[str, Any], value: str | None, source: str) -> dict[str, Any]:
    out: dict[str, Any] = {"ParameterName": meta["name"], "Description": meta.get("description", ""),
                           "Source": source, "DataType": meta.get("data_type", "string"),
                           "IsModifiable": bool(meta.get("is_modifiable", True)),
                           "ChangeType": meta.get("change_type", "immediate")}
    if value is not None and value != "":
        out["ParameterValue"] = value
    if meta.get("allowed_values"):
        out["AllowedValues"] = meta["allowed_values"]
    if meta.get("minimum_engine_version"):
        out["MinimumEngineVersion"] = meta["minimum_engine_version"]
    return out


def _parameters(ctx: Ctx, group: Group) -> list[dict[str, Any]]:
    out = []
    for name, meta in sorted(catalogue.parameters(ctx.store, group.family).items()):
        if name in group.parameters:
            out.append(_view(meta, group.parameters[name], "user"))
        else:
            out.append(_view(meta, meta.get("value"), "system"))
    return out


@operation("elasticache", "DescribeCacheParameters")
def describe_cache_parameters(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    group = find(ctx, params["CacheParameterGroupName"])
    found = _parameters(ctx, group)
    source = params.get("Source")
    if source is not None:
        if source not in ("user", "system", "engine-default"):
            raise errors.invalid(f"Invalid Source {source}: use user, system or engine-default.")
        found = [p for p in found if p["Source"] == ("system" if source == "engine-default" else source)]
    page, marker = rds_page(found, lambda p: str(p["ParameterName"]), params)
    return shared.with_marker({"Parameters": page}, marker)


@operation("elasticache", "DescribeEngineDefaultParameters")
def describe_engine_default_parameters(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    family = catalogue.require_family(ctx.store, params["CacheParameterGroupFamily"]).family
    found = [_view(m, m.get("value"), "system")
             for _, m in sorted(catalogue.parameters(ctx.store, family).items())]
    page, marker = rds_page(found, lambda p: str(p["ParameterName"]), params)
    defaults = shared.with_marker({"CacheParameterGroupFamily": family, "Parameters": page}, marker)
    return {"EngineDefaults": defaults}


def check_value(meta: dict[str, Any], value: str) -> None:
    """The value's type and allowed values, as the catalogue states them; InvalidParameterValue if not."""
    name, allowed = meta["name"], str(meta.get("allowed_values") or "")
    if meta.get("data_type") == "integer":
        try:
            number = int(value)
        except ValueError as exc:
            raise errors.invalid(f"Invalid value for parameter {name}: {value} is not an integer.") from exc
        match = _RANGE.match(allowed)
        if match and (number < int(match.group(1)) or (match.group(2) and number > int(match.group(2)))):
            raise errors.invalid(f"Value {value} for parameter {name} is out of range: {allowed}.")
        return
    if (allowed and "," in allowed) or allowed in ("yes", "no"):
        choices = allowed.split(",")
        words = value.split(" ") if meta.get("data_type") == "list" else [value]
        if not all(w in choices for w in words):
            raise errors.invalid(f"Invalid value for parameter {name}: {value}. Allowed values: {allowed}.")


def _changes(ctx: Ctx, group: Group, pairs: list[dict[str, Any]]) -> dict[str, str]:
    known = catalogue.parameters(ctx.store, group.family)
    out: dict[str, str] = {}
    for pair in pairs:
        name, value = pair.get("ParameterName"), pair.get("ParameterValue")
        if not name or name not in known:
            raise errors.invalid(f"Unknown parameter: {name} (family {group.family}).")
        meta = known[name]
        if not meta.get("is_modifiable", True):
            raise errors.invalid(f"Parameter {name} is not modifiable.")
        if value is None:
            raise errors.invalid(f"ParameterValue of {name} must be provided.")
        check_value(meta, str(value))
        out[str(name)] = str(value)
    return out


def _modifiable(ctx: Ctx, ref: str) -> Group:
    group = find(ctx, ref)
    if group.resource is None:
        raise errors.fault("InvalidCacheParameterGroupState",
                           f"Default parameter group {group.name} cannot be modified.")
    return group


@operation("elasticache", "ModifyCacheParameterGroup")
def modify_cache_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        group = _modifiable(ctx, params["CacheParameterGroupName"])
        changes = _changes(ctx, group, list(params.get("ParameterNameValues") or []))
        assert group.resource is not None
        merged = {**group.parameters, **changes}
        ctx.store.update(group.resource, spec={**group.resource.spec, "Parameters": merged})
        shared.record(ctx, KIND_PARAMETER_GROUP, group.name,
                      f"Updated parameter group: {', '.join(sorted(changes))}", "configuration change")
    return {"CacheParameterGroupName": group.name}


@operation("elasticache", "ResetCacheParameterGroup")
def reset_cache_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        group = _modifiable(ctx, params["CacheParameterGroupName"])
        names = [str(p.get("ParameterName")) for p in params.get("ParameterNameValues") or []]
        if params.get("ResetAllParameters"):
            if names:
                raise errors.combination("Specify either ResetAllParameters or ParameterNameValues.")
            kept: dict[str, str] = {}
        elif names:
            known = catalogue.parameters(ctx.store, group.family)
            unknown = [n for n in names if n not in known]
            if unknown:
                raise errors.invalid(f"Unknown parameter: {unknown[0]} (family {group.family}).")
            kept = {k: v for k, v in group.parameters.items() if k not in names}
        else:
            raise errors.combination("Specify ResetAllParameters or ParameterNameValues.")
        assert group.resource is not None
        ctx.store.update(group.resource, spec={**group.resource.spec, "Parameters": kept})
        shared.record(ctx, KIND_PARAMETER_GROUP, group.name, "Parameter group reset", "configuration change")
    return {"CacheParameterGroupName": group.name}
