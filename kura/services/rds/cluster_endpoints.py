"""Aurora cluster endpoints: DescribeDBClusterEndpoints (the writer and reader endpoints of every cluster,
and its custom endpoints) and Create/Modify/DeleteDBClusterEndpoint.

A custom endpoint is an address of its own that the router spreads over a chosen set of the cluster's
DB instances: its StaticMembers, else every member but its ExcludedMembers; of type READER only the
readers among them, of type ANY the writer too. The cluster reconciler allocates its address.
"""

from __future__ import annotations

from typing import Any

from kura.services.common import filters
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.rds import clusters, errors, shared
from kura.services.rds.records import KIND_CLUSTER, KIND_CLUSTER_ENDPOINT
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

MAX_CUSTOM = 5  # custom endpoints per DB cluster (Aurora's quota)
TYPES = ("READER", "ANY")


def _get(ctx: Ctx, ref: str) -> Resource:
    res = ctx.store.get(KIND_CLUSTER_ENDPOINT, ctx.region, ref.lower())
    if res is None:
        raise errors.fault("DBClusterEndpointNotFoundFault", f"DBClusterEndpoint {ref} not found.")
    return res


def _members(ctx: Ctx, cluster: Resource, params: dict[str, Any]) -> dict[str, list[str]]:
    static, excluded = params.get("StaticMembers") or [], params.get("ExcludedMembers") or []
    if static and excluded:
        raise errors.combination("Specify StaticMembers or ExcludedMembers, not both.")
    known = {m.id for m in clusters.members(ctx, cluster.id)}
    for ident in [*static, *excluded]:
        if ident.lower() not in known:
            raise errors.invalid(f"DB instance {ident} is not a member of DB cluster {cluster.id}.")
    return {"StaticMembers": [i.lower() for i in static], "ExcludedMembers": [i.lower() for i in excluded]}


def _type(value: str) -> str:
    if value.upper() not in TYPES:
        raise errors.invalid(f"Invalid EndpointType {value}: use READER or ANY.")
    return value.upper()


def view(res: Resource, account: str) -> dict[str, Any]:
    state = "deleting" if res.spec.get("desired") == "deleted" else str(res.status.get("state") or "creating")
    out = {"DBClusterEndpointIdentifier": res.id, "DBClusterIdentifier": res.spec["DBClusterIdentifier"],
           "DBClusterEndpointResourceIdentifier": res.spec["DBClusterEndpointResourceIdentifier"],
           "Status": state, "EndpointType": "CUSTOM", "CustomEndpointType": res.spec["CustomEndpointType"],
           "StaticMembers": list(res.spec.get("StaticMembers") or []),
           "ExcludedMembers": list(res.spec.get("ExcludedMembers") or []),
           "DBClusterEndpointArn": f"arn:aws:rds:{res.region}:{account}:cluster-endpoint:{res.id}"}
    if res.status.get("address"):
        out["Endpoint"] = res.status["address"]
    return out


def _built_in(cluster: Resource) -> list[dict[str, Any]]:
    out = []
    for kind, key in (("WRITER", "address"), ("READER", "reader_address")):
        if cluster.status.get(key):
            out.append({"DBClusterEndpointIdentifier": cluster.id, "DBClusterIdentifier": cluster.id,
                        "Endpoint": cluster.status[key], "Status": "available", "EndpointType": kind})
    return out


@operation("rds", "CreateDBClusterEndpoint")
def create_db_cluster_endpoint(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["DBClusterEndpointIdentifier"], "DBClusterEndpointIdentifier")
    with ctx.store.transaction():
        cluster = clusters.get(ctx, params["DBClusterIdentifier"])
        if ctx.store.get(KIND_CLUSTER_ENDPOINT, ctx.region, ident) is not None:
            raise errors.fault("DBClusterEndpointAlreadyExistsFault", f"DB cluster endpoint {ident} already "
                               "exists.")
        mine = [e for e in ctx.store.list(KIND_CLUSTER_ENDPOINT, ctx.region)
                if e.spec.get("DBClusterIdentifier") == cluster.id]
        if len(mine) >= MAX_CUSTOM:
            raise errors.fault("DBClusterEndpointQuotaExceededFault", f"DB cluster {cluster.id} already has "
                               f"{MAX_CUSTOM} custom endpoints.")
        spec = {"DBClusterEndpointIdentifier": ident, "DBClusterIdentifier": cluster.id,
                "CustomEndpointType": _type(params["EndpointType"]), **_members(ctx, cluster, params),
                "DBClusterEndpointResourceIdentifier": "cluster-endpoint-"
                + shared.new_resource_id()[3:].lower(),
                "Tags": tagging.normalize(params.get("Tags")), "desired": "available"}
        res = ctx.store.create(KIND_CLUSTER_ENDPOINT, ctx.region, ident, spec)
        shared.record(ctx, KIND_CLUSTER, cluster.id, f"Custom endpoint {ident} created",
                      "configuration change")
    return view(res, ctx.account)


@operation("rds", "ModifyDBClusterEndpoint")
def modify_db_cluster_endpoint(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _get(ctx, params["DBClusterEndpointIdentifier"])
        if res.spec.get("desired") == "deleted":
            raise errors.fault("InvalidDBClusterEndpointStateFault", f"Endpoint {res.id} is being deleted.")
        cluster = clusters.get(ctx, str(res.spec["DBClusterIdentifier"]))
        spec = dict(res.spec)
        if params.get("EndpointType"):
            spec["CustomEndpointType"] = _type(params["EndpointType"])
        if "StaticMembers" in params or "ExcludedMembers" in params:
            spec.update(_members(ctx, cluster, params))
        res = ctx.store.update(res, spec=spec)
    return view(res, ctx.account)


@operation("rds", "DeleteDBClusterEndpoint")
def delete_db_cluster_endpoint(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _get(ctx, params["DBClusterEndpointIdentifier"])
        res = ctx.store.update(res, spec={**res.spec, "desired": "deleted"})
    return view(res, ctx.account)


@operation("rds", "DescribeDBClusterEndpoints")
def describe_db_cluster_endpoints(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("DBClusterIdentifier")
    found_clusters = [clusters.get(ctx, wanted)] if wanted else ctx.store.list(KIND_CLUSTER, ctx.region)
    ids = {c.id for c in found_clusters}
    items: list[dict[str, Any]] = [e for c in found_clusters for e in _built_in(c)]
    items += [view(e, ctx.account) for e in ctx.store.list(KIND_CLUSTER_ENDPOINT, ctx.region)
              if e.spec.get("DBClusterIdentifier") in ids]
    if params.get("DBClusterEndpointIdentifier"):
        items = [i for i in items if i["DBClusterEndpointIdentifier"] == params["DBClusterEndpointIdentifier"]
                 .lower() and i["EndpointType"] == "CUSTOM"]
        if not items:
            raise errors.fault("DBClusterEndpointNotFoundFault",
                               f"DBClusterEndpoint {params['DBClusterEndpointIdentifier']} not found.")
    items = filters.apply(items, params.get("Filters"), {
        "db-cluster-endpoint-type": lambda i: i["EndpointType"].lower(),
        "db-cluster-endpoint-custom-type": lambda i: str(i.get("CustomEndpointType", "")).lower(),
        "db-cluster-endpoint-id": lambda i: i["DBClusterEndpointIdentifier"],
        "db-cluster-endpoint-status": lambda i: i["Status"]})
    page, marker = rds_page(items, lambda i: f"{i['DBClusterIdentifier']}/{i['EndpointType']}/"
                            f"{i['DBClusterEndpointIdentifier']}", params)
    return shared.with_marker({"DBClusterEndpoints": page}, marker)
