"""What every ElastiCache handler needs: identifier rules, ARNs, finding resources, writing events."""

from __future__ import annotations

import base64
import re
from typing import Any

from kura.api.errors import AwsError
from kura.services.elasticache import errors
from kura.services.elasticache.records import (
    KIND_CACHE_CLUSTER,
    KIND_PARAMETER_GROUP,
    KIND_REPLICATION_GROUP,
    KIND_SNAPSHOT,
    KIND_SUBNET_GROUP,
    SOURCE_CLUSTER,
    SOURCE_PARAMETER_GROUP,
    SOURCE_REPLICATION_GROUP,
    SOURCE_SNAPSHOT,
    SOURCE_SUBNET_GROUP,
)
from kura.services.registry import Ctx
from kura.store.types import Event, Resource

# ARN resource types (arn:aws:elasticache:<region>:<account>:<type>:<name>).
ARN_TYPES = {"cluster": KIND_CACHE_CLUSTER, "replicationgroup": KIND_REPLICATION_GROUP,
             "parametergroup": KIND_PARAMETER_GROUP, "subnetgroup": KIND_SUBNET_GROUP,
             "snapshot": KIND_SNAPSHOT}
ARN_TYPE_OF = {kind: t for t, kind in ARN_TYPES.items()}
SOURCE_OF = {KIND_CACHE_CLUSTER: SOURCE_CLUSTER, KIND_REPLICATION_GROUP: SOURCE_REPLICATION_GROUP,
             KIND_PARAMETER_GROUP: SOURCE_PARAMETER_GROUP, KIND_SUBNET_GROUP: SOURCE_SUBNET_GROUP,
             KIND_SNAPSHOT: SOURCE_SNAPSHOT}

_IDENT = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*$")


def check_identifier(value: str | None, param: str, max_len: int = 40) -> str:
    """ElastiCache identifier rules (clusters, replication groups, snapshots); stored lowercased."""
    lowered = (value or "").lower()
    if not lowered or len(lowered) > max_len or not _IDENT.match(lowered) or lowered.endswith("-"):
        raise errors.invalid(
            f"The parameter {param} is not a valid identifier. Identifiers must begin with a letter; must "
            "contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain "
            f"two consecutive hyphens (at most {max_len} characters).")
    return lowered


def arn(ctx: Ctx, kind: str, name: str) -> str:
    return ctx.arn(f"{ARN_TYPE_OF[kind]}:{name}", service="elasticache")


def resource_arn(res: Resource, account: str) -> str:
    return f"arn:aws:elasticache:{res.region}:{account}:{ARN_TYPE_OF[res.kind]}:{res.id}"


def parse_arn(ctx: Ctx, value: str) -> tuple[str, str] | None:
    """(ARN resource type, name) of an ElastiCache ARN of this region and account; None otherwise."""
    parts = value.split(":", 6)
    if len(parts) != 7 or parts[:3] != ["arn", "aws", "elasticache"]:
        return None
    if parts[3] != ctx.region or parts[4] != ctx.account:
        return None
    return parts[5], parts[6]


def _get(ctx: Ctx, kind: str, ref: str, missing: AwsError) -> Resource:
    name = ref
    if ref.startswith("arn:"):
        parsed = parse_arn(ctx, ref)
        if parsed is None or ARN_TYPES.get(parsed[0]) != kind:
            raise missing
        name = parsed[1]
    res = ctx.store.get(kind, ctx.region, name.lower())
    if res is None:
        raise missing
    return res


def get_cluster(ctx: Ctx, ref: str) -> Resource:
    return _get(ctx, KIND_CACHE_CLUSTER, ref, errors.cluster_not_found(ref))


def get_group(ctx: Ctx, ref: str) -> Resource:
    return _get(ctx, KIND_REPLICATION_GROUP, ref, errors.group_not_found(ref))


def get_snapshot(ctx: Ctx, ref: str) -> Resource:
    return _get(ctx, KIND_SNAPSHOT, ref, errors.snapshot_not_found(ref))


def record(ctx: Ctx, kind: str, source_id: str, message: str, *categories: str) -> None:
    """An ElastiCache event for DescribeEvents (the API side's half: what was asked for, and when)."""
    if kind not in SOURCE_OF:
        return
    ctx.store.add_event(Event(ctx.region, SOURCE_OF[kind], source_id, message, tuple(categories),
                              ctx.now(), extra={"arn": arn(ctx, kind, source_id)}))


def with_marker(out: dict[str, Any], marker: str | None) -> dict[str, Any]:
    if marker:
        out["Marker"] = marker
    return out


def sealed_token(ctx: Ctx, owner_arn: str, token: str) -> str:
    """base64 of the AuthToken sealed with the master key, bound to the cluster/group ARN."""
    blob = ctx.env.master_key.seal(token.encode(), aad=owner_arn.encode())
    return base64.b64encode(blob).decode()
