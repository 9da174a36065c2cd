"""An engine's parameters in RDS's presentation (the ParameterInfo dicts of `kura/catalog.py`).

`postgres --describe-config` names the user-visible parameters with their context, type, range and
descriptions (tab-separated: name, context, group, type, default, min, max, short description, extra
description — the same in 15 and 16). Its numeric and boolean defaults are not filled in, and it has
neither units nor enum values, so those come from the engine's real `pg_settings` (read once per engine
from its template cluster, `templates.TemplateCache.pg_settings`); extension parameters of preloaded
libraries (pg_stat_statements.*) come from there too.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kura.engines.postgres import rds_params
from kura.engines.postgres.types import PgEngine

if TYPE_CHECKING:
    from kura.engines.postgres.templates import TemplateCache

# A pg_settings row as the template probe stores it (keys: unit, enumvals, boot_val, vartype, context,
# min_val, max_val, short_desc, extra_desc).
PgSetting = Mapping[str, Any]

_DATA_TYPES = {"BOOLEAN": "boolean", "INTEGER": "integer", "REAL": "float", "STRING": "string",
               "ENUM": "string", "bool": "boolean", "integer": "integer", "real": "float",
               "string": "string", "enum": "string"}
_EXTENSION_PREFIXES = ("pg_stat_statements.",)


@dataclass(frozen=True, slots=True)
class RawParam:
    """One line of `postgres --describe-config`."""

    name: str
    context: str
    group: str
    vartype: str  # BOOLEAN | INTEGER | REAL | STRING | ENUM
    default: str
    min: str
    max: str
    short_desc: str
    extra_desc: str


def parse_describe_config(text: str) -> list[RawParam]:
    out = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 8:
            continue
        fields += [""] * (9 - len(fields))
        out.append(RawParam(*fields[:9]))
    return out


def run_describe_config(engine: PgEngine) -> list[RawParam]:
    done = subprocess.run([str(engine.tool("postgres")), "--describe-config"], capture_output=True,
                          text=True, timeout=30, check=True)
    return parse_describe_config(done.stdout)


def describe_config(engine: PgEngine, templates: TemplateCache | None = None) -> list[dict[str, Any]]:
    """ParameterInfo dicts for `engine`, sorted by name.

    `templates` supplies pg_settings (units, enum values, extension parameters); by default the
    machine-wide template cache, which creates the engine's template cluster on first use.
    """
    if templates is None:
        from kura.engines.postgres.templates import TemplateCache

        templates = TemplateCache.default()
    return build_parameters(engine, run_describe_config(engine), templates.pg_settings(engine),
                            libraries=available_libraries(engine))


def available_libraries(engine: PgEngine) -> list[str]:
    libdir = engine.bindir.parent / "lib"
    return [name for name in rds_params.PRELOADABLE if (libdir / f"{name}.so").exists()]


def build_parameters(engine: PgEngine, raw: list[RawParam], settings: Mapping[str, PgSetting],
                     libraries: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The pure part of describe_config: merge describe-config lines, pg_settings and RDS's overlay."""
    params = {p.name: _from_raw(p, settings.get(p.name, {}), engine.major) for p in raw}
    for name, row in settings.items():
        if name.startswith(_EXTENSION_PREFIXES) and name not in params:
            params[name] = _from_raw(_raw_from_setting(name, row), row, engine.major)
    for name, extra in rds_params.RDS_ONLY.items():
        params[name] = _rds_only(name, extra, engine.major)
    spl = params.get("shared_preload_libraries")
    if spl is not None:
        spl["data_type"] = "list"
        spl["allowed_values"] = ",".join(libraries) or None
    return [params[name] for name in sorted(params, key=str.lower)]


def _raw_from_setting(name: str, row: PgSetting) -> RawParam:
    return RawParam(name, str(row.get("context", "user")), "", str(row.get("vartype", "string")),
                    str(row.get("boot_val") or ""), str(row.get("min_val") or ""),
                    str(row.get("max_val") or ""), str(row.get("short_desc") or ""),
                    str(row.get("extra_desc") or ""))


def _from_raw(p: RawParam, row: PgSetting, major: int) -> dict[str, Any]:
    data_type = _DATA_TYPES.get(p.vartype, "string")
    unit = row.get("unit") or None
    enumvals = row.get("enumvals")
    if data_type == "boolean":
        allowed: str | None = "0,1"
    elif data_type in ("integer", "float") and p.min and p.max:
        allowed = f"{p.min}-{p.max}"
    elif enumvals:
        allowed = ",".join(str(v) for v in enumvals)
    else:
        allowed = None
    description = " ".join(d for d in (p.short_desc, p.extra_desc) if d)
    if unit:  # RDS shows the unit in front of the description: "(8kB) Sets the number of …"
        description = f"({unit}) {description}"
    default = rds_params.rds_default(p.name, major)
    return {
        "name": p.name,
        "context": p.context,
        "apply_type": "static" if p.context == "postmaster" else "dynamic",
        "data_type": data_type,
        "unit": unit,
        "min": p.min or None,
        "max": p.max or None,
        "allowed_values": allowed,
        "default": default,
        "source": "system" if default is not None else "engine-default",
        "engine_default": _engine_default(p, row, data_type),
        "description": description,
        "is_modifiable": p.name not in rds_params.NOT_MODIFIABLE,
    }


def _engine_default(p: RawParam, row: PgSetting, data_type: str) -> str | None:
    """The engine's own default in RDS's form (booleans as 0/1); None when unknown."""
    value = row.get("boot_val")
    if value is None and p.vartype in ("STRING", "ENUM"):
        value = p.default  # describe-config fills these two kinds in correctly
    if value is None:
        return None
    if data_type == "boolean":
        return "1" if str(value).lower() in ("on", "true", "1") else "0"
    return str(value)


def _rds_only(name: str, extra: Mapping[str, str], major: int) -> dict[str, Any]:
    default = rds_params.rds_default(name, major)
    context = extra["context"]
    return {
        "name": name, "context": context,
        "apply_type": "static" if context == "postmaster" else "dynamic",
        "data_type": "boolean", "unit": None, "min": None, "max": None, "allowed_values": "0,1",
        "default": default, "source": "system", "engine_default": "0",
        "description": extra["description"], "is_modifiable": True,
    }
