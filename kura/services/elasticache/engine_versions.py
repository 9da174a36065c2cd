"""DescribeCacheEngineVersions: the installed Redis versions, from the catalogue."""

from __future__ import annotations

from typing import Any

from kura.services.common.pagination import rds_page
from kura.services.elasticache import catalogue, shared
from kura.services.registry import Ctx, operation


def _view(version: catalogue.Version) -> dict[str, Any]:
    return {"Engine": "redis", "EngineVersion": version.version, "CacheParameterGroupFamily": version.family,
            "CacheEngineDescription": "Redis",
            "CacheEngineVersionDescription": f"redis version {version.version}"}


@operation("elasticache", "DescribeCacheEngineVersions")
def describe_cache_engine_versions(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    engine = params.get("Engine")
    found = [] if engine not in (None, "redis") else catalogue.versions(ctx.store)
    wanted = params.get("EngineVersion")
    if wanted:
        found = [v for v in found if v.version == wanted or v.version.startswith(f"{wanted}.")]
    family = params.get("CacheParameterGroupFamily")
    if family:
        major = catalogue.major_of_family(family)
        found = [v for v in found if v.major == major]
    if params.get("DefaultOnly"):
        found = found[-1:]
    page, marker = rds_page(found, lambda v: v.version, params)
    return shared.with_marker({"CacheEngineVersions": [_view(v) for v in page]}, marker)
