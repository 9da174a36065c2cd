"""PutMetricAlarm: a single-metric alarm (MetricName, Namespace, Statistic or ExtendedStatistic,
Dimensions, Period) or a metric-math one (Metrics), checked as CloudWatch checks it. A new alarm starts
in INSUFFICIENT_DATA; an update keeps its state. The evaluator (kura/control/cloudwatch) does the rest.
"""

from __future__ import annotations

import re
from typing import Any

from kura.metrics import alarm_eval, expr, stats
from kura.services.cloudwatch import alarm_records as records
from kura.services.cloudwatch import shared
from kura.services.common import tags as tagging
from kura.services.registry import Ctx, operation
from kura.services.sns.records import parse_arn
from kura.store.types import AlreadyExists

MAX_ACTIONS = 5
MAX_QUERIES = 10
MAX_RANGE = 86400  # EvaluationPeriods × Period may not exceed a day
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_NEWER = ("EvaluationInterval", "EvaluationCriteria", "WarmUpConfiguration", "EvaluationWindow",
          "ActionConfiguration")


def check_actions(ctx: Ctx, params: dict[str, Any]) -> None:
    """Alarm actions Kura can run: SNS topics of this account and region."""
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        arns = params.get(key) or []
        if len(arns) > MAX_ACTIONS:
            raise shared.invalid(f"The collection {key} must not have a size greater than {MAX_ACTIONS}.")
        for arn in arns:
            topic = parse_arn(arn) if arn.startswith("arn:aws:sns:") else None
            if topic is None:
                raise shared.invalid(f"kura does not implement the alarm action {arn}: only SNS topics "
                                     "(arn:aws:sns:...) are notified.")
            if topic.region != ctx.region or topic.account != ctx.account:
                raise shared.invalid(f"Invalid region or account in the alarm action {arn}.")


def check_period(period: Any, where: str = "Period") -> int:
    if not isinstance(period, int) or period < 1 or (period not in (10, 30) and period % 60):
        raise shared.invalid(f"The parameter {where} must be 10, 30 or a multiple of 60.")
    return period


def _check_single(params: dict[str, Any]) -> int:
    for name in ("MetricName", "Namespace", "Period"):
        if params.get(name) is None:
            raise shared.validation(f"A metric alarm needs {name} (or Metrics for a metric math alarm).")
    if (params.get("Statistic") is None) == (params.get("ExtendedStatistic") is None):
        raise shared.combination("Exactly one of Statistic and ExtendedStatistic must be specified.")
    if params.get("ExtendedStatistic") is not None and stats.parse(params["ExtendedStatistic"]) is None:
        raise shared.invalid(f"The value {params['ExtendedStatistic']} for parameter ExtendedStatistic is "
                             "not supported.")
    shared.dimensions(params.get("Dimensions"), "Dimensions")
    return check_period(params["Period"])


def _check_queries(queries: list[dict[str, Any]]) -> int:
    """Metric math queries; returns the period of the one that is returned."""
    if not queries or len(queries) > MAX_QUERIES:
        raise shared.validation(f"Metrics must hold 1 to {MAX_QUERIES} queries.")
    returned = [q for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1:
        raise shared.validation("Exactly one element of the Metrics list must have ReturnData set to true.")
    ids = {str(q.get("Id")) for q in queries}
    for q in queries:
        if not _QUERY_ID.match(str(q.get("Id") or "")):
            raise shared.validation(f"Invalid metrics query Id: {q.get('Id')}.")
        if (q.get("MetricStat") is None) == (q.get("Expression") is None):
            raise shared.validation(f"Query {q['Id']} needs exactly one of MetricStat and Expression.")
        if q.get("MetricStat"):
            stat = q["MetricStat"]
            check_period(stat.get("Period"), f"Metrics.{q['Id']}.MetricStat.Period")
            if not stats.valid(str(stat.get("Stat"))):
                raise shared.invalid(f"The statistic {stat.get('Stat')} of query {q['Id']} is not supported.")
            shared.dimensions(stat.get("Metric", {}).get("Dimensions"), f"Metrics.{q['Id']}.Dimensions")
        else:
            try:
                refs = expr.parse(q["Expression"])[1]
            except expr.MathError as exc:
                raise shared.validation(f"Query {q['Id']}: {exc}") from None
            if refs - ids:
                unknown = ", ".join(sorted(refs - ids))
                raise shared.validation(f"Query {q['Id']} refers to unknown ids: {unknown}.")
    top = returned[0]
    periods = [int(q["MetricStat"]["Period"]) for q in queries if q.get("MetricStat")]
    if top.get("MetricStat"):
        return check_period(top["MetricStat"]["Period"])
    period = top.get("Period") or min(periods or [60])
    return check_period(period)


def _check(params: dict[str, Any]) -> int:
    for name in _NEWER:
        if params.get(name):
            raise shared.invalid(f"kura does not implement {name} on alarms.")
    comparison = params["ComparisonOperator"]
    if comparison in alarm_eval.ANOMALY_COMPARISONS or params.get("ThresholdMetricId"):
        raise shared.invalid(f"kura does not implement anomaly detection alarms (ComparisonOperator "
                             f"{comparison}); use a static threshold.")
    if params.get("Threshold") is None:
        raise shared.validation("Threshold is required for a static threshold alarm.")
    if params.get("Metrics"):
        single = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit")
        if any(params.get(name) is not None for name in single):
            raise shared.combination("Metrics cannot be combined with MetricName, Namespace, Statistic, "
                                     "ExtendedStatistic, Dimensions, Period or Unit.")
        period = _check_queries(params["Metrics"])
    else:
        period = _check_single(params)
    n = int(params["EvaluationPeriods"])
    m = int(params.get("DatapointsToAlarm") or n)
    if n < 1 or n * period > MAX_RANGE:
        raise shared.validation(f"EvaluationPeriods × Period must be at most {MAX_RANGE} seconds (one day).")
    if not 1 <= m <= n:
        raise shared.validation("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
    treat = params.get("TreatMissingData", "missing")
    if treat not in alarm_eval.MISSING_TREATMENTS:
        raise shared.validation("TreatMissingData must be one of "
                                f"{', '.join(alarm_eval.MISSING_TREATMENTS)}.")
    return period


def save(ctx: Ctx, name: str, spec: dict[str, Any], alarm_type: str) -> None:
    """Create or overwrite an alarm (an update keeps its state) and record the change in its history."""
    now = ctx.now()
    spec = {**spec, "type": alarm_type, "updated": now}
    with ctx.store.transaction():
        existing = ctx.store.get(records.KIND_ALARM, ctx.region, name)
        if existing is not None and existing.spec.get("type") != alarm_type:
            raise shared.invalid(f"The alarm {name} exists and is not a {alarm_type}.")
        if existing is None:
            try:
                ctx.store.create(records.KIND_ALARM, ctx.region, name, spec, records.initial_status(now))
            except AlreadyExists:
                raise shared.invalid(f"The alarm {name} was created at the same time.") from None
        else:
            tags = {**existing.spec.get("Tags", {}), **spec["Tags"]}
            ctx.store.update(existing, spec={**spec, "Tags": tags})
        verb, kind = ("created", "Create") if existing is None else ("updated", "Update")
        records.add_history(ctx.store, ctx.region, name, alarm_type, "ConfigurationUpdate",
                            f'Alarm "{name}" {verb}', {"version": "1.0", "type": kind}, now)


@operation("cloudwatch", "PutMetricAlarm")
def put_metric_alarm(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    period = _check(params)
    check_actions(ctx, params)
    spec = {k: v for k, v in params.items() if k not in ("Tags", *_NEWER)}
    spec["Period"] = period if params.get("Metrics") is None else None
    spec["math_period"] = period
    spec["Dimensions"] = shared.wire_dimensions(shared.dimensions(params.get("Dimensions"), "Dimensions"))
    spec.setdefault("ActionsEnabled", True)
    spec["DatapointsToAlarm"] = params.get("DatapointsToAlarm") or params["EvaluationPeriods"]
    spec["Tags"] = tagging.normalize(params.get("Tags"), "InvalidParameterValue")
    save(ctx, params["AlarmName"], spec, records.METRIC)
    return {}
