"""PutMetricData: custom metrics into the series store, as CloudWatch takes them.

A datum is one value, a statistic set (SampleCount/Sum/Minimum/Maximum) or arrays of values and their
counts; StorageResolution 1 keeps it to the second, 60 (the default) to the minute — standard-resolution
data is aggregated by the minute, so it is stored at the minute's start. Timestamps may be up to two
weeks old and two hours ahead; without one the datum is now. Namespaces starting with "AWS/" are
CloudWatch's own and refused.
"""

from __future__ import annotations

from typing import Any

from kura.metrics import series
from kura.services.cloudwatch import shared
from kura.services.common.timestamps import epoch
from kura.services.registry import Ctx, operation

MAX_DATA = 1000
MAX_VALUES = 150
MAX_DIMENSIONS = 30
PAST = 14 * 86400
FUTURE = 2 * 3600


@operation("cloudwatch", "PutMetricData")
def put_metric_data(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    namespace = str(params.get("Namespace") or "")
    if not namespace:
        raise shared.missing("The parameter Namespace is required.")
    if namespace.startswith("AWS/"):
        raise shared.invalid(f"The value {namespace} for parameter Namespace is invalid.")
    data = list(params.get("MetricData") or [])
    for entity in params.get("EntityMetricData") or []:
        data += list(entity.get("MetricData") or [])
    if not data:
        raise shared.missing("The parameter MetricData is required.")
    if len(data) > MAX_DATA:
        raise shared.invalid(f"The collection MetricData must not have a size greater than {MAX_DATA}.")
    now = ctx.now()
    datums = [_datum(ctx, namespace, raw, f"MetricData.member.{i}", now) for i, raw in enumerate(data, 1)]
    shared.store(ctx).add(datums)
    return {}


def _datum(ctx: Ctx, namespace: str, raw: dict[str, Any], where: str, now: float) -> series.Datum:
    dims_raw = raw.get("Dimensions") or []
    if len(dims_raw) > MAX_DIMENSIONS:
        raise shared.invalid(f"The collection {where}.Dimensions must not have a size greater than "
                             f"{MAX_DIMENSIONS}.")
    dims = shared.dimensions(dims_raw, f"{where}.Dimensions")
    ts = epoch(raw.get("Timestamp"), f"{where}.Timestamp")
    ts = now if ts is None else ts
    if ts < now - PAST:
        raise shared.invalid(f"The parameter {where}.Timestamp must specify a time no more than two weeks "
                             "in the past.")
    if ts > now + FUTURE:
        raise shared.invalid(f"The parameter {where}.Timestamp must specify a time no more than two hours "
                             "in the future.")
    resolution = int(raw.get("StorageResolution", 60))
    if resolution not in (1, 60):
        raise shared.invalid(f"The value {resolution} for parameter {where}.StorageResolution is invalid: "
                             "it must be 1 or 60.")
    ts = float(int(ts) // resolution * resolution)
    count, total, low, high, values = _values(raw, where)
    return series.Datum(namespace, str(raw["MetricName"]), dims, str(raw.get("Unit") or "None"), ts,
                        ctx.region, count, total, low, high, values)


def _values(raw: dict[str, Any], where: str) -> tuple[float, float, float, float,
                                                      tuple[tuple[float, float], ...] | None]:
    given = [k for k in ("Value", "StatisticValues", "Values") if raw.get(k) is not None]
    if len(given) > 1:
        raise shared.combination(f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually "
                                 "exclusive and you have specified both.")
    if not given:
        raise shared.missing(f"One of the parameters {where}.Value, {where}.StatisticValues or "
                             f"{where}.Values must be specified.")
    if given[0] == "Value":
        v = shared.check_value(raw["Value"], f"{where}.Value")
        return 1.0, v, v, v, ((v, 1.0),)
    if given[0] == "StatisticValues":
        return _statistic_set(raw["StatisticValues"], f"{where}.StatisticValues")
    values = [shared.check_value(v, f"{where}.Values") for v in raw["Values"]]
    counts = [float(c) for c in raw.get("Counts") or [1.0] * len(values)]
    if len(values) > MAX_VALUES:
        raise shared.invalid(f"The collection {where}.Values must not have a size greater than {MAX_VALUES}.")
    if len(counts) != len(values):
        raise shared.invalid(f"The parameters {where}.Values and {where}.Counts must be of the same size.")
    if any(c < 0 for c in counts):
        raise shared.invalid(f"The values of {where}.Counts must not be negative.")
    pairs = tuple((v, c) for v, c in zip(values, counts, strict=True) if c > 0)
    if not pairs:
        raise shared.invalid(f"The parameter {where}.Values must hold at least one value with a count.")
    return (sum(c for _, c in pairs), sum(v * c for v, c in pairs), min(v for v, _ in pairs),
            max(v for v, _ in pairs), pairs)


def _statistic_set(stats: dict[str, Any], where: str) -> tuple[float, float, float, float,
                                                              tuple[tuple[float, float], ...] | None]:
    count = shared.check_value(stats["SampleCount"], f"{where}.SampleCount")
    total = shared.check_value(stats["Sum"], f"{where}.Sum")
    low = shared.check_value(stats["Minimum"], f"{where}.Minimum")
    high = shared.check_value(stats["Maximum"], f"{where}.Maximum")
    if count <= 0:
        raise shared.invalid(f"The parameter {where}.SampleCount must be greater than 0.")
    if low > high:
        raise shared.invalid(f"The parameter {where}.Minimum must not be greater than {where}.Maximum.")
    # One value repeated is a distribution (percentiles work, as on CloudWatch); anything else is not.
    single = low == high and abs(total - low * count) <= 1e-9 * max(1.0, abs(total))
    return count, total, low, high, ((low, count),) if single else None
