"""GetMetricData: MetricStat queries and metric math expressions over them (kura.metrics.expr).

Each query with ReturnData (the default) answers a result: a series; an array (METRICS(), [a, b])
answers one result per series under the same Id; a number answers itself at every timestamp of the
request's series. Datapoints come newest first (ScanBy TimestampDescending, the default) or oldest
first, at most MaxDatapoints a page (default 100,800): the rest is behind NextToken and the results it
cut say PartialData. Labels: the query's Label (with the dynamic ${PROP('…')}, ${AVG}, ${MIN}, ${MAX},
${SUM}, ${FIRST}, ${LAST} forms), else the metric's name or the expression's Id. Metrics Insights
(SELECT …) and SEARCH are not implemented and say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kura.api.errors import AwsError
from kura.metrics import expr, query, stats
from kura.services.cloudwatch import shared
from kura.services.cloudwatch.statistics import check_period, check_range
from kura.services.common.pagination import decode_token, encode_token
from kura.services.registry import Ctx, operation

MAX_QUERIES = 500
DEFAULT_MAX_POINTS = 100_800
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_LABEL = re.compile(r"\$\{(PROP\('([^']*)'\)|AVG|MIN|MAX|SUM|FIRST|LAST)\}")


@dataclass
class _Query:
    id: str
    raw: dict[str, Any]
    where: str
    tree: expr.Node | None = None


class _Request:
    def __init__(self, ctx: Ctx, queries: list[_Query], start: float, end: float) -> None:
        self.ctx, self.start, self.end = ctx, start, end
        self.by_id = {q.id: q for q in queries}
        self.values: dict[str, expr.Value] = {}
        self.busy: set[str] = set()
        self.stat_ids = [q.id for q in queries if q.tree is None]

    def value(self, ident: str) -> expr.Value:
        if ident in self.values:
            return self.values[ident]
        q = self.by_id.get(ident)
        if q is None:
            raise expr.MathError(f"Unknown metric or expression id: {ident}")
        if ident in self.busy:
            raise expr.MathError(f"The expressions refer to each other in a cycle through {ident}")
        self.busy.add(ident)
        try:
            found = self._stat(q) if q.tree is None else expr.evaluate(q.tree, expr.Context(
                self.value, self._metrics, self._grid))
        finally:
            self.busy.discard(ident)
        self.values[ident] = found
        return found

    def _stat(self, q: _Query) -> expr.Line:
        stat = q.raw["MetricStat"]
        metric = stat["Metric"]
        dims = shared.dimensions(metric.get("Dimensions"), f"{q.where}.MetricStat.Metric.Dimensions")
        ident = query.MetricId(str(metric.get("Namespace") or ""), str(metric.get("MetricName") or ""), dims,
                               self.ctx.region)
        name = str(stat["Stat"])
        found, _ = query.buckets(shared.store(self.ctx), ident, self.start, self.end, int(stat["Period"]),
                                 unit=stat.get("Unit"), extended=name not in stats.BASIC)
        points = {ts: v for ts, agg in found if (v := stats.value(agg, name)) is not None}
        return expr.Line(ident.name, points, int(stat["Period"]), q.id)

    def _metrics(self, text: str | None) -> list[expr.Line]:
        out = []
        for ident in self.stat_ids:
            if text is None or text in ident:
                found = self.value(ident)
                assert isinstance(found, expr.Line)
                out.append(found)
        return out

    def _grid(self, period: int) -> list[int]:
        first = query.aligned_start(self.start, period, self.ctx.now())
        return list(range(first, int(self.end), period))

    def stamps(self) -> list[int]:
        seen: set[int] = set()
        for ident in self.stat_ids:
            found = self.value(ident)
            if isinstance(found, expr.Line):
                seen.update(found.points)
        return sorted(seen)


def _check(queries: list[dict[str, Any]]) -> list[_Query]:
    if not queries:
        raise shared.missing("The parameter MetricDataQueries is required.")
    if len(queries) > MAX_QUERIES:
        raise shared.validation("The collection MetricDataQueries must not have a size greater than "
                                f"{MAX_QUERIES}.")
    out: list[_Query] = []
    for i, raw in enumerate(queries, 1):
        where = f"MetricDataQueries.member.{i}"
        ident = str(raw.get("Id") or "")
        if not _ID.match(ident):
            raise shared.validation(f"The value {ident} for parameter {where}.Id is not valid: it must start "
                                    "with a lowercase letter and hold only letters, digits and underscores.")
        if any(q.id == ident for q in out):
            raise shared.validation("The values for parameter Id in MetricDataQueries are not unique.")
        has_stat, text = raw.get("MetricStat") is not None, raw.get("Expression")
        if has_stat == (text is not None):
            raise shared.validation(f"The parameters {where}.MetricStat and {where}.Expression are mutually "
                                    "exclusive and one of them must be specified.")
        q = _Query(ident, raw, where)
        if has_stat:
            _check_stat(raw["MetricStat"], where)
        else:
            q.tree = _parse(str(text), where)
        out.append(q)
    if not any(q.raw.get("ReturnData", True) for q in out):
        raise shared.validation("At least one of the MetricDataQueries must have ReturnData set to true.")
    return out


def _check_stat(stat: dict[str, Any], where: str) -> None:
    try:
        check_period(int(stat["Period"]), f"{where}.MetricStat.Period")
    except AwsError as err:
        raise shared.validation(err.message) from None
    if not stats.valid(str(stat["Stat"])):
        raise shared.validation(f"The value for parameter {where}.MetricStat.Stat is not a valid statistic.")


def _parse(text: str, where: str) -> expr.Node:
    if text.lstrip().upper().startswith("SELECT") or "SEARCH(" in text.upper():
        raise shared.validation(f"{where}.Expression: kura does not implement Metrics Insights queries or "
                                "SEARCH expressions.")
    try:
        return expr.parse(text)[0]
    except expr.MathError as exc:
        raise shared.validation(f"Error in expression {where}.Expression: {exc}") from None


def _label(q: _Query, line: expr.Line, default: str) -> str:
    template = q.raw.get("Label")
    if not template:
        return default
    values = list(line.points.values())
    stat = q.raw.get("MetricStat") or {}
    metric = stat.get("Metric") or {}
    props = {"MetricName": metric.get("MetricName", ""), "Namespace": metric.get("Namespace", ""),
             "Period": str(stat.get("Period", line.period)), "Stat": stat.get("Stat", ""), "Id": q.id}
    props.update({f"Dim.{d['Name']}": d["Value"] for d in metric.get("Dimensions") or []})
    def reduce(name: str) -> float:
        if name == "AVG":
            return sum(values) / len(values)
        if name in ("FIRST", "LAST"):
            return line.points[min(line.points) if name == "FIRST" else max(line.points)]
        if name == "SUM":
            return sum(values)
        return min(values) if name == "MIN" else max(values)

    def sub(m: re.Match[str]) -> str:
        if m.group(2) is not None:
            return str(props.get(m.group(2), ""))
        return f"{reduce(m.group(1)):g}" if values else ""

    return _LABEL.sub(sub, str(template))


def _results(request: _Request, queries: list[_Query]) -> list[dict[str, Any]]:
    out = []
    for q in queries:
        if not q.raw.get("ReturnData", True):
            continue
        try:
            value = request.value(q.id)
        except expr.MathError as exc:
            message = {"Code": "ArithmeticError", "Value": str(exc)}
            out.append({"Id": q.id, "Label": q.raw.get("Label") or q.id, "Timestamps": [], "Values": [],
                        "StatusCode": "Complete", "Messages": [message]})
            continue
        if isinstance(value, float):
            value = expr.Line(q.id, dict.fromkeys(request.stamps(), value), 0, q.id)
        lines = value if isinstance(value, list) else [value]
        for line in lines:
            default = line.label if q.tree is None or isinstance(value, list) else q.id
            out.append({"Id": q.id, "Label": _label(q, line, default), "points": sorted(line.points.items()),
                        "StatusCode": "Complete"})
    return out


def _page(results: list[dict[str, Any]], descending: bool, offset: int,
          limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Cut the flattened datapoints [offset, offset + limit) out of the results."""
    seen, out = 0, []
    for result in results:
        points = result.pop("points", None)
        if points is None:
            out.append(result)
            continue
        if descending:
            points.reverse()
        lo, hi = max(0, offset - seen), max(0, offset + limit - seen)
        taken = points[lo:hi]
        seen += len(points)
        if hi < len(points):
            result["StatusCode"] = "PartialData"
        result["Timestamps"] = [float(t) for t, _ in taken]
        result["Values"] = [v for _, v in taken]
        out.append(result)
    return out, encode_token(str(offset + limit)) if seen > offset + limit else None


@operation("cloudwatch", "GetMetricData")
def get_metric_data(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    start, end = shared.time_of(params, "StartTime"), shared.time_of(params, "EndTime")
    try:
        check_range(start, end)
    except AwsError as err:
        raise shared.validation(err.message) from None
    queries = _check(list(params.get("MetricDataQueries") or []))
    limit = int(params.get("MaxDatapoints") or DEFAULT_MAX_POINTS)
    token = params.get("NextToken")
    offset = 0
    if token:
        raw = decode_token(str(token), "InvalidNextToken")
        if not raw.isdigit():
            raise AwsError("InvalidNextToken", f"Invalid pagination token: {token}")
        offset = int(raw)
    request = _Request(ctx, queries, start, end)
    results = _results(request, queries)
    page, following = _page(results, params.get("ScanBy", "TimestampDescending") != "TimestampAscending",
                            offset, limit)
    out: dict[str, Any] = {"MetricDataResults": page, "Messages": []}
    if following:
        out["NextToken"] = following
    return out
