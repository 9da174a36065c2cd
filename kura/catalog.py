"""The engine catalogue: what engines this machine has, published by the control plane into the store
so that the API plane (which never imports engines) can answer DescribeDBEngineVersions,
DescribeEngineDefaultParameters and validate requests.

kv key `catalog:postgres` holds a list of PostgresEngineInfo as dicts:
    {"major": 16, "version": "16.15", "source": "kura" | "debian",
     "parameters": [ParameterInfo, …]}
ParameterInfo (from `postgres --describe-config`, in RDS's presentation):
    {"name", "context" (postgres GUC context), "apply_type": "static" | "dynamic",
     "data_type": "string" | "integer" | "boolean" | "float" | "list", "unit": str | None,
     "min": str | None, "max": str | None, "allowed_values": str | None (RDS AllowedValues form),
     "default": str | None (the RDS default for the family, may be a formula such as
     "{DBInstanceClassMemory/32768}"), "description": str, "is_modifiable": bool}
"""

from __future__ import annotations

from typing import Any

from kura.store.types import Store

POSTGRES_KEY = "catalog:postgres"


def postgres_engines(store: Store) -> list[dict[str, Any]]:
    """Installed PostgreSQL engines, newest major first; [] before the control plane published any."""
    found = store.get_value(POSTGRES_KEY) or []
    return sorted(found, key=lambda e: (-int(e["major"]), e["version"]))


def publish_postgres(store: Store, engines: list[dict[str, Any]]) -> None:
    store.set_value(POSTGRES_KEY, engines)
