"""Availability zones: every region has `<region>a`, `c` and `d`, with stable zone IDs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LETTERS = ("a", "c", "d")
# Zone IDs are per-account on AWS; these numbers are what most accounts see for the seeds' regions.
_ZONE_NUMBERS: dict[str, tuple[int, int, int]] = {
    "ap-northeast-1": (4, 1, 2),
    "us-east-1": (1, 2, 4),
}
_DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
               "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}
_REGION_PARTS = re.compile(r"^([a-z]+)-([a-z-]+)-(\d+)$")


@dataclass(frozen=True, slots=True)
class Zone:
    name: str  # "ap-northeast-1a"
    zone_id: str  # "apne1-az4"
    region: str


def region_code(region: str) -> str:
    """ap-northeast-1 → apne1, us-east-1 → use1, us-gov-west-1 → usgw1, as zone IDs spell it."""
    match = _REGION_PARTS.match(region)
    if not match:
        return region.replace("-", "")
    head, middle, number = match.groups()
    abbrev = "".join(_DIRECTIONS.get(word, word[:1]) for word in middle.split("-"))
    return f"{head}{abbrev}{number}"


def zones(region: str) -> list[Zone]:
    numbers = _ZONE_NUMBERS.get(region, (1, 2, 3))
    code = region_code(region)
    pairs = zip(LETTERS, numbers, strict=True)
    return [Zone(f"{region}{letter}", f"{code}-az{n}", region) for letter, n in pairs]


def by_name(region: str, name: str) -> Zone | None:
    return next((z for z in zones(region) if z.name == name), None)


def by_id(region: str, zone_id: str) -> Zone | None:
    return next((z for z in zones(region) if z.zone_id == zone_id), None)


def view(zone: Zone) -> dict[str, Any]:
    return {
        "ZoneName": zone.name,
        "ZoneId": zone.zone_id,
        "State": "available",
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "RegionName": zone.region,
        "GroupName": zone.region,
        "NetworkBorderGroup": zone.region,
        "ZoneType": "availability-zone",
    }
