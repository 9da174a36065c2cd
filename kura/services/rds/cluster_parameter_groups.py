"""DB cluster parameter groups: Create/Describe/Modify/Reset/Delete/CopyDBClusterParameterGroup and
DescribeDBClusterParameters.

Families are `aurora-postgresql<major>`, with the parameters of PostgreSQL <major>; the
`default.aurora-postgresql<major>` groups exist implicitly for the installed majors. A cluster's group
applies to every DB instance of the cluster; an instance's own DB parameter group layers on top, as on
Aurora (the control plane merges them).
"""

from __future__ import annotations

import re
from typing import Any

from kura.api.errors import AwsError
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.rds import catalogue, errors, parameters, shared
from kura.services.rds.parameter_groups import check_name
from kura.services.rds.records import KIND_CLUSTER, KIND_CLUSTER_PARAMETER_GROUP
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

FAMILY = re.compile(r"^aurora-postgresql(\d+)$")
DEFAULT_PREFIX = "default."


def default_name(major: int | str) -> str:
    return f"{DEFAULT_PREFIX}aurora-postgresql{major}"


def _major(ctx: Ctx, family: str) -> int:
    match = FAMILY.match(family)
    if match is None:
        raise errors.invalid(f"DBParameterGroupFamily {family} is not a valid DB cluster parameter group "
                             "family: kura runs aurora-postgresql<major>.")
    major = int(match.group(1))
    if major not in catalogue.majors(ctx.store):
        raise errors.invalid(f"DBParameterGroupFamily {family}: PostgreSQL {major} is not installed on this "
                             f"Kura host. {catalogue.install_hint(major)}")
    return major


def _not_found(name: str) -> AwsError:
    return errors.fault("DBClusterParameterGroupNotFound", f"DBClusterParameterGroup not found: {name}")


def find(ctx: Ctx, ref: str) -> tuple[str, str, str, dict[str, dict[str, str]], Resource | None]:
    """(name, family, description, user values, stored record or None for a default group)."""
    name = ref.split(":cluster-pg:")[-1].lower() if ref.startswith("arn:") else ref.lower()
    res = ctx.store.get(KIND_CLUSTER_PARAMETER_GROUP, ctx.region, name)
    if res is not None:
        s = res.spec
        return name, str(s["DBParameterGroupFamily"]), str(s.get("Description", "")), \
            dict(s.get("Parameters") or {}), res
    family = name[len(DEFAULT_PREFIX):] if name.startswith(DEFAULT_PREFIX) else ""
    match = FAMILY.match(family)
    if match is None or int(match.group(1)) not in catalogue.majors(ctx.store):
        raise _not_found(ref)
    return name, family, f"Default cluster parameter group for {family}", {}, None


def _view(ctx: Ctx, name: str, family: str, description: str) -> dict[str, Any]:
    return {"DBClusterParameterGroupName": name, "DBParameterGroupFamily": family,
            "Description": description,
            "DBClusterParameterGroupArn": f"arn:aws:rds:{ctx.region}:{ctx.account}:cluster-pg:{name}"}


def _known(ctx: Ctx, family: str) -> dict[str, dict[str, Any]]:
    return catalogue.parameters(ctx.store, _major(ctx, family))


def _create(ctx: Ctx, name: str, family: str, description: str, tags: dict[str, str],
            values: dict[str, Any]) -> dict[str, Any]:
    if name.startswith(DEFAULT_PREFIX) or ctx.store.get(KIND_CLUSTER_PARAMETER_GROUP, ctx.region, name):
        raise errors.fault("DBParameterGroupAlreadyExists", f"Parameter group {name} already exists")
    ctx.store.create(KIND_CLUSTER_PARAMETER_GROUP, ctx.region, name, {
        "DBClusterParameterGroupName": name, "DBParameterGroupFamily": family, "Description": description,
        "Tags": tags, "Parameters": values})
    return _view(ctx, name, family, description)


@operation("rds", "CreateDBClusterParameterGroup")
def create_db_cluster_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["DBClusterParameterGroupName"], "DBClusterParameterGroupName")
    with ctx.store.transaction():
        _major(ctx, params["DBParameterGroupFamily"])
        group = _create(ctx, name, params["DBParameterGroupFamily"], params["Description"],
                        tagging.normalize(params.get("Tags")), {})
    return {"DBClusterParameterGroup": group}


@operation("rds", "CopyDBClusterParameterGroup")
def copy_db_cluster_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["TargetDBClusterParameterGroupIdentifier"],
                      "TargetDBClusterParameterGroupIdentifier")
    with ctx.store.transaction():
        _, family, _, values, _ = find(ctx, params["SourceDBClusterParameterGroupIdentifier"])
        group = _create(ctx, name, family, params["TargetDBClusterParameterGroupDescription"],
                        tagging.normalize(params.get("Tags")), values)
    return {"DBClusterParameterGroup": group}


@operation("rds", "DescribeDBClusterParameterGroups")
def describe_db_cluster_parameter_groups(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("DBClusterParameterGroupName")
    if ref:
        found = [find(ctx, ref)[:3]]
    else:
        found = [(default_name(m), f"aurora-postgresql{m}", f"Default cluster parameter group for "
                  f"aurora-postgresql{m}") for m in catalogue.majors(ctx.store)]
        found += [(r.id, str(r.spec["DBParameterGroupFamily"]), str(r.spec.get("Description", "")))
                  for r in ctx.store.list(KIND_CLUSTER_PARAMETER_GROUP, ctx.region)]
    page, marker = rds_page(found, lambda g: g[0], params)
    return shared.with_marker({"DBClusterParameterGroups": [_view(ctx, *g) for g in page]}, marker)


def _modifiable(ctx: Ctx, ref: str) -> tuple[Resource, dict[str, dict[str, Any]]]:
    name, family, _, _, res = find(ctx, ref)
    if res is None:
        raise errors.invalid(f"The parameter group {name} is a default parameter group and can't be "
                             "modified: create your own with CreateDBClusterParameterGroup.")
    return res, _known(ctx, family)


def _save(ctx: Ctx, res: Resource, values: dict[str, dict[str, str]]) -> dict[str, Any]:
    ctx.store.update(res, spec={**res.spec, "Parameters": values})
    return {"DBClusterParameterGroupName": res.id}


@operation("rds", "ModifyDBClusterParameterGroup")
def modify_db_cluster_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    items = list(params.get("Parameters") or [])
    parameters.check_count(items)
    with ctx.store.transaction():
        res, known = _modifiable(ctx, params["DBClusterParameterGroupName"])
        values, _ = parameters.modified(known, dict(res.spec.get("Parameters") or {}), items)
        return _save(ctx, res, values)


@operation("rds", "ResetDBClusterParameterGroup")
def reset_db_cluster_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    items = list(params.get("Parameters") or [])
    if params.get("ResetAllParameters") and items:
        raise errors.combination("Specify either ResetAllParameters or a list of Parameters, not both.")
    with ctx.store.transaction():
        res, known = _modifiable(ctx, params["DBClusterParameterGroupName"])
        if params.get("ResetAllParameters"):
            return _save(ctx, res, {})
        parameters.check_count(items)
        values, _ = parameters.reset(known, dict(res.spec.get("Parameters") or {}), items)
        return _save(ctx, res, values)


@operation("rds", "DeleteDBClusterParameterGroup")
def delete_db_cluster_parameter_group(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        name, _, _, _, res = find(ctx, params["DBClusterParameterGroupName"])
        if res is None:
            raise errors.fault("InvalidDBParameterGroupState",
                               f"Default DBClusterParameterGroup cannot be deleted: {name}")
        users = [c.id for c in ctx.store.list(KIND_CLUSTER, ctx.region)
                 if c.spec.get("DBClusterParameterGroupName") == name]
        if users:
            raise errors.fault("InvalidDBParameterGroupState", f"DB cluster {users[0]} uses the cluster "
                               f"parameter group {name}: it can't be deleted.")
        ctx.store.delete(res)
    return {}


@operation("rds", "DescribeDBClusterParameters")
def describe_db_cluster_parameters(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    source = params.get("Source")
    if source is not None and source not in parameters.SOURCES:
        raise errors.invalid(f"Invalid source {source}: use user, engine-default or system.")
    _, family, _, values, _ = find(ctx, params["DBClusterParameterGroupName"])
    rows = [p for s, p in parameters.rows(values, _known(ctx, family)) if source in (None, s)]
    page, marker = rds_page(rows, lambda p: str(p["ParameterName"]), params)
    return shared.with_marker({"Parameters": page}, marker)
