"""GetResourceMetrics: DB load over time, overall and by the top keys of a dimension group.

Each MetricQuery answers its whole series first (Key without Dimensions, filtered by its Filter) and
then, with a GroupBy, one series per top key (the GroupBy Limit, 10 by default, with the most load over
the range) — the layout of the Performance Insights dashboard's stacked load chart.
"""

from __future__ import annotations

from typing import Any

from kura.metrics import pi_query, pi_store
from kura.services.pi import dimensions, resources
from kura.services.pi.dimensions import invalid
from kura.services.registry import Ctx, operation

METRICS = {
    "db.load": "The number of active sessions for the DB engine: average active sessions.",
    "db.sampledload": "The number of active sessions sampled: Kura samples every active session, so it "
                      "equals db.load.",
}


def metric(name: str) -> tuple[str, str]:
    """'db.load.avg' → ('db.load', 'avg'), refusing what Kura does not collect."""
    base, _, statistic = name.rpartition(".")
    if base not in METRICS:
        if name in METRICS or not base:
            raise invalid(f"The metric {name} needs a statistic: append .avg, .min, .max or .sum.")
        raise invalid(f"The specified metric is not a known metric: kura collects {', '.join(METRICS)} "
                      f"(not {base}).")
    if statistic not in pi_query.STATISTICS:
        raise invalid(f"The specified statistic is not a known statistic: {statistic} (use avg, min, max "
                      "or sum).")
    return base, statistic


def _points(w: resources.Window, load: pi_query.Load, key: pi_query.Key, statistic: str,
            alignment: str | None) -> list[dict[str, Any]]:
    return [{"Timestamp": resources.timestamp(w, b, alignment), "Value": round(v, 6)}
            for b, v in load.points(key, statistic)]


def _query(ctx: Ctx, src: resources.Source, w: resources.Window, query: dict[str, Any],
           alignment: str | None) -> list[dict[str, Any]]:
    name = str(query["Metric"])
    _, statistic = metric(name)
    store = pi_store.for_home(ctx.env.settings.home)
    where = dimensions.where(store, src.name, query.get("Filter"))
    whole = pi_query.load(store, src.name, w.start, w.end, w.period, (), where)
    out = [{"Key": {"Metric": name}, "DataPoints": _points(w, whole, (), statistic, alignment)}]
    asked = dimensions.group(query.get("GroupBy"))
    if asked is None:
        return out
    g, shown, limit = asked
    ranked = [k for k, _ in pi_query.top(store, src.name, w.start, w.end, g.columns, where, limit)]
    split = pi_query.load(store, src.name, w.start, w.end, w.period, g.columns, where, ranked)
    describe = dimensions.describer(store, src.name, g, ranked)
    for key in ranked:
        out.append({"Key": {"Metric": name, "Dimensions": dimensions.pick(describe(key), shown)},
                    "DataPoints": _points(w, split, key, statistic, alignment)})
    return out


@operation("pi", "GetResourceMetrics")
def get_resource_metrics(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    src = resources.source(ctx, params)
    w = resources.window(ctx, src, params)
    queries = list(params["MetricQueries"])
    if not 1 <= len(queries) <= 15:
        raise invalid("MetricQueries takes from 1 to 15 queries.")
    for query in queries:
        metric(str(query["Metric"]))  # every query checked before any is answered
    alignment = params.get("PeriodAlignment")
    found = [series for query in queries for series in _query(ctx, src, w, query, alignment)]
    page, token = resources.page(found, params)
    out: dict[str, Any] = {"AlignedStartTime": w.start, "AlignedEndTime": w.end, "Identifier": src.identifier,
                           "MetricList": page}
    if token:
        out["NextToken"] = token
    return out
