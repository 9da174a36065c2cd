"""The RDS view of the engine catalogue (kura/catalog.py): families, versions, parameter metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kura.catalog import postgres_engines
from kura.services.rds import errors
from kura.store.types import Store

ENGINE = "postgres"
# Engines RDS knows that Kura does not run (yet): refused with a clear message, not "unknown engine".
OTHER_ENGINES = ("aurora-postgresql", "aurora-mysql", "mysql", "mariadb", "oracle-ee", "oracle-ee-cdb",
                 "oracle-se2", "oracle-se2-cdb", "sqlserver-ee", "sqlserver-se", "sqlserver-ex",
                 "sqlserver-web", "db2-se", "db2-ae", "custom-oracle-ee", "custom-sqlserver-ee")
_FAMILY = re.compile(r"^(?:postgres|aurora-postgresql)(\d+)$")  # RDS and Aurora DB instances
_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    version: str  # "16.15"
    source: str

    @property
    def family(self) -> str:
        return family_of(self.major)


def family_of(major: int, aurora: bool = False) -> str:
    """The DB parameter group family of a major: an Aurora cluster's DB instances have their own."""
    return f"aurora-postgresql{major}" if aurora else f"postgres{major}"


def major_of_family(family: str) -> int | None:
    match = _FAMILY.match(family)
    return int(match.group(1)) if match else None


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.]", version))


def versions(store: Store) -> list[Version]:
    """Every installed version, oldest first."""
    found = {(int(e["major"]), str(e["version"])): str(e.get("source", "")) for e in postgres_engines(store)}
    out = [Version(major, version, source) for (major, version), source in found.items()]
    return sorted(out, key=lambda v: version_key(v.version))


def majors(store: Store) -> list[int]:
    return sorted({v.major for v in versions(store)})


def newest(store: Store, major: int | None = None) -> Version | None:
    found = [v for v in versions(store) if major is None or v.major == major]
    return found[-1] if found else None


def install_hint(major: int | str) -> str:
    return f"Install it on the Kura host with `kura engines install {major}`."


def require_family(store: Store, family: str) -> int:
    """The major of an installed family; InvalidParameterValue naming how to install a missing one."""
    major = major_of_family(family)
    if major is None:
        raise errors.invalid(f"DBParameterGroupFamily {family} is not a valid parameter group family. "
                             "kura runs PostgreSQL (families postgres<major> and aurora-postgresql<major>).")
    if newest(store, major) is None:
        installed = ", ".join(family_of(m) for m in majors(store)) or "none"
        raise errors.invalid(
            f"DBParameterGroupFamily {family} is not valid: PostgreSQL {major} is not installed on this "
            f"Kura host (installed families: {installed}). {install_hint(major)}")
    return major


def resolve_version(store: Store, requested: str | None) -> tuple[int, str]:
    """(major, the version to record) for CreateDBInstance's EngineVersion.

    A minor that is not installed is accepted when its major is: the control plane runs the newest
    installed minor of that major (and says so in an event). A major that is not installed is refused.
    """
    if requested is None:
        default = newest(store)
        if default is None:
            raise errors.combination(
                f"No PostgreSQL engine is installed on this Kura host. {install_hint(16)}")
        return default.major, default.version
    match = _VERSION.match(requested)
    if not match:
        raise errors.invalid(f"Invalid engine version {requested} for postgres.")
    major = int(match.group(1))
    found = newest(store, major)
    if found is None:
        raise errors.combination(
            f"Cannot find version {requested} for postgres: PostgreSQL {major} is not installed on this "
            f"Kura host. {install_hint(major)}")
    return major, requested if match.group(2) is not None else found.version


def parameters(store: Store, major: int) -> dict[str, dict[str, Any]]:
    """Parameter metadata of the newest installed minor of `major`, by name."""
    best: dict[str, Any] | None = None
    for entry in postgres_engines(store):
        if int(entry["major"]) == major and (
                best is None or version_key(str(entry["version"])) > version_key(str(best["version"]))):
            best = entry
    return {str(p["name"]): p for p in (best or {}).get("parameters", [])}


def check_engine(engine: str) -> None:
    if engine == ENGINE:
        return
    if engine in OTHER_ENGINES:
        raise errors.combination(
            f"kura does not run engine {engine}: only postgres is available on this Kura host"
            + (" (Aurora comes with DB clusters)." if engine.startswith("aurora") else "."))
    raise errors.invalid(f"Invalid DB engine: {engine}")
