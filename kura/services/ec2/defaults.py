"""The default network of a region, made on first use: a VPC, a subnet per zone, a `default` group.

A kv marker says the region is seeded. It is checked again inside a write transaction, so two
first calls racing each other create one default VPC, not two; and a default VPC the user later
deletes stays deleted, as on AWS.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kura.services.ec2 import records, shared, zones
from kura.services.ec2.shared import KIND_SUBNET
from kura.store.types import Store

DEFAULT_VPC_CIDR = "172.31.0.0/16"
DEFAULT_SUBNET_PREFIX = 20


def _marker(region: str) -> str:
    return f"ec2:defaults:{region}"


def ensure(store: Store, region: str) -> dict[str, Any]:
    """Seed `region` once; return its marker ({"vpc": id, "dhcp": options id})."""
    seeded = store.get_value(_marker(region))
    if seeded is not None:
        return dict(seeded)
    with store.transaction():
        seeded = store.get_value(_marker(region))
        if seeded is not None:
            return dict(seeded)
        dhcp = shared.new_id("dopt")
        vpc = records.create_vpc(store, region, DEFAULT_VPC_CIDR, is_default=True, dhcp=dhcp)
        blocks = ipaddress.IPv4Network(DEFAULT_VPC_CIDR).subnets(new_prefix=DEFAULT_SUBNET_PREFIX)
        for zone, block in zip(zones.zones(region), blocks, strict=False):
            spec = records.subnet_spec(vpc.id, str(block), zone.name, default_for_az=True)
            store.create(KIND_SUBNET, region, shared.new_id("subnet"), spec)
        seeded = {"vpc": vpc.id, "dhcp": dhcp}
        store.set_value(_marker(region), seeded)
    return seeded


def dhcp_options(store: Store, region: str) -> str:
    """Every VPC of a region shares the region's default DHCP options set."""
    return str(ensure(store, region)["dhcp"])
