"""Checking a parameter value against the catalogue, the way PostgreSQL would read it.

Values are kept as the user wrote them (PostgreSQL reads them); what is checked is that PostgreSQL
will accept them: type, unit, range, allowed values. RDS formulas ({DBInstanceClassMemory/32768},
GREATEST/LEAST/SUM) are accepted for integer parameters and resolved by the control plane.
"""

from __future__ import annotations

import re
from typing import Any

from kura.api.errors import AwsError
from kura.services.rds import errors

_MEMORY = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_NUMBER_UNIT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]+)?\s*$")
_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)-(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)$")
_FORMULA_VARS = ("DBInstanceClassMemory", "AllocatedStorage", "DBInstanceVCPU", "EndPointPort",
                 "DBInstanceClassHugePagesDefault", "DBInstanceClassMemoryGiB")
_FORMULA = re.compile(r"^[A-Za-z0-9_{}()/*+,\-. ]+$")
_TRUE = {"1", "on", "true", "yes", "t", "y"}
_FALSE = {"0", "off", "false", "no", "f", "n"}


def _bad(name: str, value: str, why: str) -> AwsError:
    return errors.invalid(f"Invalid parameter value: {value} for: {name}. {why}")


def _unit_scale(unit: str | None) -> tuple[dict[str, float], float] | None:
    """The unit family of a parameter's unit ("8kB", "kB", "ms", "min" …) and its size in it."""
    if not unit:
        return None
    match = re.match(r"^(\d*)\s*([A-Za-z]+)$", unit)
    if not match:
        return None
    count = float(match.group(1) or 1)
    tables: tuple[dict[str, float], ...] = ({k: float(v) for k, v in _MEMORY.items()}, _TIME)
    for table in tables:
        if match.group(2) in table:
            return table, count * table[match.group(2)]
    return None


def _number(name: str, value: str, unit: str | None, integer: bool) -> float:
    match = _NUMBER_UNIT.match(value)
    if not match:
        raise _bad(name, value, f"PostgreSQL expects {'an integer' if integer else 'a number'}"
                   + (f" in {unit} (units such as kB, MB, ms, s, min are accepted)." if unit else "."))
    number, given = float(match.group(1)), match.group(2)
    if given is None:
        if integer and not float(match.group(1)).is_integer():
            raise _bad(name, value, "PostgreSQL expects an integer.")
        return number
    scale = _unit_scale(unit)
    if scale is None:
        raise _bad(name, value, "This parameter takes no unit.")
    table, base = scale
    if given not in table:
        valid = ", ".join(f'"{u}"' for u in table)
        raise _bad(name, value, f"Valid units for this parameter are {valid}.")
    return number * table[given] / base


def _range(info: dict[str, Any]) -> tuple[float, float] | None:
    low, high = info.get("min"), info.get("max")
    if low not in (None, "") and high not in (None, ""):
        return float(str(low)), float(str(high))
    match = _RANGE.match(str(info.get("allowed_values") or ""))
    return (float(match.group(1)), float(match.group(2))) if match else None


def _formula(name: str, value: str) -> None:
    names = re.findall(r"\{([^}]*)\}", value)
    if not _FORMULA.match(value) or value.count("{") != value.count("}") or not names:
        raise _bad(name, value, "Not a valid RDS formula.")
    for inner in names:
        variables = re.findall(r"[A-Za-z][A-Za-z0-9]*", inner)
        if not variables or any(v not in _FORMULA_VARS for v in variables):
            raise _bad(name, value, f"Formulas may use {', '.join(_FORMULA_VARS)}.")


def _choices(info: dict[str, Any]) -> list[str] | None:
    allowed = str(info.get("allowed_values") or "")
    if not allowed or _RANGE.match(allowed):
        return None
    return [c.strip() for c in allowed.split(",") if c.strip()]


def check(info: dict[str, Any], value: str) -> None:
    """Raise InvalidParameterValue naming the parameter and PostgreSQL's reason, or return."""
    name, kind = str(info["name"]), str(info.get("data_type") or "string")
    if kind in ("integer", "float") and "{" in value:
        if kind != "integer":
            raise _bad(name, value, "Formulas are accepted for integer parameters only.")
        _formula(name, value)
        return
    if kind in ("integer", "float"):
        number = _number(name, value, info.get("unit"), kind == "integer")
        bounds = _range(info)
        if bounds and not bounds[0] <= number <= bounds[1]:
            raise _bad(name, value, f"{value} is outside the valid range for parameter \"{name}\" "
                                    f"({_fmt(bounds[0])} .. {_fmt(bounds[1])}).")
        return
    if kind == "boolean":
        if value.strip().lower() not in _TRUE | _FALSE:
            raise _bad(name, value, f"Parameter \"{name}\" requires a Boolean value (0, 1, on, off).")
        return
    choices = _choices(info)
    if choices is None:
        return
    lowered = {c.lower() for c in choices}
    items = [i.strip().strip("'\"") for i in value.split(",")] if kind == "list" else [value.strip()]
    wrong = [i for i in items if i and i.lower() not in lowered]
    if wrong:
        raise _bad(name, value, f"Allowed values are: {','.join(choices)}.")


def is_fixed_value(info: dict[str, Any], value: str) -> bool:
    """Whether `value` is the value a parameter that can't be modified has anyway."""
    fixed = info.get("default") if info.get("default") is not None else info.get("engine_default")
    if fixed is None:
        return False
    if info.get("data_type") == "boolean":
        wanted = value.strip().lower()
        return (wanted in _TRUE and str(fixed) in _TRUE) or (wanted in _FALSE and str(fixed) in _FALSE)
    return value.strip().strip("'\"").lower() == str(fixed).lower()


def _fmt(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)
