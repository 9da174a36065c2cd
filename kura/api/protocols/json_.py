"""The `json` protocol (awsJson 1.0/1.1): X-Amz-Target names the operation, the body is JSON.

Blobs travel as base64 text and timestamps as epoch seconds unless a member says otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from kura.api.errors import AwsError
from kura.api.protocols.common import (
    Conv,
    b64decode,
    b64encode,
    base_headers,
    format_timestamp,
    json_error_headers,
    parse_timestamp,
    serialization_error,
    special_float,
)
from kura.api.protocols.tree import TreeWalker
from kura.api.types import HttpRequest, HttpResponse


def _decode_blob(value: Any) -> Any:
    if isinstance(value, str):
        decoded = b64decode(value)
        if decoded is None:
            raise serialization_error("Blob values must be valid base64.")
        return decoded
    return value


def _decode_timestamp(value: Any) -> Any:
    parsed = parse_timestamp(value)
    return value if parsed is None else parsed


def _decode_scalar(shape: Shape) -> Conv | None:
    kind = shape.type_name
    if kind == "blob":
        return _decode_blob
    if kind == "timestamp":
        return _decode_timestamp
    if kind in ("float", "double"):
        return special_float
    return None


def _encode_scalar(shape: Shape) -> Conv | None:
    kind = shape.type_name
    if kind == "blob":
        return b64encode
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        return lambda value: format_timestamp(value, fmt)
    return None


def content_type(service: ServiceModel) -> str:
    return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.1')}"


class JsonCodec:
    name = "json"

    def __init__(self) -> None:
        self._decoder = TreeWalker(_decode_scalar, decode=True, location_names=True)
        self._encoder = TreeWalker(_encode_scalar, decode=False, location_names=True)

    def operation_name(self, request: HttpRequest, service: ServiceModel) -> str | None:
        target = request.headers.get("x-amz-target")
        if not target:
            return None
        prefix, _, operation = target.rpartition(".")
        # A foreign prefix keeps the whole target so the unknown-operation error names it.
        return operation if prefix == service.metadata.get("targetPrefix") else target

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        body = _load(request.body)
        shape = operation.input_shape
        if shape is None:
            return {}
        result: dict[str, Any] = self._decoder.top(shape)(body)
        return result

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        shape = operation.output_shape
        wire = self._encoder.top(shape)(output or {}) if shape is not None else {}
        body = json.dumps(wire, separators=(",", ":")).encode()
        return HttpResponse(200, body, base_headers(request_id, content_type(operation.service_model)))

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: AwsError, request_id: str
    ) -> HttpResponse:
        headers = base_headers(request_id, content_type(service))
        kind = json_error_headers(service, error, headers)
        body = json.dumps({"__type": kind, "message": error.message}, separators=(",", ":")).encode()
        return HttpResponse(error.status, body, headers)


def _load(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise serialization_error("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise serialization_error("The request body must be a JSON object.")
    return body
