"""Turning a published message into one `sns.delivery` per confirmed, matching subscription.

Shared by Publish and by the control plane (RDS event subscriptions, CloudWatch alarm actions): the
store write is the publish; the control plane's delivery reconciler sends, retries and removes them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from kura.services.sns import delivery_policy, filter_policy
from kura.services.sns.records import KIND_DELIVERY, KIND_SUBSCRIPTION, KIND_TOPIC, topic_arn
from kura.store.types import Resource, Store


@dataclass(frozen=True, slots=True)
class Outgoing:
    message: str
    subject: str | None = None
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # name → {Type, Value}
    structure: str | None = None  # "json": `message` holds one text per protocol and a default


def timestamp(now: float) -> str:
    """SNS's message timestamp: ISO 8601 in UTC with milliseconds."""
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _base(topic: Resource, account: str, sub: Resource, now: float, kind: str, message_id: str
          ) -> dict[str, Any]:
    attrs = dict(topic.spec.get("Attributes") or {})
    protocol = sub.spec["Protocol"]
    spec: dict[str, Any] = {
        "Type": kind, "MessageId": message_id, "TopicArn": topic_arn(topic.region, account, topic.id),
        "Timestamp": timestamp(now), "protocol": protocol, "endpoint": sub.spec["Endpoint"],
        "subscription": sub.id, "SubscriptionArn": f"{topic_arn(topic.region, account, topic.id)}:{sub.id}",
        "signature_version": attrs.get("SignatureVersion", "1"), "DisplayName": attrs.get("DisplayName", ""),
    }
    if protocol in ("http", "https"):
        policy = delivery_policy.effective(attrs, dict(sub.spec.get("Attributes") or {}))
        spec["policy"] = policy["healthyRetryPolicy"]
        spec["content_type"] = policy["requestPolicy"].get("headerContentType", "text/plain; charset=UTF-8")
    else:
        spec["policy"] = delivery_policy.EMAIL_RETRY
    return spec


def confirmation(store: Store, topic: Resource, account: str, sub: Resource, now: float,
                 kind: str = "SubscriptionConfirmation") -> None:
    """Queue the message asking the endpoint to confirm (or telling it it was unsubscribed)."""
    message_id = str(uuid.uuid4())
    spec = _base(topic, account, sub, now, kind, message_id)
    arn = spec["TopicArn"]
    if kind == "SubscriptionConfirmation":
        text = (f"You have chosen to subscribe to the topic {arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message.")
    else:
        text = (f"You have chosen to deactivate subscription {spec['SubscriptionArn']}.\n"
                "To cancel this operation and restore the subscription, visit the SubscribeURL included "
                "in this message.")
    spec.update(Message=text, Token=sub.spec["token"])
    store.create(KIND_DELIVERY, topic.region, f"{message_id}.{sub.id}", spec)


def _text_for(out: Outgoing, protocol: str) -> str:
    if out.structure != "json":
        return out.message
    texts = json.loads(out.message)
    return str(texts.get(protocol, texts["default"]))


def _wanted(sub: Resource, out: Outgoing) -> bool:
    attrs = sub.spec.get("Attributes") or {}
    if not attrs.get("FilterPolicy"):
        return True
    policy = filter_policy.parse(attrs["FilterPolicy"])
    if attrs.get("FilterPolicyScope") == "MessageBody":
        try:
            body = json.loads(_text_for(out, sub.spec["Protocol"]))
        except ValueError:
            return False
        return isinstance(body, dict) and filter_policy.matches(policy, body)
    return filter_policy.matches(policy, filter_policy.attribute_values(out.attributes))


def publish(store: Store, region: str, account: str, topic_name: str, out: Outgoing, now: float
            ) -> str | None:
    """Queue `out` for every confirmed subscription of the topic that wants it; its MessageId, or None
    when the topic does not exist."""
    message_id = str(uuid.uuid4())
    with store.transaction():
        topic = store.get(KIND_TOPIC, region, topic_name)
        if topic is None:
            return None
        arn = topic_arn(region, account, topic_name)
        for sub in store.list(KIND_SUBSCRIPTION, region):
            live = sub.spec.get("confirmed") and not sub.spec.get("unsubscribed")
            if sub.spec.get("TopicArn") != arn or not live or not _wanted(sub, out):
                continue
            spec = _base(topic, account, sub, now, "Notification", message_id)
            spec.update(Message=_text_for(out, sub.spec["Protocol"]), MessageAttributes=out.attributes,
                        raw=(sub.spec.get("Attributes") or {}).get("RawMessageDelivery") == "true")
            if out.subject is not None:
                spec["Subject"] = out.subject
            store.create(KIND_DELIVERY, region, f"{message_id}.{sub.id}", spec)
    return message_id
