"""What the CloudWatch handlers share: the store of this Kura, dimensions and times off the wire, and
CloudWatch's error codes (it is awsQueryCompatible: the query codes in every protocol)."""

from __future__ import annotations

import math
from typing import Any

from kura.api.errors import AwsError
from kura.metrics import series
from kura.services.common.timestamps import epoch
from kura.services.registry import Ctx

MAX_VALUE = 2.0**360  # CloudWatch rejects magnitudes beyond ±2^360


def store(ctx: Ctx) -> series.Series:
    return series.for_home(ctx.env.settings.home)


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message)


def combination(message: str) -> AwsError:
    return AwsError("InvalidParameterCombination", message)


def missing(message: str) -> AwsError:
    return AwsError("MissingParameter", message)


def validation(message: str) -> AwsError:
    return AwsError("ValidationError", message)


def dimensions(raw: list[dict[str, Any]] | None, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, dim in enumerate(raw or [], 1):
        name, value = dim.get("Name"), dim.get("Value")
        if not name or value is None:
            raise missing(f"The parameter {where}.member.{i}.{'Name' if not name else 'Value'} is required.")
        if name in out:
            raise invalid(f"The collection {where} must not contain duplicate dimension names: {name}.")
        out[str(name)] = str(value)
    return out


def wire_dimensions(dims: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in sorted(dims.items())]


def time_of(params: dict[str, Any], name: str, code: str = "InvalidParameterValue") -> float:
    found = epoch(params.get(name), name, code)
    if found is None:
        raise missing(f"The parameter {name} is required.")
    return found


def check_value(value: Any, where: str) -> float:
    number = float(value)
    if math.isnan(number) or math.isinf(number) or abs(number) > MAX_VALUE:
        raise invalid(f"The value {value} for parameter {where} is invalid.")
    return number
