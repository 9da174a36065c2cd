"""DescribeDimensionKeys (the top SQL, waits, users… of a time range) and GetDimensionKeyDetails (a
statement's full text).

A key's Total is its average load over the range (session-seconds over sampled seconds); with a
PartitionBy, PartitionKeys lists the top keys of that second group and each key's Partitions its load
in each of them, in that order.
"""

from __future__ import annotations

from typing import Any

from kura.metrics import pi_query, pi_store
from kura.services.pi import dimensions, resources
from kura.services.pi.dimensions import invalid
from kura.services.registry import Ctx, operation

LOAD_METRICS = ("db.load.avg", "db.sampledload.avg")
DETAIL_GROUPS = {"db.sql": ("sql", "db.sql.statement"),
                 "db.sql_tokenized": ("tokenized", "db.sql_tokenized.statement")}


def _ranked(totals: dict[pi_query.Key, float], limit: int) -> list[pi_query.Key]:
    return sorted(totals, key=lambda k: (-totals[k], k))[:limit]


@operation("pi", "DescribeDimensionKeys")
def describe_dimension_keys(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    src = resources.source(ctx, params)
    if params["Metric"] not in LOAD_METRICS:
        raise invalid(f"The specified metric is not a known metric: {params['Metric']} (use "
                      f"{' or '.join(LOAD_METRICS)}).")
    if params.get("AdditionalMetrics"):
        raise invalid("kura does not collect per-SQL statistics (AdditionalMetrics "
                      f"{', '.join(params['AdditionalMetrics'])}).")
    w = resources.window(ctx, src, params)
    asked = dimensions.group(params["GroupBy"])
    assert asked is not None
    g, shown, limit = asked
    parted = dimensions.group(params.get("PartitionBy"))
    store = pi_store.for_home(ctx.env.settings.home)
    where = dimensions.where(store, src.name, params.get("Filter"))
    columns = g.columns + (parted[0].columns if parted else ())
    rows = pi_query.top(store, src.name, w.start, w.end, columns, where, 1 << 30)
    width = len(g.columns)
    totals: dict[pi_query.Key, float] = {}
    parts: dict[pi_query.Key, float] = {}
    for key, seconds in rows:
        totals[key[:width]] = totals.get(key[:width], 0.0) + seconds
        parts[key[width:]] = parts.get(key[width:], 0.0) + seconds
    covered = pi_query.seconds_covered(store, src.name, w.start, w.end) or 1
    keys = _ranked(totals, limit)
    describe = dimensions.describer(store, src.name, g, keys)
    out: dict[str, Any] = {"AlignedStartTime": w.start, "AlignedEndTime": w.end}
    found = [{"Dimensions": dimensions.pick(describe(k), shown), "Total": round(totals[k] / covered, 6)}
             for k in keys]
    if parted is not None:
        pg, pshown, plimit = parted
        pkeys = _ranked(parts, plimit)
        pdescribe = dimensions.describer(store, src.name, pg, pkeys)
        out["PartitionKeys"] = [{"Dimensions": dimensions.pick(pdescribe(p), pshown)} for p in pkeys]
        per = {key: seconds for key, seconds in rows}
        for item, k in zip(found, keys, strict=True):
            item["Partitions"] = [round(per.get(k + p, 0.0) / covered, 6) for p in pkeys]
    out["Keys"], token = resources.page(found, params)
    if token:
        out["NextToken"] = token
    return out


@operation("pi", "GetDimensionKeyDetails")
def get_dimension_key_details(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    src = resources.source(ctx, params)
    group = str(params["Group"])
    if group not in DETAIL_GROUPS:
        raise invalid(f"The group {group} has no details in kura: use db.sql (or db.sql_tokenized).")
    kind, dimension = DETAIL_GROUPS[group]
    asked = [str(d) for d in params.get("RequestedDimensions") or [dimension]]
    bad = [d for d in asked if d not in (dimension, "statement")]
    if bad:
        raise invalid(f"The requested dimensions {', '.join(bad)} are not details of group {group}: ask for "
                      f"{dimension}.")
    ident = str(params["GroupIdentifier"])
    found = pi_store.for_home(ctx.env.settings.home).statements(src.name, kind, [ident]).get(ident)
    if found is None:
        return {"Dimensions": [{"Dimension": dimension, "Status": "UNAVAILABLE"}]}
    return {"Dimensions": [{"Dimension": dimension, "Value": found.text, "Status": "AVAILABLE"}]}
