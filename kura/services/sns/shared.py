"""Finding topics and subscriptions by ARN, within the caller's region and account."""

from __future__ import annotations

from kura.services.registry import Ctx
from kura.services.sns import errors
from kura.services.sns.records import KIND_SUBSCRIPTION, KIND_TOPIC, Arn, parse_arn
from kura.store.types import Resource


def _region(ctx: Ctx, arn: Arn) -> str:
    # An unsigned link (SubscribeURL) names no region of its own: the ARN in it does.
    return arn.region if ctx.anonymous else ctx.region


def topic_ref(ctx: Ctx, value: str, param: str = "TopicArn") -> Arn:
    arn = parse_arn(value)
    if arn is None or arn.subscription is not None:
        raise errors.invalid(param)
    if arn.account != ctx.account or arn.region != _region(ctx, arn):
        raise errors.topic_not_found()
    return arn


def get_topic(ctx: Ctx, value: str, param: str = "TopicArn") -> Resource:
    arn = topic_ref(ctx, value, param)
    res = ctx.store.get(KIND_TOPIC, arn.region, arn.topic)
    if res is None:
        raise errors.topic_not_found()
    return res


def get_subscription(ctx: Ctx, value: str, param: str = "SubscriptionArn") -> Resource:
    arn = parse_arn(value)
    if arn is None or arn.subscription is None:
        raise errors.invalid(param)
    res = None
    if arn.account == ctx.account and arn.region == _region(ctx, arn):
        res = ctx.store.get(KIND_SUBSCRIPTION, arn.region, arn.subscription)
    if res is None or res.spec.get("TopicArn") != str(Arn(arn.region, arn.account, arn.topic)) \
            or res.spec.get("unsubscribed"):
        raise errors.subscription_not_found()
    return res


def subscriptions_of(ctx: Ctx, topic_arn: str, region: str | None = None) -> list[Resource]:
    return [s for s in ctx.store.list(KIND_SUBSCRIPTION, region or ctx.region)
            if s.spec.get("TopicArn") == topic_arn and not s.spec.get("unsubscribed")]
