"""What a Performance Insights request is about: the data source its Identifier names and its time range.

An Identifier is a DB instance's DbiResourceId (`db-…`) as on RDS. An Aurora cluster's resource id
(`cluster-…`, what seed 002 passes from Terraform's `cluster_resource_id`) is accepted too and means
the cluster's current writer: its load is the cluster's write load, and the writer is the member a
cluster endpoint user's sessions run on. An identifier of no instance, or of one without Performance
Insights, is refused as RDS does, with NotAuthorizedException.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

from kura.api.errors import AwsError
from kura.services.common.pagination import decode_token, encode_token
from kura.services.common.timestamps import epoch
from kura.services.pi.dimensions import invalid
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE
from kura.services.registry import Ctx
from kura.store.types import Resource

T = TypeVar("T")
PERIODS = (1, 60, 300, 3600, 86400)
TARGET_POINTS = 200  # without PeriodInSeconds, the shortest period giving at most this many points
DAY = 86400


@dataclass(frozen=True, slots=True)
class Source:
    identifier: str  # as asked
    name: str  # the sampled instance's DbiResourceId (the PI store's name for it)
    instance: Resource


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # aligned, inclusive
    end: int  # aligned, exclusive
    period: int


def not_authorized(identifier: str, why: str) -> AwsError:
    return AwsError("NotAuthorizedException", f"The resource {identifier} for service type RDS is not "
                    f"authorized for this account: {why}")


def source(ctx: Ctx, params: dict[str, Any]) -> Source:
    ident = str(params["Identifier"])
    if params.get("ServiceType") != "RDS":
        raise invalid(f"kura serves Performance Insights for ServiceType RDS, not "
                      f"{params.get('ServiceType')}.")
    instances = ctx.store.list(KIND_INSTANCE, ctx.region)
    if ident.startswith("cluster-"):
        cluster = next((c for c in ctx.store.list(KIND_CLUSTER, ctx.region)
                        if c.spec.get("DbClusterResourceId") == ident), None)
        if cluster is None:
            raise not_authorized(ident, "no DB cluster has this resource id in this Region.")
        writer = next((r for r in instances if r.id == cluster.spec.get("writer")), None)
        if writer is None:
            raise not_authorized(ident, f"DB cluster {cluster.id} has no writer DB instance.")
        found = writer
    else:
        match = next((r for r in instances if r.spec.get("DbiResourceId") == ident), None)
        if match is None:
            raise not_authorized(ident, "no DB instance has this resource id in this Region.")
        found = match
    if not found.spec.get("EnablePerformanceInsights"):
        raise not_authorized(ident, f"Performance Insights is not enabled on DB instance {found.id}.")
    return Source(ident, str(found.spec["DbiResourceId"]), found)


def window(ctx: Ctx, src: Source, params: dict[str, Any]) -> Window:
    """StartTime/EndTime aligned to the period (PeriodInSeconds, else one giving ≤ 200 points), the start
    no earlier than the retention period allows."""
    start = epoch(params["StartTime"], "StartTime", "InvalidArgumentException")
    end = epoch(params["EndTime"], "EndTime", "InvalidArgumentException")
    assert start is not None and end is not None
    if start >= end:
        raise invalid("The value for StartTime must be earlier than the value for EndTime.")
    period = params.get("PeriodInSeconds")
    if period is None:
        period = next((p for p in PERIODS if (end - start) / p <= TARGET_POINTS), PERIODS[-1])
    elif period not in PERIODS:
        raise invalid(f"The PeriodInSeconds {period} is not valid: use one of "
                      f"{', '.join(str(p) for p in PERIODS)}.")
    days = float(src.instance.spec.get("PerformanceInsightsRetentionPeriod") or 7)
    start = min(max(start, ctx.now() - days * DAY), end)  # nothing older is kept
    low = int(math.floor(start / period) * period)
    high = int(math.ceil(end / period) * period)
    return Window(low, max(high, low + period), int(period))


def timestamp(w: Window, bucket: int, alignment: str | None) -> int:
    """A period's timestamp: its end (END_TIME, the default) or its start."""
    return bucket * w.period + (0 if alignment == "START_TIME" else w.period)


def page(items: list[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """MaxResults items from the NextToken on (all of them without MaxResults)."""
    token = params.get("NextToken")
    first = 0
    if token:
        try:
            first = int(decode_token(str(token), "InvalidArgumentException"))
        except ValueError as exc:
            raise invalid(f"Invalid NextToken: {token}") from exc
    limit = params.get("MaxResults")
    if not limit:
        return items[first:], None
    last = first + int(limit)
    return items[first:last], (encode_token(str(last)) if last < len(items) else None)
