"""Subscribe, ConfirmSubscription, Unsubscribe, Get/SetSubscriptionAttributes.

A new subscription is pending until its endpoint confirms with the token Kura sent it (an HTTP POST
or an e-mail carrying SubscribeURL). Unsubscribing keeps the record, hidden, for the token's three
days: the UnsubscribeConfirmation's SubscribeURL restores it, as on AWS.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import Any

from kura.services.registry import Ctx, operation
from kura.services.sns import delivery_policy, errors, fanout, filter_policy, shared
from kura.services.sns.records import (
    DELIVERED,
    KIND_SUBSCRIPTION,
    KIND_TOPIC,
    PENDING,
    REFUSED,
    TOKEN_LIFETIME,
    parse_arn,
)
from kura.store.types import Resource

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
SETTABLE = frozenset({"DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery"})


def _check_endpoint(protocol: str, endpoint: str | None) -> str:
    if protocol in REFUSED:
        raise errors.not_implemented(f"delivery to {REFUSED[protocol]} (protocol {protocol})")
    if protocol not in DELIVERED:
        raise errors.invalid(f"Amazon SNS does not support this protocol string: {protocol}")
    if not endpoint:
        raise errors.invalid("Endpoint")
    if protocol in ("http", "https") and not endpoint.lower().startswith(f"{protocol}://"):
        raise errors.invalid("Endpoint must match the specified protocol")
    if protocol.startswith("email") and not EMAIL.match(endpoint):
        raise errors.invalid("Email address")
    return endpoint


def check_attribute(protocol: str, name: str, value: str) -> str:
    if name in ("RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy"):
        raise errors.not_implemented(f"the subscription attribute {name} (it needs SQS, Firehose or FIFO "
                                     "topics)")
    if name not in SETTABLE:
        raise errors.invalid("AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise errors.invalid("RawMessageDelivery: must be true or false")
        if protocol.startswith("email"):
            raise errors.invalid("Delivery protocol [email] does not support raw message delivery.")
        return value.lower()
    if name == "DeliveryPolicy":
        if protocol not in ("http", "https"):
            raise errors.invalid("DeliveryPolicy: only HTTP/S subscriptions take a delivery policy")
        if value:
            delivery_policy.subscription_policy(value)
    if name == "FilterPolicy" and value:
        filter_policy.parse(value)
    if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
        raise errors.invalid("FilterPolicyScope: must be MessageAttributes or MessageBody")
    return value


def arn_of(sub: Resource) -> str:
    return f"{sub.spec['TopicArn']}:{sub.id}"


@operation("sns", "Subscribe")
def subscribe(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    protocol = params["Protocol"].lower()
    endpoint = _check_endpoint(protocol, params.get("Endpoint"))
    attrs = {k: check_attribute(protocol, k, v) for k, v in (params.get("Attributes") or {}).items()}
    with ctx.store.transaction():
        topic = shared.get_topic(ctx, params["TopicArn"])
        arn = params["TopicArn"]
        same = [s for s in shared.subscriptions_of(ctx, arn)
                if s.spec["Protocol"] == protocol and s.spec["Endpoint"] == endpoint]
        if same:
            sub = same[0]
            if attrs and attrs != {k: v for k, v in (sub.spec.get("Attributes") or {}).items() if k in attrs}:
                raise errors.invalid("Attributes Reason: Subscription already exists with different "
                                     "attributes")
            if not sub.spec.get("confirmed"):
                fanout.confirmation(ctx.store, topic, ctx.account, sub, ctx.now())  # sent again, as AWS does
        else:
            spec = {"TopicArn": arn, "Protocol": protocol, "Endpoint": endpoint, "Owner": ctx.account,
                    "Attributes": attrs, "token": secrets.token_hex(128), "token_at": ctx.now(),
                    "confirmed": False}
            sub = ctx.store.create(KIND_SUBSCRIPTION, ctx.region, str(uuid.uuid4()), spec)
            fanout.confirmation(ctx.store, topic, ctx.account, sub, ctx.now())
    if sub.spec.get("confirmed") or params.get("ReturnSubscriptionArn"):
        return {"SubscriptionArn": arn_of(sub)}
    return {"SubscriptionArn": PENDING}


@operation("sns", "ConfirmSubscription")
def confirm_subscription(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    topic_ref = shared.topic_ref(ctx, params["TopicArn"])
    token = params["Token"]
    with ctx.store.transaction():
        if ctx.store.get(KIND_TOPIC, topic_ref.region, topic_ref.topic) is None:
            raise errors.topic_not_found()
        found = [s for s in ctx.store.list(KIND_SUBSCRIPTION, topic_ref.region)
                 if s.spec.get("TopicArn") == params["TopicArn"] and s.spec.get("token") == token]
        if not found or ctx.now() - float(found[0].spec.get("token_at", 0)) > TOKEN_LIFETIME:
            raise errors.invalid("Token")
        sub = found[0]
        if not sub.spec.get("confirmed") or sub.spec.get("unsubscribed"):
            spec = {k: v for k, v in sub.spec.items() if k != "unsubscribed"}
            spec.update(confirmed=True, ConfirmationWasAuthenticated=not ctx.anonymous,
                        AuthenticateOnUnsubscribe=str(params.get("AuthenticateOnUnsubscribe", "")).lower()
                        == "true")
            sub = ctx.store.update(sub, spec=spec)
    return {"SubscriptionArn": arn_of(sub)}


@operation("sns", "Unsubscribe")
def unsubscribe(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        sub = shared.get_subscription(ctx, params["SubscriptionArn"])
        if ctx.anonymous and sub.spec.get("AuthenticateOnUnsubscribe"):
            raise errors.fault("AuthorizationError",
                               "This subscription can only be removed by a signed request "
                               "(AuthenticateOnUnsubscribe was set when it was confirmed).")
        arn = parse_arn(sub.spec["TopicArn"])
        topic = ctx.store.get(KIND_TOPIC, arn.region, arn.topic) if arn else None
        if topic is not None:
            ctx.store.update(topic, spec={**topic.spec, "deleted": int(topic.spec.get("deleted", 0)) + 1})
        if topic is None or not sub.spec.get("confirmed"):
            ctx.store.delete(sub)
            return {}
        sub = ctx.store.update(sub, spec={**sub.spec, "unsubscribed": ctx.now(), "token_at": ctx.now()})
        if sub.spec["Protocol"] in ("http", "https"):
            fanout.confirmation(ctx.store, topic, ctx.account, sub, ctx.now(), "UnsubscribeConfirmation")
    return {}


@operation("sns", "GetSubscriptionAttributes")
def get_subscription_attributes(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    sub = shared.get_subscription(ctx, params["SubscriptionArn"])
    spec = sub.spec
    out = {"SubscriptionArn": arn_of(sub), "TopicArn": spec["TopicArn"], "Owner": spec["Owner"],
           "Protocol": spec["Protocol"], "Endpoint": spec["Endpoint"],
           "PendingConfirmation": str(not spec.get("confirmed")).lower(),
           "ConfirmationWasAuthenticated": str(bool(spec.get("ConfirmationWasAuthenticated"))).lower(),
           "RawMessageDelivery": "false", **(spec.get("Attributes") or {})}
    if spec["Protocol"] in ("http", "https"):
        arn = parse_arn(spec["TopicArn"])
        topic = ctx.store.get(KIND_TOPIC, arn.region, arn.topic) if arn else None
        policy = delivery_policy.effective(dict((topic.spec.get("Attributes") or {}) if topic else {}),
                                           dict(spec.get("Attributes") or {}))
        out["EffectiveDeliveryPolicy"] = json.dumps(policy, separators=(",", ":"))
    return {"Attributes": out}


@operation("sns", "SetSubscriptionAttributes")
def set_subscription_attributes(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        sub = shared.get_subscription(ctx, params["SubscriptionArn"])
        name = params["AttributeName"]
        value = check_attribute(sub.spec["Protocol"], name, params.get("AttributeValue") or "")
        attrs = dict(sub.spec.get("Attributes") or {})
        if value:
            attrs[name] = value
        else:
            attrs.pop(name, None)
        ctx.store.update(sub, spec={**sub.spec, "Attributes": attrs})
    return {}
