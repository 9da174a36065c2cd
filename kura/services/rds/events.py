"""DescribeEvents and DescribeEventCategories over the store's event log.

Both planes write RDS events with `ctx.store.add_event` / `shared.record`: the API side what was
asked for, the control plane what it did.
"""

from __future__ import annotations

from typing import Any

from kura.services.common.pagination import rds_page
from kura.services.common.timestamps import epoch
from kura.services.rds import errors, shared
from kura.services.rds.records import SOURCE_CLUSTER, SOURCE_INSTANCE, SOURCE_PARAMETER_GROUP, SOURCE_SNAPSHOT
from kura.services.registry import Ctx, operation
from kura.store.types import Event

MAX_AGE = 14 * 86400  # RDS keeps events for 14 days
DEFAULT_WINDOW = 3600  # without a time range, the past hour
CATEGORIES: dict[str, tuple[str, ...]] = {
    SOURCE_INSTANCE: ("availability", "backup", "configuration change", "creation", "deletion", "failover",
                      "failure", "low storage", "maintenance", "notification", "read replica", "recovery",
                      "restoration", "security", "security patching"),
    SOURCE_PARAMETER_GROUP: ("configuration change",),
    SOURCE_SNAPSHOT: ("creation", "deletion", "failure", "notification", "restoration"),
    SOURCE_CLUSTER: ("configuration change", "creation", "deletion", "failover", "failure", "global-failover",
                     "maintenance", "notification", "serverless"),
}


def _window(ctx: Ctx, params: dict[str, Any]) -> tuple[float, float]:
    now = ctx.now()
    start, end = epoch(params.get("StartTime"), "StartTime"), epoch(params.get("EndTime"), "EndTime")
    duration = params.get("Duration")
    if duration is not None and duration < 0:
        raise errors.invalid(f"Invalid Duration: {duration}")
    if start is None and end is None:
        start = now - (duration * 60 if duration is not None else DEFAULT_WINDOW)
    elif start is None:
        assert end is not None
        start = end - (duration * 60 if duration is not None else DEFAULT_WINDOW)
    if end is None:
        end = min(now, start + duration * 60) if duration is not None else now
    if end < start:
        raise errors.invalid("EndTime must be after StartTime.")
    return max(start, now - MAX_AGE), end


def view(ev: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"SourceIdentifier": ev.source_id, "SourceType": ev.source_type,
                           "Message": ev.message, "EventCategories": list(ev.categories), "Date": ev.time}
    if ev.extra.get("arn"):
        out["SourceArn"] = ev.extra["arn"]
    return out


def _source_id(ctx: Ctx, source_type: str | None, ident: str | None) -> str | None:
    if ident is None:
        return None
    if source_type is None:
        raise errors.combination("SourceIdentifier needs a SourceType.")
    if ident.startswith("arn:"):
        parsed = shared.parse_arn(ctx, ident)
        return parsed[1].lower() if parsed else ident
    return ident.lower()


@operation("rds", "DescribeEvents")
def describe_events(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
    source_type = params.get("SourceType")
    source_id = _source_id(ctx, source_type, params.get("SourceIdentifier"))
    start, end = _window(ctx, params)
    found = ctx.store.events(ctx.region, since=start, until=end, source_type=source_type, source_id=source_id)
    wanted = set(params.get("EventCategories") or [])
    if wanted:
        found = [e for e in found if wanted & set(e.categories)]
    page, marker = rds_page(found, lambda e: f"{e.seq:016d}", params)
    return shared.with_marker({"Events": [view(e) for e in page]}, marker)


@operation("rds", "DescribeEventCategories")
def describe_event_categories(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
    source_type = params.get("SourceType")
    if source_type is not None and source_type not in CATEGORIES:
        raise errors.invalid(f"Invalid source type: {source_type}. kura records events of "
                             f"{', '.join(CATEGORIES)}.")
    types = [source_type] if source_type else list(CATEGORIES)
    maps = [{"SourceType": t, "EventCategories": list(CATEGORIES[t])} for t in types]
    return {"EventCategoriesMapList": maps}
