"""What every RDS handler needs: identifier rules, ARNs, finding an instance, writing an event."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from kura.services.rds import errors
from kura.services.rds.records import (
    KIND_CLUSTER,
    KIND_CLUSTER_ENDPOINT,
    KIND_CLUSTER_PARAMETER_GROUP,
    KIND_INSTANCE,
    KIND_PARAMETER_GROUP,
    KIND_SNAPSHOT,
    KIND_SUBNET_GROUP,
    SOURCE_CLUSTER,
    SOURCE_INSTANCE,
    SOURCE_PARAMETER_GROUP,
    SOURCE_SNAPSHOT,
    SOURCE_SUBNET_GROUP,
)
from kura.services.registry import Ctx
from kura.store.types import Event, Resource

# ARN resource types (arn:aws:rds:<region>:<account>:<type>:<name>) of the kinds Kura keeps.
ARN_TYPES = {"db": KIND_INSTANCE, "pg": KIND_PARAMETER_GROUP, "subgrp": KIND_SUBNET_GROUP,
             "snapshot": KIND_SNAPSHOT, "cluster": KIND_CLUSTER, "cluster-endpoint": KIND_CLUSTER_ENDPOINT,
             "cluster-pg": KIND_CLUSTER_PARAMETER_GROUP, "es": "rds.event-subscription"}
ARN_TYPE_OF = {kind: t for t, kind in ARN_TYPES.items()}
SOURCE_OF = {KIND_INSTANCE: SOURCE_INSTANCE, KIND_PARAMETER_GROUP: SOURCE_PARAMETER_GROUP,
             KIND_SUBNET_GROUP: SOURCE_SUBNET_GROUP, KIND_SNAPSHOT: SOURCE_SNAPSHOT,
             KIND_CLUSTER: SOURCE_CLUSTER}

_IDENT = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$")


def check_identifier(value: str | None, param: str, max_len: int = 63) -> str:
    """RDS identifier rules (instances, snapshots, parameter groups); AWS stores it lowercased."""
    if not value or len(value) > max_len or not _IDENT.match(value) or value.endswith("-"):
        raise errors.invalid(
            f"The parameter {param} is not a valid identifier. Identifiers must begin with a letter; must "
            "contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain "
            f"two consecutive hyphens (at most {max_len} characters).")
    return value.lower()


def arn(ctx: Ctx, kind: str, name: str) -> str:
    return ctx.arn(f"{ARN_TYPE_OF[kind]}:{name}", service="rds")


def resource_arn(res: Resource, account: str) -> str:
    return f"arn:aws:rds:{res.region}:{account}:{ARN_TYPE_OF[res.kind]}:{res.id}"


def parse_arn(ctx: Ctx, value: str) -> tuple[str, str] | None:
    """(ARN resource type, name) of an RDS ARN of this region and account; None for anything else."""
    parts = value.split(":", 6)
    if len(parts) != 7 or parts[:3] != ["arn", "aws", "rds"]:
        return None
    if parts[3] != ctx.region or parts[4] != ctx.account:
        return None
    return parts[5], parts[6]


def instance_id(ctx: Ctx, ref: str) -> str:
    """An instance identifier or ARN → the identifier as stored (lowercase)."""
    if ref.startswith("arn:"):
        parsed = parse_arn(ctx, ref)
        if parsed is None or parsed[0] != "db":
            raise errors.instance_not_found(ref)
        return parsed[1].lower()
    return ref.lower()


def get_instance(ctx: Ctx, ref: str) -> Resource:
    res = ctx.store.get(KIND_INSTANCE, ctx.region, instance_id(ctx, ref))
    if res is None:
        raise errors.instance_not_found(ref)
    return res


def instances(ctx: Ctx) -> list[Resource]:
    return ctx.store.list(KIND_INSTANCE, ctx.region)


def new_resource_id() -> str:
    """DbiResourceId: `db-` and 26 upper-case letters and digits, as AWS shows them."""
    alphabet = string.ascii_uppercase + string.digits
    return "db-" + "".join(secrets.choice(alphabet) for _ in range(26))


def record(ctx: Ctx, kind: str, source_id: str, message: str, *categories: str) -> None:
    """An RDS event for DescribeEvents (the API side's half: what was asked for, and when)."""
    ctx.store.add_event(Event(ctx.region, SOURCE_OF[kind], source_id, message, tuple(categories),
                              ctx.now(), extra={"arn": arn(ctx, kind, source_id)}))


def with_marker(out: dict[str, Any], marker: str | None) -> dict[str, Any]:
    if marker:
        out["Marker"] = marker
    return out
