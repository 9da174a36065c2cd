"""Pieces every protocol shares: timestamps, base64, XML text, error naming, response headers."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from botocore.model import ServiceModel, Shape

from kura.api.errors import AwsError

Conv = Callable[[Any], Any]
"""Turns one decoded wire value into its params value (or an output value into its wire value)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# -- timestamps ---------------------------------------------------------------------------------
def from_epoch(value: float) -> datetime:
    if isinstance(value, float) and not value.is_integer():
        # repr() is the shortest exact decimal, so microseconds survive the float.
        micros = int((Decimal(repr(value)) * 1_000_000).to_integral_value())
        return EPOCH + timedelta(microseconds=micros)
    return EPOCH + timedelta(seconds=int(value))


def parse_timestamp(value: Any) -> datetime | None:
    """Lenient: aware datetime from a datetime, epoch number, ISO 8601 or RFC 822 text; else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return from_epoch(value)
        except (OverflowError, ValueError, InvalidOperation):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        return from_epoch(float(value))
    except (ValueError, OverflowError, InvalidOperation):
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def iso8601(value: datetime) -> str:
    """AWS's XML form: UTC, 'Z', milliseconds (microseconds only when they carry information)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    return value.isoformat(timespec=spec) + "Z"


def epoch_seconds(value: datetime) -> int | float:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - EPOCH
    whole = delta.days * 86400 + delta.seconds
    if delta.microseconds:
        return (whole * 1_000_000 + delta.microseconds) / 1_000_000
    return whole


def format_timestamp(value: Any, fmt: str) -> Any:
    """Output a handler's timestamp (datetime, epoch number or text) in `fmt`."""
    parsed = parse_timestamp(value)
    if parsed is None:
        return value
    fmt = fmt.lower()
    if fmt == "unixtimestamp":
        return epoch_seconds(parsed)
    if fmt == "rfc822":
        return format_datetime(parsed.astimezone(UTC), usegmt=True)
    return iso8601(parsed)


# -- scalars ------------------------------------------------------------------------------------
def b64encode(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode()
    return base64.b64encode(value).decode("ascii")


def b64decode(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def special_float(value: Any) -> Any:
    """JSON carries NaN and the infinities as strings."""
    if isinstance(value, str):
        return _SPECIAL_FLOATS.get(value, value)
    return value


def float_text(value: Any) -> str:
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


# -- XML text -----------------------------------------------------------------------------------
# Characters XML 1.0 cannot carry at all are dropped; \r is escaped so parsers keep it.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_escape(text: str) -> str:
    if _XML_SPECIAL.search(text) is None:
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return _XML_BAD.sub("", text)


def xml_namespace(service: ServiceModel) -> str:
    ns = service.metadata.get("xmlNamespace")
    if isinstance(ns, str) and ns:
        return ns if ns.endswith("/") else ns + "/"
    prefix = service.metadata.get("endpointPrefix", service.service_name)
    return f"https://{prefix}.amazonaws.com/doc/{service.api_version}/"


# -- errors and headers -------------------------------------------------------------------------
def base_headers(request_id: str, content_type: str) -> dict[str, str]:
    return {"x-amzn-RequestId": request_id, "Content-Type": content_type}


def error_type_name(service: ServiceModel, code: str) -> str:
    """The modeled shape whose query code is `code` (awsQueryCompatible services rename them)."""
    cache: dict[str, str] | None = _ERROR_NAMES.get(service)
    if cache is None:
        shapes = service.error_shapes
        cache = {shape.name: shape.name for shape in shapes}  # an exact name wins over a renamed code
        for shape in shapes:
            cache.setdefault(shape.error_code or shape.name, shape.name)
        _ERROR_NAMES[service] = cache
    return cache.get(code, code)


_ERROR_NAMES: dict[ServiceModel, dict[str, str]] = {}


def json_error_headers(service: ServiceModel, error: AwsError, headers: dict[str, str]) -> str:
    """Adds the error headers of the JSON-family protocols and returns the body's `__type`."""
    headers["x-amzn-ErrorType"] = error.code
    if service.is_query_compatible:
        fault = "Sender" if error.sender_fault else "Receiver"
        headers["x-amzn-query-error"] = f"{error.code};{fault}"
        return error_type_name(service, error.code)
    return error.code


def serialization_error(message: str) -> AwsError:
    return AwsError("SerializationException", message, 400)


def member_wire_name(member: Shape, name: str) -> str:
    """A member's name in bodies (JSON, CBOR requests, XML): its locationName, else its own."""
    wire = member.serialization.get("name")
    return wire if isinstance(wire, str) else name
