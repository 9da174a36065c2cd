"""GetMetricStatistics: one metric (its exact set of dimensions), one row per period with data.

At most 1,440 datapoints a call (the error CloudWatch gives beyond); a period the data's age does not
allow (kura.metrics.query) answers no datapoints, as on CloudWatch. Statistics and ExtendedStatistics
are mutually exclusive, as documented.
"""

from __future__ import annotations

import math
from typing import Any

from kura.metrics import query, stats
from kura.services.cloudwatch import shared
from kura.services.registry import Ctx, operation

MAX_DATAPOINTS = 1440
MAX_EXTENDED = 10


def check_period(period: int, where: str = "Period") -> None:
    if period < 1 or (period not in query.HIGH_RESOLUTION and period % 60):
        raise shared.invalid(f"The parameter {where} must be 1, 5, 10, 20, 30, 60 or any multiple of 60.")


def check_range(start: float, end: float) -> None:
    if start >= end:
        raise shared.invalid("The parameter StartTime must be less than the parameter EndTime.")


@operation("cloudwatch", "GetMetricStatistics")
def get_metric_statistics(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    start, end = shared.time_of(params, "StartTime"), shared.time_of(params, "EndTime")
    period = int(params["Period"])
    check_period(period)
    check_range(start, end)
    basic = list(params.get("Statistics") or [])
    extended = list(params.get("ExtendedStatistics") or [])
    if basic and extended:
        raise shared.combination("The parameters Statistics and ExtendedStatistics are mutually exclusive "
                                 "and you have specified both.")
    if not basic and not extended:
        raise shared.missing("Must specify either Statistics or ExtendedStatistics.")
    if len(extended) > MAX_EXTENDED:
        raise shared.invalid("The collection ExtendedStatistics must not have a size greater than "
                             f"{MAX_EXTENDED}.")
    for i, name in enumerate(extended, 1):
        parsed = stats.parse(name)
        if parsed is None or parsed.kind != "p":
            raise shared.invalid(f"The value {name} for parameter ExtendedStatistics.member.{i} is not a "
                                 "valid percentile statistic (p0.0 to p100).")
    wanted = math.ceil((end - start) / period)
    if wanted > MAX_DATAPOINTS:
        raise shared.combination(f"You have requested up to {wanted} datapoints, which exceeds the limit of "
                                 f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing "
                                 "Period, or decreasing the time range.")
    name = str(params["MetricName"])
    metric = query.MetricId(str(params["Namespace"]), name,
                            shared.dimensions(params.get("Dimensions"), "Dimensions"), ctx.region)
    found, unit = query.buckets(shared.store(ctx), metric, start, end, period, unit=params.get("Unit"),
                                extended=bool(extended))
    points = []
    for ts, agg in found:
        point: dict[str, Any] = {"Timestamp": float(ts), "Unit": unit}
        for stat in basic:
            point[stat] = stats.value(agg, stat)
        values = {e: stats.value(agg, e) for e in extended}
        if any(v is not None for v in values.values()):
            point["ExtendedStatistics"] = {k: v for k, v in values.items() if v is not None}
        points.append(point)
    return {"Label": name, "Datapoints": points}
