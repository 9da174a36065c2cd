"""Log events: PutLogEvents, GetLogEvents (forward and backward tokens) and FilterLogEvents.

Positions are (timestamp, seq) pairs: GetLogEvents' tokens name the last (forward) or first (backward)
event a page returned, and a page that finds nothing hands back the token it was given, which is how
clients (and the SDKs' tail loops) know they are at the end. FilterLogEvents scans at most
SCAN_BUDGET events per call: a page may come back short, or empty, with a nextToken, as on AWS.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from kura.metrics.logstore import DAY_MS, EVENT_OVERHEAD, Event, Group, Position
from kura.services.logs import patterns, shared
from kura.services.logs.shared import SERVICE
from kura.services.registry import Ctx, operation

MAX_BATCH_BYTES = 1_048_576
MAX_PAGE_BYTES = 1_048_576
MAX_EVENTS = 10_000
TOO_NEW_MS = 2 * 3600 * 1000
TOO_OLD_MS = 14 * DAY_MS
SPAN_MS = DAY_MS
SCAN_BUDGET = 100_000
_CHUNK = 2_000
_TOKEN = re.compile(r"^([fb])/(\d{19})(\d{19})/s$")


def cutoff(ctx: Ctx, grp: Group) -> int:
    """The oldest timestamp the group's retention still keeps (0 without retention)."""
    return 0 if grp.retention is None else shared.now_ms(ctx) - grp.retention * DAY_MS


@operation(SERVICE, "PutLogEvents")
def put_log_events(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, params)
    stream = shared.stream(ctx, grp, params["logStreamName"])
    events = [(int(e["timestamp"]), str(e["message"])) for e in params["logEvents"]]
    if any(b[0] < a[0] for a, b in itertools.pairwise(events)):
        raise shared.invalid("Log events in a single PutLogEvents request must be in chronological order.")
    if sum(len(m.encode()) + EVENT_OVERHEAD for _, m in events) > MAX_BATCH_BYTES:
        raise shared.invalid(f"Upload too large: the batch is over {MAX_BATCH_BYTES} bytes.")
    now = shared.now_ms(ctx)
    oldest, expired_before = now - TOO_OLD_MS, cutoff(ctx, grp)
    rejected: dict[str, int] = {}
    kept: list[tuple[int, str]] = []
    for index, (ts, message) in enumerate(events):
        if ts > now + TOO_NEW_MS:
            rejected.setdefault("tooNewLogEventStartIndex", index)
        elif ts < oldest:
            rejected["tooOldLogEventEndIndex"] = index
        elif ts < expired_before:
            rejected["expiredLogEventEndIndex"] = index
        else:
            kept.append((ts, message))
    if kept and kept[-1][0] - kept[0][0] > SPAN_MS:
        raise shared.invalid("The batch of log events in a single PutLogEvents request cannot span more "
                             "than 24 hours.")
    shared.store(ctx).put(grp.id, stream.id, kept, now)
    out: dict[str, Any] = {"nextSequenceToken": f"{now:056d}"}
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


def _token(direction: str, pos: Position) -> str:
    return f"{direction}/{max(0, pos[0]):019d}{max(0, pos[1]):019d}/s"


def _parse(token: str) -> tuple[str, Position]:
    match = _TOKEN.match(token)
    if match is None:
        raise shared.invalid("The specified nextToken is invalid.")
    return match.group(1), (int(match.group(2)), int(match.group(3)))


def _fit(events: list[Event]) -> list[Event]:
    """As many events as fit in one response (1 MB, counting CloudWatch's 26 bytes each)."""
    total = 0
    for index, event in enumerate(events):
        total += len(event.message.encode()) + EVENT_OVERHEAD
        if total > MAX_PAGE_BYTES:
            return events[:index]
    return events


@operation(SERVICE, "GetLogEvents")
def get_log_events(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, params)
    stream = shared.stream(ctx, grp, params["logStreamName"])
    start = max(int(params.get("startTime") or 0), cutoff(ctx, grp))
    end = params.get("endTime")
    limit = int(params.get("limit") or MAX_EVENTS)
    token = params.get("nextToken")
    direction, pos = _parse(token) if token else ("f" if params.get("startFromHead") else "b", None)
    forth = direction == "f"
    found = shared.store(ctx).events(group=grp.id, streams=[stream.id], start=start, end=end, limit=limit,
                                     after=pos if forth else None, before=None if forth else pos,
                                     descending=not forth)
    events = _fit(found) if forth else list(reversed(_fit(found)))
    if events:
        forward, backward = events[-1].position, events[0].position
    elif pos is not None:  # nothing further that way: the same token back
        forward = pos if direction == "f" else (pos[0], pos[1] - 1)
        backward = pos if direction == "b" else (pos[0], pos[1] + 1)
    else:
        forward, backward = (start, 0), (start, 0)
    return {"events": [{"timestamp": e.ts, "message": e.message, "ingestionTime": e.ingest} for e in events],
            "nextForwardToken": _token("f", forward), "nextBackwardToken": _token("b", backward)}


def _streams(ctx: Ctx, grp: Group, params: dict[str, Any]) -> tuple[list[int] | None, dict[int, str]]:
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise shared.invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
    all_streams = shared.store(ctx).streams(grp.id)
    by_id = {s.id: s.name for s in all_streams}
    if names:
        wanted = set(names)
        return [s.id for s in all_streams if s.name in wanted], by_id
    if prefix:
        return [s.id for s in all_streams if s.name.startswith(prefix)], by_id
    return None, by_id


def _event_id(event: Event) -> str:
    return f"{event.ts:019d}{event.seq:019d}"


@operation(SERVICE, "FilterLogEvents")
def filter_log_events(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, params)
    try:
        matches = patterns.compile_pattern(params.get("filterPattern"))
    except patterns.PatternError as exc:
        raise shared.invalid(f"Invalid filter pattern: {exc}") from exc
    streams, names = _streams(ctx, grp, params)
    start = max(int(params.get("startTime") or 0), cutoff(ctx, grp))
    end = int(params["endTime"]) + 1 if params.get("endTime") is not None else None  # inclusive
    limit = int(params.get("limit") or MAX_EVENTS)
    pos: Position | None = None
    descending = params.get("startFromHead") is False
    if params.get("nextToken"):
        token = shared.decode(params["nextToken"], "filter")
        pos, descending = (int(token["t"]), int(token["s"])), bool(token["d"])
    found: list[Event] = []
    scanned, exhausted = 0, False
    while len(found) < limit and scanned < SCAN_BUDGET:
        after, before = (None, pos) if descending else (pos, None)
        chunk = shared.store(ctx).events(group=grp.id, streams=streams, start=start, end=end, after=after,
                                         before=before, limit=_CHUNK, descending=descending)
        for event in chunk:
            pos = event.position
            scanned += 1
            if matches(event.message):
                found.append(event)
                if len(found) == limit:
                    break
        if len(chunk) < _CHUNK and (not chunk or pos == chunk[-1].position):
            exhausted = True
            break
    page = _fit(found)
    if len(page) < len(found):
        pos, exhausted = (page[-1].position if page else pos), False
    out: dict[str, Any] = {
        "events": [{"logStreamName": names.get(e.stream, ""), "timestamp": e.ts, "message": e.message,
                    "ingestionTime": e.ingest, "eventId": _event_id(e)} for e in page],
        "searchedLogStreams": [],  # no longer reported by CloudWatch Logs
    }
    if not exhausted and pos is not None:
        out["nextToken"] = shared.encode({"k": "filter", "t": pos[0], "s": pos[1], "d": descending})
    return out
