"""Checks of CreateCacheCluster / CreateReplicationGroup / Modify* inputs, as ElastiCache makes them."""

from __future__ import annotations

import hashlib
import re
import string

from kura.services.elasticache import errors

# ElastiCache node types Kura accepts, with their memory in GiB (the reconciler's `maxmemory`).
_SIZES_M = {"large": 6.38, "xlarge": 12.93, "2xlarge": 26.04, "4xlarge": 52.26, "8xlarge": 103.68,
            "12xlarge": 157.12, "16xlarge": 209.55}
_SIZES_R = {"large": 13.07, "xlarge": 26.32, "2xlarge": 52.82, "4xlarge": 105.81, "8xlarge": 209.55,
            "12xlarge": 317.77, "16xlarge": 419.09}
NODE_TYPES: dict[str, float] = {
    "cache.t2.micro": 0.555, "cache.t2.small": 1.55, "cache.t2.medium": 3.22,
    "cache.t3.micro": 0.5, "cache.t3.small": 1.37, "cache.t3.medium": 3.09,
    "cache.t4g.micro": 0.5, "cache.t4g.small": 1.37, "cache.t4g.medium": 3.09,
    **{f"cache.m5.{s}": v for s, v in _SIZES_M.items() if s not in ("8xlarge", "16xlarge")},
    "cache.m5.24xlarge": 314.32,
    **{f"cache.{f}.{s}": v for f in ("m6g", "m7g") for s, v in _SIZES_M.items()},
    **{f"cache.r5.{s}": v for s, v in _SIZES_R.items() if s not in ("8xlarge", "16xlarge")},
    "cache.r5.24xlarge": 635.61,
    **{f"cache.{f}.{s}": v for f in ("r6g", "r7g") for s, v in _SIZES_R.items()},
}
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MAINTENANCE = re.compile(r"^(sun|mon|tue|wed|thu|fri|sat):(\d\d):(\d\d)-(sun|mon|tue|wed|thu|fri|sat):"
                          r"(\d\d):(\d\d)$")
_DAILY = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
_TOKEN_FORBIDDEN = set('@"/')
MAX_RETENTION = 35


def node_type(value: str) -> str:
    if value not in NODE_TYPES:
        families = sorted({".".join(t.split(".")[:2]) for t in NODE_TYPES})
        raise errors.invalid(f"Invalid CacheNodeType: {value}. kura offers {', '.join(families)} node types "
                             "(for example cache.t3.micro, cache.r6g.large).")
    return value


def _minute(hh: str, mm: str, what: str, value: str) -> int:
    h, m = int(hh), int(mm)
    if h > 23 or m > 59:
        raise errors.invalid(f"Invalid {what} format: {value}")
    return h * 60 + m


def maintenance_window(value: str) -> str:
    """ddd:hh24:mi-ddd:hh24:mi, at least 60 minutes, lowercased as ElastiCache shows it."""
    lowered = value.lower()
    match = _MAINTENANCE.match(lowered)
    if not match:
        raise errors.invalid(f"Invalid maintenance window format: {value}. Use ddd:hh24:mi-ddd:hh24:mi.")
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = DAYS.index(d1) * 1440 + _minute(h1, m1, "maintenance window", value)
    end = DAYS.index(d2) * 1440 + _minute(h2, m2, "maintenance window", value)
    if (end - start) % (7 * 1440) < 60:
        raise errors.invalid("The maintenance window must be at least 60 minutes long.")
    return lowered


def snapshot_window(value: str) -> str:
    match = _DAILY.match(value)
    if not match:
        raise errors.invalid(f"Invalid snapshot window format: {value}. Use hh24:mi-hh24:mi.")
    h1, m1, h2, m2 = match.groups()
    start = _minute(h1, m1, "snapshot window", value)
    end = _minute(h2, m2, "snapshot window", value)
    if (end - start) % 1440 < 60:
        raise errors.invalid("The snapshot window must be at least 60 minutes long.")
    return value


def retention(value: int | None) -> int:
    days = 0 if value is None else int(value)
    if not 0 <= days <= MAX_RETENTION:
        raise errors.invalid(f"Invalid SnapshotRetentionLimit {days}: must be between 0 and {MAX_RETENTION}.")
    return days


def port(value: int) -> int:
    if not 1150 <= value <= 65535:
        raise errors.invalid(f"Invalid Port {value}: must be between 1150 and 65535.")
    return value


def auth_token(token: str, transit_encryption: bool) -> str:
    """16–128 printable ASCII characters without @ \" /; needs TransitEncryptionEnabled, as on AWS."""
    if not transit_encryption:
        raise errors.invalid("The AUTH token is only supported when encryption-in-transit is enabled "
                             "(TransitEncryptionEnabled).")
    printable = set(string.printable) - set(string.whitespace) | {" "}
    if not 16 <= len(token) <= 128 or any(c not in printable for c in token):
        raise errors.invalid("Invalid AuthToken: it must be 16 to 128 printable ASCII characters.")
    if _TOKEN_FORBIDDEN & set(token):
        raise errors.invalid("Invalid AuthToken: it must not contain any of @, \" or /.")
    return token


def default_windows(ident: str) -> tuple[str, str]:
    """(maintenance, snapshot) windows ElastiCache would pick: a stable hour from the identifier."""
    digest = hashlib.sha256(ident.encode()).digest()
    day, hour = DAYS[digest[0] % 7], digest[1] % 24
    snap = (hour + 2) % 24
    return _week_window(day, hour), f"{snap:02d}:00-{(snap + 1) % 24:02d}:00"


def _week_window(day: str, hour: int) -> str:
    end_day = DAYS[(DAYS.index(day) + 1) % 7] if hour == 23 else day
    return f"{day}:{hour:02d}:00-{end_day}:{(hour + 1) % 24:02d}:00"
