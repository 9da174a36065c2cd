"""The maintenance window: what a Modify call deferred (PendingModifiedValues, without ApplyImmediately)
is applied when the resource's PreferredMaintenanceWindow comes round, as RDS and ElastiCache do.

This is the one place the control plane writes a resource's spec: it carries out the user's own
earlier request at the time the user chose, so the values move into the desired state and the
reconciler applies them like any other change.
"""

from __future__ import annotations

import datetime as dt

from kura.env import Env
from kura.store.types import Event, Resource, VersionConflict

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 24 * 60


def _minute_of_week(part: str) -> int:
    day, hour, minute = part.lower().split(":")
    return DAYS.index(day) * 24 * 60 + int(hour) * 60 + int(minute)


def in_window(window: str, now: float) -> bool:
    """Whether `now` (epoch, UTC as RDS windows are) lies in a `ddd:hh24:mi-ddd:hh24:mi` window."""
    try:
        start, end = (_minute_of_week(p) for p in window.split("-"))
    except ValueError:
        return False
    at = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    minute = at.weekday() * 24 * 60 + at.hour * 60 + at.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end  # the window wraps round the end of the week


def apply_due(env: Env, res: Resource, source_type: str) -> Resource | None:
    """Move due pending modifications into the spec; the updated resource, or None if none were due.
    `source_type` names the resource in the event (DescribeEvents' SourceType)."""
    pending = res.spec.get("PendingModifiedValues") or {}
    window = res.spec.get("PreferredMaintenanceWindow")
    if not pending or not window or res.spec.get("desired") == "deleted":
        return None
    if not in_window(str(window), env.clock.now()):
        return None
    spec = {**res.spec, **pending, "PendingModifiedValues": {}}
    try:
        updated = env.store.update(res, spec=spec)
    except VersionConflict:
        return None  # the API changed it meanwhile: the next pass decides again
    changes = ", ".join(f"{k}={v}" for k, v in sorted(pending.items()))
    env.store.add_event(Event(res.region, source_type, res.id,
                              f"Applying modifications in the maintenance window: {changes}",
                              ("maintenance",)))
    return updated
