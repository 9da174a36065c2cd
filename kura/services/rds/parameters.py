"""ModifyDBParameterGroup, ResetDBParameterGroup, DescribeDBParameters, DescribeEngineDefaultParameters.

A group's spec holds only the values users set; every other parameter shows the catalogue's
default for the family. The control plane applies dynamic values at once and static ones at the
next reboot (the instance shows `pending-reboot` meanwhile).
"""

from __future__ import annotations

from typing import Any

from kura.services.common.pagination import rds_page
from kura.services.rds import catalogue, errors, group_views, parameter_values, shared
from kura.services.rds.parameter_groups import Group, find
from kura.services.rds.records import KIND_PARAMETER_GROUP
from kura.services.registry import Ctx, operation

MAX_PER_CALL = 20
SOURCES = ("user", "engine-default", "system")
APPLY_METHODS = ("immediate", "pending-reboot")


def _catalogue(ctx: Ctx, family: str) -> dict[str, dict[str, Any]]:
    major = catalogue.major_of_family(family)
    return catalogue.parameters(ctx.store, major) if major is not None else {}


def _default_source(info: dict[str, Any]) -> str:
    # RDS shows the values it computes or pins itself as "system".
    if info.get("source") in ("system", "engine-default"):
        return str(info["source"])
    if not info.get("is_modifiable", True) or "{" in str(info.get("default") or ""):
        return "system"
    return "engine-default"


def _default_value(info: dict[str, Any]) -> str | None:
    value = info.get("default")
    return str(value) if value is not None else info.get("engine_default")


def _apply_method(info: dict[str, Any], asked: str | None) -> str:
    static = (info.get("apply_type") or "static") == "static"
    if asked is None:
        return "pending-reboot" if static else "immediate"
    if asked not in APPLY_METHODS:
        raise errors.invalid(f"Invalid apply method {asked} for parameter {info['name']}: use immediate or "
                             "pending-reboot.")
    if static and asked == "immediate":
        raise errors.combination(f"cannot use immediate apply method for static parameter {info['name']}")
    return asked


def _modifiable(ctx: Ctx, ref: str, items: list[dict[str, Any]]) -> tuple[Group, dict[str, dict[str, Any]]]:
    group = find(ctx, ref)
    if group.resource is None:
        raise errors.invalid(f"The parameter group {group.name} is a default parameter group and can't be "
                             "modified: create your own with CreateDBParameterGroup.")
    check_count(items)
    return group, _catalogue(ctx, group.family)


def _known(known: dict[str, dict[str, Any]], name: str | None) -> dict[str, Any]:
    info = known.get(name or "")
    if info is None:
        raise errors.invalid(f"Could not find parameter with name: {name}")
    return info


def _save(ctx: Ctx, group: Group, values: dict[str, dict[str, str]], messages: list[str]) -> None:
    assert group.resource is not None
    ctx.store.update(group.resource, spec={**group.resource.spec, "Parameters": values})
    for message in messages:
        shared.record(ctx, KIND_PARAMETER_GROUP, group.name, message, "configuration change")


def modified(known: dict[str, dict[str, Any]], current: dict[str, dict[str, str]],
             items: list[dict[str, Any]]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The user values after a Modify…ParameterGroup of `items`, checked; and its event messages."""
    values = dict(current)
    messages = []
    for item in items:
        info = _known(known, item.get("ParameterName"))
        name = str(info["name"])
        value = item.get("ParameterValue")
        if value is None:
            raise errors.invalid(f"The parameter {name} needs a ParameterValue.")
        if not info.get("is_modifiable", True):
            if parameter_values.is_fixed_value(info, str(value)):
                continue  # asking for the value RDS pins anyway (ssl=on …) changes nothing
            raise errors.invalid(f"The parameter {name} cannot be modified"
                                 + (f" (it is {_default_value(info)})." if _default_value(info) else "."))
        parameter_values.check(info, str(value))
        method = _apply_method(info, item.get("ApplyMethod"))
        values[name] = {"ParameterValue": str(value), "ApplyMethod": method}
        messages.append(f"Updated parameter {name} to {value} with apply method {method}")
    return values, messages


def reset(known: dict[str, dict[str, Any]], current: dict[str, dict[str, str]],
          items: list[dict[str, Any]]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The user values after a Reset…ParameterGroup of `items`; and its event messages."""
    values = dict(current)
    messages = []
    for item in items:
        info = _known(known, item.get("ParameterName"))
        method = _apply_method(info, item.get("ApplyMethod"))
        values.pop(str(info["name"]), None)
        messages.append(f"Reset parameter {info['name']} to its default with apply method {method}")
    return values, messages


def check_count(items: list[dict[str, Any]]) -> None:
    if not items:
        raise errors.invalid("Parameters: at least one parameter must be given.")
    if len(items) > MAX_PER_CALL:
        raise errors.invalid(f"A maximum of {MAX_PER_CALL} parameters can be modified in a single request.")


@operation("rds", "ModifyDBParameterGroup")
def modify_db_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    items = list(params.get("Parameters") or [])
    with ctx.store.transaction():
        group, known = _modifiable(ctx, params["DBParameterGroupName"], items)
        values, messages = modified(known, group.parameters, items)
        _save(ctx, group, values, messages)
    return {"DBParameterGroupName": group.name}


@operation("rds", "ResetDBParameterGroup")
def reset_db_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    items = list(params.get("Parameters") or [])
    reset_all = bool(params.get("ResetAllParameters"))
    if reset_all and items:
        raise errors.combination("Specify either ResetAllParameters or a list of Parameters, not both.")
    with ctx.store.transaction():
        group, known = _modifiable(ctx, params["DBParameterGroupName"], [{}] if reset_all else items)
        if reset_all:
            _save(ctx, group, {}, ["Reset all parameters to their engine defaults"])
            return {"DBParameterGroupName": group.name}
        values, messages = reset(known, group.parameters, items)
        _save(ctx, group, values, messages)
    return {"DBParameterGroupName": group.name}


def rows(user_values: dict[str, dict[str, str]],
         known: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(source, Parameter) for every parameter of the family, the user's values over the defaults."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(known):
        info = known[name]
        user = user_values.get(name)
        if user is not None:
            shown = group_views.parameter(info, user["ParameterValue"], "user", user["ApplyMethod"])
            out.append(("user", shown))
        else:
            source = _default_source(info)
            out.append((source, group_views.parameter(info, _default_value(info), source, "pending-reboot")))
    return out


@operation("rds", "DescribeDBParameters")
def describe_db_parameters(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    source = params.get("Source")
    if source is not None and source not in SOURCES:
        raise errors.invalid(f"Invalid source {source}: use user, engine-default or system.")
    _no_filters(params)
    group = find(ctx, params["DBParameterGroupName"])
    found = [p for s, p in rows(group.parameters, _catalogue(ctx, group.family)) if source in (None, s)]
    page, marker = rds_page(found, lambda p: str(p["ParameterName"]), params)
    return shared.with_marker({"Parameters": page}, marker)


@operation("rds", "DescribeEngineDefaultParameters")
def describe_engine_default_parameters(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    family = params["DBParameterGroupFamily"]
    _no_filters(params)
    catalogue.require_family(ctx.store, family)
    found = [p for _, p in rows({}, _catalogue(ctx, family))]
    page, marker = rds_page(found, lambda p: str(p["ParameterName"]), params)
    defaults = shared.with_marker({"DBParameterGroupFamily": family, "Parameters": page}, marker)
    return {"EngineDefaults": defaults}


def _no_filters(params: dict[str, Any]) -> None:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
