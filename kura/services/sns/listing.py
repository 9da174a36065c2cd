"""ListSubscriptions and ListSubscriptionsByTopic: 100 a page, pending ones without an ARN."""

from __future__ import annotations

from typing import Any

from kura.services.common.pagination import paginate
from kura.services.registry import Ctx, operation
from kura.services.sns import shared
from kura.services.sns.records import KIND_SUBSCRIPTION, PENDING_ARN
from kura.store.types import Resource


def _entry(sub: Resource) -> dict[str, str]:
    spec = sub.spec
    arn = f"{spec['TopicArn']}:{sub.id}" if spec.get("confirmed") else PENDING_ARN
    return {"SubscriptionArn": arn, "Owner": spec["Owner"], "Protocol": spec["Protocol"],
            "Endpoint": spec["Endpoint"], "TopicArn": spec["TopicArn"]}


def _page(subs: list[Resource], token: str | None) -> dict[str, Any]:
    page, next_token = paginate(subs, lambda s: f"{s.spec['TopicArn']}:{s.id}", token, None, default=100,
                                maximum=100, error_code="InvalidParameter")
    out: dict[str, Any] = {"Subscriptions": [_entry(s) for s in page]}
    if next_token:
        out["NextToken"] = next_token
    return out


@operation("sns", "ListSubscriptions")
def list_subscriptions(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    subs = [s for s in ctx.store.list(KIND_SUBSCRIPTION, ctx.region) if not s.spec.get("unsubscribed")]
    return _page(subs, params.get("NextToken"))


@operation("sns", "ListSubscriptionsByTopic")
def list_subscriptions_by_topic(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    topic = shared.get_topic(ctx, params["TopicArn"])
    subs = shared.subscriptions_of(ctx, params["TopicArn"], topic.region)
    return _page(subs, params.get("NextToken"))
