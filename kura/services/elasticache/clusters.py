"""CreateCacheCluster and DescribeCacheClusters.

CreateCacheCluster validates, writes the desired cluster and answers `creating` at once; the ElastiCache
reconciler (control plane) starts the real redis-server.
"""

from __future__ import annotations

from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.elasticache import errors, settings, shared, subnet_groups, views
from kura.services.elasticache.records import KIND_CACHE_CLUSTER
from kura.services.registry import Ctx, operation


def _refuse(params: dict[str, Any]) -> None:
    settings.refuse_unsupported(params)
    if params.get("ReplicationGroupId"):
        raise errors.not_supported("adding a cache cluster to a replication group with CreateCacheCluster: "
                                   "use IncreaseReplicaCount")
    if params.get("AZMode") == "cross-az" or len(params.get("PreferredAvailabilityZones") or []) > 1:
        raise errors.invalid("Redis cache clusters have one node: AZMode cross-az is for memcached.")
    nodes = params.get("NumCacheNodes", 1)
    if nodes != 1:
        raise errors.invalid(f"NumCacheNodes {nodes} is invalid: a Redis cache cluster has exactly 1 node. "
                             "Use a replication group for replicas.")


def spec_of(ctx: Ctx, ident: str, params: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """The desired cluster (also used for the members of a replication group)."""
    zones = list(params.get("PreferredAvailabilityZones") or [])
    if zones and not params.get("PreferredAvailabilityZone"):
        params = {**params, "PreferredAvailabilityZone": zones[0]}
    spec: dict[str, Any] = {"CacheClusterId": ident, "NumCacheNodes": 1, **settings.engine(ctx, params)}
    spec.update(subnet_groups.placement(ctx, params))
    spec.update(settings.operations(ident, params))
    spec.update(settings.security(ctx, shared.arn(ctx, KIND_CACHE_CLUSTER, ident), params))
    spec.update(settings.restore_source(ctx, params))
    spec.update({"Tags": tags, "CacheClusterCreateTime": ctx.now(), "PendingModifiedValues": {},
                 "desired": "available", "reboot_seq": 0, "final_snapshot": None})
    return {k: v for k, v in spec.items() if v is not None}


@operation("elasticache", "CreateCacheCluster")
def create_cache_cluster(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["CacheClusterId"], "CacheClusterId", max_len=50)
    _refuse(params)
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        if ctx.store.get(KIND_CACHE_CLUSTER, ctx.region, ident) is not None:
            raise errors.fault("CacheClusterAlreadyExists", f"Cache cluster {ident} already exists.")
        spec = spec_of(ctx, ident, params, tags)
        res = ctx.store.create(KIND_CACHE_CLUSTER, ctx.region, ident, spec)
        shared.record(ctx, KIND_CACHE_CLUSTER, ident, "Cache cluster creation requested", "creation")
    return {"CacheCluster": views.cluster(res, ctx.account)}


@operation("elasticache", "DescribeCacheClusters")
def describe_cache_clusters(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("CacheClusterId")
    found = [shared.get_cluster(ctx, ref)] if ref else ctx.store.list(KIND_CACHE_CLUSTER, ctx.region)
    if params.get("ShowCacheClustersNotInReplicationGroups"):
        found = [r for r in found if not r.spec.get("ReplicationGroupId")]
    page, marker = rds_page(found, lambda r: r.id, params)
    show = bool(params.get("ShowCacheNodeInfo"))
    items = [views.cluster(r, ctx.account, show_nodes=show) for r in page]
    return shared.with_marker({"CacheClusters": items}, marker)
