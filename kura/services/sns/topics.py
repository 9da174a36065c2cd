"""CreateTopic, DeleteTopic, GetTopicAttributes, SetTopicAttributes, ListTopics."""

from __future__ import annotations

import json
from typing import Any

from kura.services.common import tags as tagging
from kura.services.common.pagination import paginate
from kura.services.registry import Ctx, operation
from kura.services.sns import delivery_policy, errors, shared
from kura.services.sns.records import (
    DEFAULT_DELIVERY_POLICY,
    KIND_TOPIC,
    default_policy,
    topic_arn,
    valid_topic_name,
)
from kura.store.types import AlreadyExists, Resource

# Attributes a topic keeps. The delivery-status logging ones (…FeedbackRoleArn/SampleRate) are
# recorded and shown; Kura logs deliveries in its own log, not CloudWatch Logs.
_FEEDBACK = tuple(f"{proto}{what}" for proto in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
                  for what in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate",
                               "FailureFeedbackRoleArn"))
SETTABLE = frozenset({"DisplayName", "Policy", "DeliveryPolicy", "KmsMasterKeyId", "SignatureVersion",
                      "TracingConfig", "DataProtectionPolicy", *_FEEDBACK})
FIFO_ONLY = frozenset({"FifoTopic", "ContentBasedDeduplication", "ArchivePolicy", "FifoThroughputScope"})


def check_attribute(name: str, value: str) -> str:
    """One topic attribute as given to CreateTopic or SetTopicAttributes, checked."""
    if name in FIFO_ONLY:
        if name == "FifoTopic" and value.lower() == "false":
            return "false"
        raise errors.not_implemented(f"FIFO topics ({name}): they deliver only to SQS queues, which kura "
                                     "does not run")
    if name not in SETTABLE:
        raise errors.invalid("AttributeName")
    if name == "DisplayName" and len(value) > 100:
        raise errors.invalid("DisplayName: at most 100 characters")
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise errors.invalid("SignatureVersion: must be 1 or 2")
    if name == "TracingConfig" and value not in ("PassThrough", "Active"):
        raise errors.invalid("TracingConfig: must be PassThrough or Active")
    if name == "DeliveryPolicy" and value:
        delivery_policy.topic_policy(value)
    if name == "Policy":
        try:
            if not isinstance(json.loads(value), dict):
                raise ValueError(value)
        except ValueError:
            raise errors.invalid("Policy: not a JSON policy document") from None
    return value


def _attributes(raw: dict[str, str] | None) -> dict[str, str]:
    out = {name: check_attribute(name, value) for name, value in (raw or {}).items()}
    out.pop("FifoTopic", None)
    return out


@operation("sns", "CreateTopic")
def create_topic(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Name"]
    if name.endswith(".fifo"):
        raise errors.not_implemented("FIFO topics: they deliver only to SQS queues, which kura does not run")
    if not valid_topic_name(name):
        raise errors.invalid("Topic Name")
    attrs = _attributes(params.get("Attributes"))
    if params.get("DataProtectionPolicy"):
        attrs["DataProtectionPolicy"] = params["DataProtectionPolicy"]
    tags = tagging.normalize(params.get("Tags"), "InvalidParameter")
    arn = topic_arn(ctx.region, ctx.account, name)
    spec = {"Name": name, "Attributes": attrs, "Tags": tags, "deleted": 0}
    try:
        ctx.store.create(KIND_TOPIC, ctx.region, name, spec)
    except AlreadyExists:
        existing = ctx.store.get(KIND_TOPIC, ctx.region, name)
        if existing is not None:
            if params.get("Attributes") is not None and existing.spec.get("Attributes") != attrs:
                raise errors.invalid("Attributes Reason: Topic already exists with different attributes") \
                    from None
            if tags and existing.spec.get("Tags") != tags:
                raise errors.invalid("Tags Reason: Topic already exists with different tags") from None
    return {"TopicArn": arn}


@operation("sns", "DeleteTopic")
def delete_topic(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    arn = shared.topic_ref(ctx, params["TopicArn"])
    with ctx.store.transaction():
        res = ctx.store.get(KIND_TOPIC, arn.region, arn.topic)
        if res is None:
            return {}  # as on AWS: deleting a topic that is not there succeeds
        for sub in shared.subscriptions_of(ctx, str(arn)):
            ctx.store.delete(sub)
        ctx.store.delete(res)
    return {}


def attributes_of(ctx: Ctx, res: Resource) -> dict[str, str]:
    arn = topic_arn(res.region, ctx.account, res.id)
    subs = shared.subscriptions_of(ctx, arn, res.region)
    confirmed = sum(1 for s in subs if s.spec.get("confirmed"))
    own: dict[str, str] = dict(res.spec.get("Attributes") or {})
    effective = delivery_policy.topic_policy(own["DeliveryPolicy"]) if own.get("DeliveryPolicy") \
        else DEFAULT_DELIVERY_POLICY
    return {"TopicArn": arn, "Owner": ctx.account, "Policy": default_policy(arn, ctx.account),
            "DisplayName": "", "SubscriptionsPending": str(len(subs) - confirmed),
            "SubscriptionsConfirmed": str(confirmed), "SubscriptionsDeleted": str(res.spec.get("deleted", 0)),
            "EffectiveDeliveryPolicy": json.dumps(effective, separators=(",", ":")), **own}


@operation("sns", "GetTopicAttributes")
def get_topic_attributes(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return {"Attributes": attributes_of(ctx, shared.get_topic(ctx, params["TopicArn"]))}


@operation("sns", "SetTopicAttributes")
def set_topic_attributes(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AttributeName"]
    value = check_attribute(name, params.get("AttributeValue") or "")
    with ctx.store.transaction():
        res = shared.get_topic(ctx, params["TopicArn"])
        attrs = dict(res.spec.get("Attributes") or {})
        if value == "" and name != "DisplayName":
            attrs.pop(name, None)  # an empty value resets the attribute to its default
        elif name != "FifoTopic":
            attrs[name] = value
        ctx.store.update(res, spec={**res.spec, "Attributes": attrs})
    return {}


@operation("sns", "ListTopics")
def list_topics(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    arns = [topic_arn(ctx.region, ctx.account, t.id) for t in ctx.store.list(KIND_TOPIC, ctx.region)]
    page, token = paginate(arns, lambda a: a, params.get("NextToken"), None, default=100, maximum=100,
                           error_code="InvalidParameter")
    out: dict[str, Any] = {"Topics": [{"TopicArn": a} for a in page]}
    if token:
        out["NextToken"] = token
    return out
