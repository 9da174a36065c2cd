"""DescribeEvents over the store's event log (ElastiCache's sources only; RDS shares the log).

Both planes write ElastiCache events: the API side what was asked for (shared.record), the control plane
what it did. ElastiCache keeps events for 14 days; without a time range it shows the past hour.
"""

from __future__ import annotations

from typing import Any

from kura.services.common.pagination import rds_page
from kura.services.common.timestamps import epoch
from kura.services.elasticache import errors, shared
from kura.services.elasticache.records import (
    SOURCE_CLUSTER,
    SOURCE_PARAMETER_GROUP,
    SOURCE_REPLICATION_GROUP,
    SOURCE_SNAPSHOT,
    SOURCE_SUBNET_GROUP,
)
from kura.services.registry import Ctx, operation
from kura.store.types import Event

MAX_AGE = 14 * 86400
MAX_DURATION = 14 * 1440  # minutes
DEFAULT_WINDOW = 3600
SOURCE_TYPES = (SOURCE_CLUSTER, SOURCE_REPLICATION_GROUP, SOURCE_PARAMETER_GROUP, SOURCE_SUBNET_GROUP,
                SOURCE_SNAPSHOT)


def window(now: float, params: dict[str, Any]) -> tuple[float, float]:
    """(start, end) from StartTime, EndTime and Duration (minutes), as ElastiCache reads them."""
    start, end = epoch(params.get("StartTime"), "StartTime"), epoch(params.get("EndTime"), "EndTime")
    duration = params.get("Duration")
    if duration is not None and not 0 <= duration <= MAX_DURATION:
        raise errors.invalid(f"Invalid Duration {duration}: must be between 0 and {MAX_DURATION} minutes.")
    span = duration * 60 if duration is not None else DEFAULT_WINDOW
    if start is None:
        start = (end if end is not None else now) - span
    if end is None:
        end = min(now, start + duration * 60) if duration is not None else now
    if end < start:
        raise errors.invalid("EndTime must be after StartTime.")
    return max(start, now - MAX_AGE), end


def view(ev: Event) -> dict[str, Any]:
    return {"SourceIdentifier": ev.source_id, "SourceType": ev.source_type, "Message": ev.message,
            "Date": ev.time}


def _source_id(ctx: Ctx, ident: str | None) -> str | None:
    if ident is None:
        return None
    if ident.startswith("arn:"):
        parsed = shared.parse_arn(ctx, ident)
        return parsed[1].lower() if parsed else ident
    return ident.lower()


@operation("elasticache", "DescribeEvents")
def describe_events(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    source_type = params.get("SourceType")
    if source_type is not None and source_type not in SOURCE_TYPES:
        raise errors.invalid(f"Invalid SourceType {source_type}: kura records events of "
                             f"{', '.join(SOURCE_TYPES)}.")
    source_id = _source_id(ctx, params.get("SourceIdentifier"))
    start, end = window(ctx.now(), params)
    found = ctx.store.events(ctx.region, since=start, until=end, source_type=source_type, source_id=source_id)
    found = [e for e in found if e.source_type in SOURCE_TYPES]
    page, marker = rds_page(found, lambda e: f"{e.seq:016d}", params)
    return shared.with_marker({"Events": [view(e) for e in page]}, marker)
