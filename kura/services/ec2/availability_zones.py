"""DescribeAvailabilityZones."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.common import filters
from kura.services.ec2 import defaults, shared
from kura.services.ec2.zones import by_id, by_name, view, zones
from kura.services.registry import Ctx, operation

_GETTERS: dict[str, filters.Getter] = {
    "zone-name": lambda z: z.name,
    "zone-id": lambda z: z.zone_id,
    "region-name": lambda z: z.region,
    "state": lambda z: "available",
    "opt-in-status": lambda z: "opt-in-not-required",
    "zone-type": lambda z: "availability-zone",
    "group-name": lambda z: z.region,
    "network-border-group": lambda z: z.region,
    "message": lambda z: [],
}


@operation("ec2", "DescribeAvailabilityZones")
def describe_availability_zones(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    found = zones(ctx.region)
    names = params.get("ZoneNames") or []
    ids = params.get("ZoneIds") or []
    unknown = [n for n in names if by_name(ctx.region, n) is None] + \
              [i for i in ids if by_id(ctx.region, i) is None]
    if unknown:
        raise AwsError("InvalidParameterValue", f"Invalid availability zone: [{', '.join(unknown)}]")
    shared.dry_run(params)
    if names or ids:
        found = [z for z in found if z.name in names or z.zone_id in ids]
    found = filters.apply(found, params.get("Filters"), _GETTERS,
                           wildcards=True, unknown_message=filters.EC2_UNKNOWN)
    return {"AvailabilityZones": [view(z) for z in found]}
