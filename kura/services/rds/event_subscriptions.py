"""RDS event notification subscriptions: Create/Describe/Modify/DeleteEventSubscription and
Add/RemoveSourceIdentifierToSubscription. The control plane (kura/control/rds/event_notify.py) turns
each matching RDS event into an SNS message on the subscription's topic, in RDS's format.

A subscription shows `creating` (or `modifying`) until the control plane has seen its latest spec,
then `active`, or `topic-not-exist` when its topic is gone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from kura.api.errors import AwsError
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.rds import errors, shared
from kura.services.rds.events import CATEGORIES
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE, KIND_PARAMETER_GROUP, KIND_SNAPSHOT
from kura.services.registry import Ctx, operation
from kura.services.sns.records import KIND_TOPIC, parse_arn
from kura.store.types import AlreadyExists, Resource

KIND_EVENT_SUBSCRIPTION = "rds.event-subscription"
# RDS's event source types; Kura records events of the first four.
SOURCE_TYPES = ("db-instance", "db-cluster", "db-parameter-group", "db-snapshot", "db-security-group",
                "db-cluster-snapshot", "db-proxy", "custom-engine-version", "blue-green-deployment")
_SOURCE_KINDS = {"db-instance": KIND_INSTANCE, "db-cluster": KIND_CLUSTER,
                 "db-parameter-group": KIND_PARAMETER_GROUP, "db-snapshot": KIND_SNAPSHOT,
                 "db-cluster-snapshot": KIND_SNAPSHOT}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")
MAX_SUBSCRIPTIONS = 20  # RDS's default quota per account and region


def spec_digest(spec: dict[str, Any]) -> str:
    """What the control plane acknowledges having seen (tags aside: they change no delivery)."""
    text = json.dumps({k: v for k, v in spec.items() if k != "Tags"}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def not_found(name: str) -> AwsError:
    return errors.fault("SubscriptionNotFound", f"Subscription {name} not found.")


def _topic(ctx: Ctx, arn: str) -> str:
    parsed = parse_arn(arn)
    if parsed is None or parsed.subscription is not None:
        raise errors.fault("SNSInvalidTopic", f"The SNS topic ARN {arn} is not valid.")
    if parsed.region != ctx.region or parsed.account != ctx.account \
            or ctx.store.get(KIND_TOPIC, parsed.region, parsed.topic) is None:
        raise errors.fault("SNSTopicArnNotFound", f"SNS topic {arn} not found.")
    return arn


def _categories(source_type: str | None, wanted: list[str] | None) -> list[str]:
    if not wanted:
        return []
    every = {c for cs in CATEGORIES.values() for c in cs}
    known = set(CATEGORIES.get(source_type, ())) if source_type else every
    if source_type in CATEGORIES or source_type is None:
        unknown = [c for c in wanted if c.lower() not in known]
        if unknown:
            raise errors.fault("SubscriptionCategoryNotFound", f"Category {unknown[0]} not found for source "
                                                               f"type {source_type or 'any'}.")
    return sorted({c.lower() for c in wanted})


def _source_type(value: str | None) -> str | None:
    if value is not None and value not in SOURCE_TYPES:
        raise errors.invalid(f"Invalid source type: {value}. Valid values: {', '.join(SOURCE_TYPES)}.")
    return value


def _source(ctx: Ctx, source_type: str | None, ident: str) -> str:
    if source_type is None:
        raise errors.combination("A source identifier needs the subscription's SourceType.")
    name = ident.lower()
    kind = _SOURCE_KINDS.get(source_type)
    if kind is not None and ctx.store.get(kind, ctx.region, name) is None:
        raise errors.fault("SourceNotFound", f"Source {ident} of type {source_type} not found.")
    return name


def view(ctx: Ctx, res: Resource, status: str | None = None) -> dict[str, Any]:
    spec = res.spec
    if status is None:
        seen = res.status.get("digest") == spec_digest(spec)
        status = str(res.status.get("state", "active")) if seen else \
            ("modifying" if res.status.get("state") else "creating")
    created = dt.datetime.fromtimestamp(spec["created"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    out: dict[str, Any] = {"CustomerAwsId": ctx.account, "CustSubscriptionId": res.id,
                           "SnsTopicArn": spec["SnsTopicArn"], "Status": status,
                           "SubscriptionCreationTime": created,
                           "SourceIdsList": list(spec.get("SourceIds") or []),
                           "EventCategoriesList": list(spec.get("EventCategories") or []),
                           "Enabled": bool(spec.get("Enabled", True)),
                           "EventSubscriptionArn": ctx.arn(f"es:{res.id}", service="rds")}
    if spec.get("SourceType"):
        out["SourceType"] = spec["SourceType"]
    return out


def _get(ctx: Ctx, name: str) -> Resource:
    res = ctx.store.get(KIND_EVENT_SUBSCRIPTION, ctx.region, name)
    if res is None:
        raise not_found(name)
    return res


@operation("rds", "CreateEventSubscription")
def create_event_subscription(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["SubscriptionName"]
    if not _NAME.match(name):
        raise errors.invalid("The subscription name must begin with a letter and contain only ASCII letters, "
                             "digits and hyphens (at most 255 characters).")
    source_type = _source_type(params.get("SourceType"))
    spec = {"SnsTopicArn": _topic(ctx, params["SnsTopicArn"]), "SourceType": source_type,
            "EventCategories": _categories(source_type, params.get("EventCategories")),
            "SourceIds": sorted({_source(ctx, source_type, i) for i in params.get("SourceIds") or []}),
            "Enabled": params.get("Enabled", True), "Tags": tagging.normalize(params.get("Tags")),
            "created": ctx.now()}
    with ctx.store.transaction():
        if len(ctx.store.list(KIND_EVENT_SUBSCRIPTION, ctx.region)) >= MAX_SUBSCRIPTIONS:
            raise errors.fault("EventSubscriptionQuotaExceeded",
                               f"You can have at most {MAX_SUBSCRIPTIONS} event subscriptions.")
        try:
            res = ctx.store.create(KIND_EVENT_SUBSCRIPTION, ctx.region, name, spec)
        except AlreadyExists:
            raise errors.fault("SubscriptionAlreadyExist", f"Subscription {name} already exists.") from None
    return {"EventSubscription": view(ctx, res)}


@operation("rds", "DescribeEventSubscriptions")
def describe_event_subscriptions(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
    name = params.get("SubscriptionName")
    found = [_get(ctx, name)] if name else ctx.store.list(KIND_EVENT_SUBSCRIPTION, ctx.region)
    page, marker = rds_page(found, lambda r: r.id, params)
    return shared.with_marker({"EventSubscriptionsList": [view(ctx, r) for r in page]}, marker)


@operation("rds", "ModifyEventSubscription")
def modify_event_subscription(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _get(ctx, params["SubscriptionName"])
        spec = dict(res.spec)
        if params.get("SnsTopicArn"):
            spec["SnsTopicArn"] = _topic(ctx, params["SnsTopicArn"])
        if "SourceType" in params and params["SourceType"] != spec.get("SourceType"):
            spec["SourceType"] = _source_type(params["SourceType"])
            spec["SourceIds"] = []  # identifiers of another type mean nothing now
        if params.get("EventCategories") is not None:
            spec["EventCategories"] = _categories(spec.get("SourceType"), params["EventCategories"])
        if params.get("Enabled") is not None:
            spec["Enabled"] = params["Enabled"]
        res = ctx.store.update(res, spec=spec)
    return {"EventSubscription": view(ctx, res)}


@operation("rds", "DeleteEventSubscription")
def delete_event_subscription(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _get(ctx, params["SubscriptionName"])
        ctx.store.delete(res)
    return {"EventSubscription": view(ctx, res, "deleting")}


def _change_sources(ctx: Ctx, params: dict[str, Any], add: bool) -> dict[str, Any]:
    with ctx.store.transaction():
        res = _get(ctx, params["SubscriptionName"])
        ids = set(res.spec.get("SourceIds") or [])
        ident = params["SourceIdentifier"]
        if add:
            ids.add(_source(ctx, res.spec.get("SourceType"), ident))
        elif ident.lower() in ids:
            ids.discard(ident.lower())
        else:
            raise errors.fault("SourceNotFound", f"Source {ident} is not in subscription {res.id}.")
        res = ctx.store.update(res, spec={**res.spec, "SourceIds": sorted(ids)})
    return {"EventSubscription": view(ctx, res)}


@operation("rds", "AddSourceIdentifierToSubscription")
def add_source_identifier(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _change_sources(ctx, params, add=True)


@operation("rds", "RemoveSourceIdentifierFromSubscription")
def remove_source_identifier(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _change_sources(ctx, params, add=False)
