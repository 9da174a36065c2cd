"""ListMetrics: the metrics with data in the last two weeks (RecentlyActive=PT3H: the last three hours),
filtered by namespace, metric name and dimensions (a filter without a value matches any value), 500 a
page."""

from __future__ import annotations

import json
from typing import Any

from kura.metrics import query
from kura.services.cloudwatch import shared
from kura.services.common.pagination import decode_token, encode_token
from kura.services.registry import Ctx, operation

PAGE = 500
TWO_WEEKS = 14 * 86400


def _key(m: query.Listed) -> str:
    return json.dumps([m.namespace, m.name, sorted(m.dimensions.items())])


def _matches(m: query.Listed, filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        name, value = f.get("Name"), f.get("Value")
        if name not in m.dimensions or (value is not None and m.dimensions[name] != value):
            return False
    return True


@operation("cloudwatch", "ListMetrics")
def list_metrics(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    recently = params.get("RecentlyActive")
    if recently is not None and recently != "PT3H":
        raise shared.invalid(f"The value {recently} for parameter RecentlyActive is invalid: it must be "
                             "PT3H.")
    filters = list(params.get("Dimensions") or [])
    if any(not f.get("Name") for f in filters):
        raise shared.invalid("A dimension filter needs a Name.")
    since = ctx.now() - (3 * 3600 if recently else TWO_WEEKS)
    found = [m for m in query.listed(shared.store(ctx), region=ctx.region, namespace=params.get("Namespace"),
                                     name=params.get("MetricName"), since=since) if _matches(m, filters)]
    found.sort(key=_key)
    token = params.get("NextToken")
    if token:
        after = decode_token(str(token), "InvalidParameterValue")
        found = [m for m in found if _key(m) > after]
    page = found[:PAGE]
    out: dict[str, Any] = {"Metrics": [{"Namespace": m.namespace, "MetricName": m.name,
                                        "Dimensions": shared.wire_dimensions(m.dimensions)} for m in page]}
    if len(found) > PAGE:
        out["NextToken"] = encode_token(_key(page[-1]))
    return out
