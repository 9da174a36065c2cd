"""Performance Insights settings of DB instances and Aurora DB clusters.

An Aurora cluster's settings are its members': CreateDBInstance into the cluster takes them
(cluster_members._base) and ModifyDBCluster passes a change on to every member, as the console's
cluster-level Database Insights setting does. The sampler (control plane) samples the instances whose
spec has EnablePerformanceInsights; the `pi` service answers from what it recorded.
"""

from __future__ import annotations

from typing import Any

from kura.services.rds import instance_validation as check
from kura.services.registry import Ctx
from kura.store.types import Resource

DEFAULT_RETENTION = 7
DEFAULT_KEY = "alias/aws/rds"
KEYS = ("EnablePerformanceInsights", "PerformanceInsightsRetentionPeriod", "PerformanceInsightsKMSKeyId")


def settings(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """The spec values a create asks for (retention and key only when turned on)."""
    if not params.get("EnablePerformanceInsights"):
        return {"EnablePerformanceInsights": False}
    days = params.get("PerformanceInsightsRetentionPeriod", DEFAULT_RETENTION)
    check.pi_retention(days)
    return {"EnablePerformanceInsights": True, "PerformanceInsightsRetentionPeriod": days,
            "PerformanceInsightsKMSKeyId": check.kms_key(ctx, params.get("PerformanceInsightsKMSKeyId"),
                                                         DEFAULT_KEY)}


def changed(ctx: Ctx, spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """The spec values a modify asks for, or None when it names none of them. Turning it off keeps
    the retention and key (shown again when turned back on), as RDS does."""
    enabled = params.get("EnablePerformanceInsights")
    if enabled is False:
        return {"EnablePerformanceInsights": False}
    if not (enabled or spec.get("EnablePerformanceInsights")):
        return None
    if enabled is None and not any(params.get(k) is not None for k in KEYS[1:]):
        return None
    days = params.get("PerformanceInsightsRetentionPeriod",
                      spec.get("PerformanceInsightsRetentionPeriod", DEFAULT_RETENTION))
    check.pi_retention(days)
    key = params.get("PerformanceInsightsKMSKeyId")
    if key is not None or not spec.get("PerformanceInsightsKMSKeyId"):
        key = check.kms_key(ctx, key, DEFAULT_KEY)
    else:
        key = spec["PerformanceInsightsKMSKeyId"]
    return {"EnablePerformanceInsights": True, "PerformanceInsightsRetentionPeriod": days,
            "PerformanceInsightsKMSKeyId": key}


def pass_to_members(ctx: Ctx, values: dict[str, Any], members: list[Resource]) -> None:
    """A cluster's change made on each member (the caller's transaction)."""
    for member in members:
        if any(member.spec.get(k) != v for k, v in values.items()):
            ctx.store.update(member, spec={**member.spec, **values})


def view(spec: dict[str, Any]) -> dict[str, Any]:
    """PerformanceInsightsEnabled, and the retention and key while it is on."""
    out: dict[str, Any] = {"PerformanceInsightsEnabled": bool(spec.get("EnablePerformanceInsights"))}
    if out["PerformanceInsightsEnabled"]:
        for key in KEYS[1:]:
            if spec.get(key) is not None:
                out[key] = spec[key]
    return out
