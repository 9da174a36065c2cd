"""The ElastiCache view of the Redis engine catalogue (kv `catalog:redis`, published by the control plane
from the real `redis-server`): versions, families, parameter metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kura.services.elasticache import errors
from kura.services.elasticache.records import CATALOG_KEY
from kura.store.types import Store

ENGINE = "redis"
OTHER_ENGINES = ("memcached", "valkey")
_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_FAMILY = re.compile(r"^redis(\d+)(?:\.x|\.0)?$")


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    version: str  # "7.0.15"
    family: str  # "redis7"


def family_of(major: int) -> str:
    return f"redis{major}" if major >= 7 else f"redis{major}.x" if major == 6 else f"redis{major}.0"


def major_of_family(family: str) -> int | None:
    """redis7 (and the seed's spelling redis7.x), redis6.x, redis5.0 → the major."""
    match = _FAMILY.match(family)
    return int(match.group(1)) if match else None


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def entries(store: Store) -> list[dict[str, Any]]:
    return list(store.get_value(CATALOG_KEY) or [])


def versions(store: Store) -> list[Version]:
    """Every installed Redis version, oldest first; [] before the control plane published any."""
    out = {Version(int(e["major"]), str(e["version"]), str(e.get("family") or family_of(int(e["major"]))))
           for e in entries(store)}
    return sorted(out, key=lambda v: _key(v.version))


def newest(store: Store, major: int | None = None) -> Version | None:
    found = [v for v in versions(store) if major is None or v.major == major]
    return found[-1] if found else None


def installed_text(store: Store) -> str:
    return ", ".join(v.version for v in versions(store)) or "none"


def check_engine(engine: str | None) -> None:
    if engine is None or engine.lower() == ENGINE:
        return
    if engine.lower() in OTHER_ENGINES:
        raise errors.invalid(f"kura runs the redis engine only: engine {engine} is not available on this "
                             "Kura host.")
    raise errors.invalid(f"Invalid engine: {engine}. kura runs the redis engine.")


def resolve_version(store: Store, requested: str | None) -> Version:
    """The installed version that serves EngineVersion `requested` (same major), or a clear error."""
    if requested is None:
        found = newest(store)
        if found is None:
            raise errors.invalid("No Redis engine is installed on this Kura host (install redis-server; "
                                 "the control plane publishes it at start).")
        return found
    match = _VERSION.match(requested)
    if not match:
        raise errors.invalid(f"Invalid engine version {requested} for redis.")
    found = newest(store, int(match.group(1)))
    if found is None:
        raise errors.invalid(f"Cannot find version {requested} for redis: Redis {match.group(1)} is not "
                             f"installed on this Kura host (installed: {installed_text(store)}).")
    return found


def require_family(store: Store, family: str) -> Version:
    """The newest installed version of a parameter group family, or InvalidParameterValue."""
    major = major_of_family(family)
    if major is None:
        raise errors.invalid(f"Invalid CacheParameterGroupFamily {family}: kura runs redis families "
                             "(redis7, …).")
    found = newest(store, major)
    if found is None:
        installed = ", ".join(sorted({v.family for v in versions(store)})) or "none"
        raise errors.invalid(f"CacheParameterGroupFamily {family} is not valid: Redis {major} is not "
                             f"installed on this Kura host (installed families: {installed}).")
    return found


def families(store: Store) -> list[str]:
    return sorted({v.family for v in versions(store)})


def parameters(store: Store, family: str) -> dict[str, dict[str, Any]]:
    """Parameter metadata of the newest installed version of `family`, by name."""
    major = major_of_family(family)
    best: dict[str, Any] | None = None
    for entry in entries(store):
        if int(entry["major"]) == major and (best is None or _key(str(entry["version"]))
                                             > _key(str(best["version"]))):
            best = entry
    return {str(p["name"]): p for p in (best or {}).get("parameters", [])}
