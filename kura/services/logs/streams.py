"""Log streams: create, describe (by name or by last event time, either way round), delete."""

from __future__ import annotations

from typing import Any

from kura.metrics import logstore
from kura.metrics.logstore import Stream
from kura.services.logs import shared
from kura.services.logs.shared import SERVICE
from kura.services.registry import Ctx, operation


def view(ctx: Ctx, group: str, stream: Stream) -> dict[str, Any]:
    out: dict[str, Any] = {"logStreamName": stream.name, "creationTime": stream.created,
                           "arn": shared.stream_arn(ctx, group, stream.name),
                           "storedBytes": 0}  # no longer reported per stream by CloudWatch Logs
    if stream.first_ts is not None:
        out["firstEventTimestamp"] = stream.first_ts
    if stream.last_ts is not None:
        out["lastEventTimestamp"] = stream.last_ts
    if stream.last_ingest is not None:
        out["lastIngestionTime"] = stream.last_ingest
        out["uploadSequenceToken"] = str(stream.last_ingest)  # ignored by PutLogEvents, as on AWS now
    return out


@operation(SERVICE, "CreateLogStream")
def create_log_stream(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, params)
    try:
        shared.store(ctx).create_stream(grp.id, params["logStreamName"], shared.now_ms(ctx))
    except logstore.Exists as exc:
        raise shared.exists("The specified log stream already exists") from exc
    return {}


@operation(SERVICE, "DeleteLogStream")
def delete_log_stream(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    grp = shared.group(ctx, params)
    shared.store(ctx).delete_stream(shared.stream(ctx, grp, params["logStreamName"]).id)
    return {}


def _key(order: str, stream: Stream) -> str:
    if order == "LastEventTime":
        return f"{stream.last_ts or 0:015d}/{stream.name}"
    return stream.name


@operation(SERVICE, "DescribeLogStreams")
def describe_log_streams(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    order = params.get("orderBy") or "LogStreamName"
    prefix = params.get("logStreamNamePrefix")
    if prefix and order == "LastEventTime":
        raise shared.invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    limit = params.get("limit") or 50
    descending = bool(params.get("descending"))
    grp = shared.group(ctx, params)
    streams = [s for s in shared.store(ctx).streams(grp.id) if not prefix or s.name.startswith(prefix)]
    streams.sort(key=lambda s: _key(order, s), reverse=descending)
    if params.get("nextToken"):
        token = shared.decode(params["nextToken"], "streams")
        if token.get("o") != order or token.get("d") != descending:
            raise shared.invalid("The specified nextToken is invalid.")
        after = str(token["a"])
        streams = [s for s in streams if (_key(order, s) < after if descending else _key(order, s) > after)]
    page = streams[:limit]
    out: dict[str, Any] = {"logStreams": [view(ctx, grp.name, s) for s in page]}
    if len(streams) > limit:
        out["nextToken"] = shared.encode({"k": "streams", "o": order, "d": descending,
                                          "a": _key(order, page[-1])})
    return out
