"""DescribeAlarms (names, prefix, state, action prefix, alarm types, children and parents of a
composite), DescribeAlarmsForMetric and DescribeAlarmHistory."""

from __future__ import annotations

from typing import Any

from kura.metrics import alarm_rule
from kura.services.cloudwatch import alarm_records as records
from kura.services.cloudwatch import alarm_views, shared
from kura.services.common.pagination import paginate
from kura.services.common.timestamps import epoch
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

TYPES = (records.METRIC, records.COMPOSITE)
MAX_SEQ = 0xFFFFFFFF


def _type(res: Resource) -> str:
    return records.COMPOSITE if records.is_composite(res) else records.METRIC


def _actions(res: Resource) -> list[str]:
    keys = ("AlarmActions", "OKActions", "InsufficientDataActions")
    return [a for key in keys for a in res.spec.get(key) or []]


def _related(ctx: Ctx, params: dict[str, Any], alarms: list[Resource]) -> list[Resource] | None:
    """ChildrenOfAlarmName / ParentsOfAlarmName; None when neither is asked."""
    children, parents = params.get("ChildrenOfAlarmName"), params.get("ParentsOfAlarmName")
    if children is None and parents is None:
        return None
    others = ("AlarmNames", "AlarmNamePrefix", "StateValue", "ActionPrefix")
    if (children and parents) or any(params.get(k) for k in others):
        raise shared.combination("ChildrenOfAlarmName and ParentsOfAlarmName cannot be combined with other "
                                 "filters than AlarmTypes.")
    if children:
        parent = next((a for a in alarms if a.id == children and records.is_composite(a)), None)
        wanted = alarm_rule.alarms(alarm_rule.parse(parent.spec["AlarmRule"])) if parent else set()
        return [a for a in alarms if a.id in wanted]
    return [a for a in alarms if records.is_composite(a)
            and parents in alarm_rule.alarms(alarm_rule.parse(a.spec["AlarmRule"]))]


@operation("cloudwatch", "DescribeAlarms")
def describe_alarms(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
    if names and prefix:
        raise shared.combination("AlarmNames and AlarmNamePrefix cannot be combined.")
    types = set(params.get("AlarmTypes") or [records.METRIC])
    alarms = ctx.store.list(records.KIND_ALARM, ctx.region)
    found = _related(ctx, params, alarms)
    if found is None:
        found = [a for a in alarms
                 if (not names or a.id in names) and (not prefix or a.id.startswith(prefix))
                 and (not params.get("StateValue") or a.status.get(records.STATE) == params["StateValue"])
                 and (not params.get("ActionPrefix")
                      or any(x.startswith(params["ActionPrefix"]) for x in _actions(a)))]
    found = [a for a in found if _type(a) in types]
    page, token = paginate(found, lambda a: a.id, params.get("NextToken"), params.get("MaxRecords"),
                           default=50, maximum=100, limit_name="MaxRecords", error_code="InvalidNextToken")
    composite = [a for a in page if records.is_composite(a)]
    out: dict[str, Any] = {
        "MetricAlarms": [alarm_views.metric_alarm(a, ctx.account) for a in page if a not in composite],
        "CompositeAlarms": [alarm_views.composite_alarm(a, ctx.account) for a in composite]}
    if token:
        out["NextToken"] = token
    return out


@operation("cloudwatch", "DescribeAlarmsForMetric")
def describe_alarms_for_metric(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    dims = shared.wire_dimensions(shared.dimensions(params.get("Dimensions"), "Dimensions"))
    out = []
    for res in ctx.store.list(records.KIND_ALARM, ctx.region):
        spec = res.spec
        if records.is_composite(res) or spec.get("Metrics"):
            continue
        if (spec.get("MetricName"), spec.get("Namespace")) != (params["MetricName"], params["Namespace"]):
            continue
        if any(params.get(k) is not None and spec.get(k) != params[k]
               for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")):
            continue
        if params.get("Dimensions") is not None and spec.get("Dimensions") != dims:
            continue
        out.append(alarm_views.metric_alarm(res, ctx.account))
    return {"MetricAlarms": out}


@operation("cloudwatch", "DescribeAlarmHistory")
def describe_alarm_history(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    now = ctx.now()
    start = epoch(params.get("StartDate"), "StartDate") or now - records.HISTORY_DAYS * 86400
    end = epoch(params.get("EndDate"), "EndDate") or now + 1
    types = set(params.get("AlarmTypes") or [records.METRIC])
    name, kind = params.get("AlarmName"), params.get("HistoryItemType")
    items = [h for h in ctx.store.list(records.KIND_HISTORY, ctx.region)
             if (not name or h.spec["AlarmName"] == name) and (not kind or h.spec["HistoryItemType"] == kind)
             and h.spec["AlarmType"] in types and start <= h.spec["Timestamp"] < end]
    ascending = params.get("ScanBy") == "TimestampAscending"

    def key(h: Resource) -> str:
        """Sorts the way the page is read (newest first unless TimestampAscending); the id (which
        orders the items of one instant as they were written) keeps keys unique for NextToken."""
        ts, seq = float(h.spec["Timestamp"]), h.id.rsplit("/", 1)[-1]
        return f"{ts:017.6f}/{seq}" if ascending else f"{1e11 - ts:017.6f}/{MAX_SEQ - int(seq, 16):08x}"

    page, token = paginate(items, key, params.get("NextToken"), params.get("MaxRecords"), default=100,
                           maximum=100, limit_name="MaxRecords", error_code="InvalidNextToken")
    out: dict[str, Any] = {"AlarmHistoryItems": [
        {k: h.spec[k] for k in ("AlarmName", "AlarmType", "Timestamp", "HistoryItemType", "HistorySummary",
                                "HistoryData")} for h in page]}
    if token:
        out["NextToken"] = token
    return out
