"""Timestamp parameters as handlers receive them (a datetime from the wire, an epoch number, or text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kura.api.errors import AwsError
from kura.api.protocols.common import parse_timestamp


def epoch(value: Any, name: str, error_code: str = "InvalidParameterValue") -> float | None:
    """Epoch seconds of a timestamp parameter; None when it is absent."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    parsed = value if isinstance(value, datetime) else parse_timestamp(value)
    if parsed is None:
        raise AwsError(error_code, f"Invalid {name}: {value}")
    return parsed.timestamp()
