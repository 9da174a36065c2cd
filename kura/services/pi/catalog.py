"""What can be asked of a data source: ListAvailableResourceMetrics, ListAvailableResourceDimensions and
GetResourceMetadata."""

from __future__ import annotations

from typing import Any

from kura.metrics import pi_store
from kura.services.pi import dimensions, resources
from kura.services.pi.dimensions import invalid
from kura.services.pi.metrics import METRICS
from kura.services.registry import Ctx, operation

METRIC_TYPES = ("os", "db", "db.sql.stats", "db.sql_tokenized.stats")


@operation("pi", "ListAvailableResourceMetrics")
def list_available_resource_metrics(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    resources.source(ctx, params)
    types = [str(t) for t in params["MetricTypes"]]
    bad = [t for t in types if t not in METRIC_TYPES]
    if bad:
        raise invalid(f"The metric types {', '.join(bad)} are not valid: use {', '.join(METRIC_TYPES)}.")
    # Only DB load is collected: the OS counters and per-SQL statistics are not.
    found = [{"Metric": name, "Description": text, "Unit": "Sessions"} for name, text in METRICS.items()
             if "db" in types]
    page, token = resources.page(found, params)
    out: dict[str, Any] = {"Metrics": page}
    if token:
        out["NextToken"] = token
    return out


@operation("pi", "ListAvailableResourceDimensions")
def list_available_resource_dimensions(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    resources.source(ctx, params)
    found = []
    for metric in params["Metrics"]:
        if metric not in METRICS:
            raise invalid(f"The specified metric is not a known metric: {metric} (use "
                          f"{' or '.join(METRICS)}).")
        found.append({"Metric": metric, "Groups": [
            {"Group": g.name, "Dimensions": [{"Identifier": d} for d in g.dimensions]}
            for g in dimensions.GROUPS.values()]})
    page, token = resources.page(found, params)
    out: dict[str, Any] = {"MetricDimensions": page}
    if token:
        out["NextToken"] = token
    return out


@operation("pi", "GetResourceMetadata")
def get_resource_metadata(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    src = resources.source(ctx, params)
    features = pi_store.for_home(ctx.env.settings.home).features(src.name)
    return {"Identifier": src.identifier,
            "Features": {name: {"Status": status} for name, status in features.items()}}
