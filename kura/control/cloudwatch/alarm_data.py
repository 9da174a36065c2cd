"""The datapoints an alarm is evaluated on, read through `kura.metrics.query.statistics`: one
statistic of one metric, or the returned query of a metric-math alarm (`kura.metrics.expr`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kura.metrics import expr, query
from kura.metrics.alarm_eval import Rule


def rule_of(spec: dict[str, Any]) -> Rule:
    n = int(spec["EvaluationPeriods"])
    return Rule(comparison=spec["ComparisonOperator"], threshold=float(spec["Threshold"]),
                period=int(spec.get("math_period") or spec["Period"]), evaluation_periods=n,
                datapoints_to_alarm=int(spec.get("DatapointsToAlarm") or n),
                treat_missing=spec.get("TreatMissingData") or "missing",
                statistic=spec.get("Statistic") or spec.get("ExtendedStatistic") or "Metrics")


def step_of(period: int) -> int:
    """Evaluation ranges end on multiples of this (the period, at most a minute), as CloudWatch aligns
    them: data of the period still running is not judged."""
    return min(period, 60)


def _dims(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in raw or []}


def _metric(home: Path, region: str, metric: dict[str, Any], stat: str, period: int, unit: str | None,
            start: float, end: float) -> list[tuple[float, float]]:
    return query.statistics(home, str(metric.get("Namespace")), str(metric.get("MetricName")),
                            _dims(metric.get("Dimensions")), start, end, period, stat, unit=unit,
                            region=region)


def datapoints(home: Path, region: str, spec: dict[str, Any], start: float, end: float
               ) -> list[tuple[float, float]]:
    """(period start, value) in [start, end) for the alarm `spec`. Raises expr.MathError when a metric
    math expression cannot be evaluated."""
    if not spec.get("Metrics"):
        stat = spec.get("Statistic") or spec["ExtendedStatistic"]
        return _metric(home, region, spec, stat, int(spec["Period"]), spec.get("Unit"), start, end)
    queries = {q["Id"]: q for q in spec["Metrics"]}
    values: dict[str, expr.Value] = {}

    def resolve(ident: str) -> expr.Value:
        if ident not in values:
            q = queries.get(ident)
            if q is None:
                raise expr.MathError(f"Unknown metric or expression id: {ident}")
            values[ident] = expr.Line(ident, {}, 0, ident)  # a placeholder: a cycle reads as empty
            if q.get("MetricStat"):
                ms = q["MetricStat"]
                found = _metric(home, region, ms["Metric"], ms["Stat"], int(ms["Period"]), ms.get("Unit"),
                                start, end)
                values[ident] = expr.Line(q.get("Label") or ident, {int(t): v for t, v in found},
                                          int(ms["Period"]), ident)
            else:
                values[ident] = expr.evaluate(expr.parse(q["Expression"])[0], context)
        return values[ident]

    def metrics(text: str | None) -> list[expr.Line]:
        return [line for i, q in queries.items() if q.get("MetricStat") and (text is None or text in i)
                for line in [resolve(i)] if isinstance(line, expr.Line)]

    def grid(period: int) -> list[int]:
        first = int(start) // period * period
        return list(range(first, int(end), period))

    context = expr.Context(resolve, metrics, grid)
    returned = next(q for q in spec["Metrics"] if q.get("ReturnData", True))
    result = resolve(returned["Id"])
    if isinstance(result, float):
        return [(float(t), result) for t in grid(int(spec["math_period"]))]
    if isinstance(result, list):
        raise expr.MathError("The alarm's expression must return one time series, not an array")
    return sorted((float(t), v) for t, v in result.points.items() if start <= t < end)
