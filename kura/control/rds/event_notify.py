"""RDS event subscriptions at work: every second each subscription forwards the new RDS events it
matches to its SNS topic, in RDS's notification format (Subject "RDS Notification Message", Message
a JSON object with Event Source, Event Time, Identifier Link, Source ID, Source ARN, Event ID and
Event Message).

Each subscription keeps its own cursor (the last event forwarded) in its status, so a restarted
Kura forwards what it missed, no more than the past hour's, and nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from kura.control.registry import reconciler
from kura.control.steps import patch_status
from kura.control.types import Outcome
from kura.env import Env
from kura.services.rds.event_subscriptions import KIND_EVENT_SUBSCRIPTION, SOURCE_TYPES, spec_digest
from kura.services.sns import fanout
from kura.services.sns.records import KIND_TOPIC, parse_arn
from kura.store.types import Event, Resource

EVERY = 1.0
CATCH_UP = 3600.0  # after a restart, events older than this are not sent any more
SUBJECT = "RDS Notification Message"
_DOCS = "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html"
# RDS event ids of the messages Kura writes that RDS documents with the same meaning.
EVENT_IDS = {"Backing up DB instance": "RDS-EVENT-0001", "Finished DB Instance backup": "RDS-EVENT-0002",
             "DB instance deleted": "RDS-EVENT-0003", "DB instance shutdown": "RDS-EVENT-0004",
             "DB instance created": "RDS-EVENT-0005", "DB instance restarted": "RDS-EVENT-0006",
             "DB cluster created": "RDS-EVENT-0170", "DB cluster deleted": "RDS-EVENT-0171",
             "Started cross AZ failover": "RDS-EVENT-0073",
             "Completed failover to DB instance": "RDS-EVENT-0071"}
_LINK_TYPES = {"db-instance": "dbinstance", "db-cluster": "dbcluster", "db-snapshot": "snapshot",
               "db-parameter-group": "parameter-group"}


def _time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def message(event: Event) -> str:
    """The JSON body RDS publishes for one event."""
    link_type = _LINK_TYPES.get(event.source_type, event.source_type)
    body: dict[str, Any] = {
        "Event Source": event.source_type, "Event Time": _time(event.time),
        "Identifier Link": f"https://console.aws.amazon.com/rds/home?region={event.region}"
                           f"#{link_type}:id={event.source_id}",
        "Source ID": event.source_id}
    if event.extra.get("arn"):
        body["Source ARN"] = event.extra["arn"]
    event_id = next((eid for prefix, eid in EVENT_IDS.items() if event.message.startswith(prefix)), None)
    body["Event ID"] = f"{_DOCS}#{event_id}" if event_id else _DOCS
    body["Event Message"] = event.message
    return json.dumps(body, separators=(",", ":"))


def wanted(spec: dict[str, Any], event: Event) -> bool:
    """Whether a subscription's filters (source type, identifiers, categories) take this event."""
    source_type = spec.get("SourceType")
    if event.source_type not in SOURCE_TYPES or (source_type and event.source_type != source_type):
        return False
    ids = spec.get("SourceIds") or []
    if ids and event.source_id.lower() not in ids:
        return False
    categories = spec.get("EventCategories") or []
    return not categories or bool(set(categories) & {c.lower() for c in event.categories})


@reconciler
class EventSubscriptionReconciler:
    kind = KIND_EVENT_SUBSCRIPTION
    source_type = "rds-event-subscription"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        spec, now = res.spec, env.clock.now()
        topic = parse_arn(spec["SnsTopicArn"])
        exists = topic is not None and env.store.get(KIND_TOPIC, topic.region, topic.topic) is not None
        state = "active" if exists else "topic-not-exist"
        first = "cursor" not in res.status
        cursor = res.status.get("cursor") or {"seq": 0, "time": spec["created"]}
        since = max(float(cursor["time"]), now - CATCH_UP)
        events = [e for e in env.store.events(res.region, since=since - 1.0) if e.seq > int(cursor["seq"])]
        sent = 0
        if exists and topic is not None:
            notes = [message(e) for e in events if spec.get("Enabled", True) and wanted(spec, e)]
            if first:
                notes.insert(0, "This is a message to notify you that the RDS event subscription "
                                f"{res.id} was created.")
            for note in notes:
                fanout.publish(env.store, topic.region, topic.account, topic.topic,
                               fanout.Outgoing(note, SUBJECT), now)
            sent = len(notes)
        if events:
            cursor = {"seq": events[-1].seq, "time": events[-1].time}
        new = {"state": state, "digest": spec_digest(spec), "cursor": cursor}

        def change(status: dict[str, Any]) -> dict[str, Any] | None:
            return None if all(status.get(k) == v for k, v in new.items()) else {**status, **new}

        patch_status(env.store, res, change)
        return Outcome(f"{state}; {sent} message(s) published to {spec['SnsTopicArn']}" if sent else state,
                       requeue_after=EVERY)
