"""Smithy RPC v2 CBOR: POST /service/<targetPrefix>/operation/<Op>, CBOR bodies both ways.

Timestamps are CBOR tag 1 (epoch seconds), blobs are byte strings. botocore's serializer names
request members by locationName, its parser reads response members by member name.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from kura.api.errors import AwsError
from kura.api.protocols.common import (
    Conv,
    base_headers,
    json_error_headers,
    parse_timestamp,
    serialization_error,
)
from kura.api.protocols.tree import TreeWalker
from kura.api.types import HttpRequest, HttpResponse

PATH = re.compile(r"^(?:.*)/service/([^/]+)/operation/([^/?]+)$")
_DECODE_ERRORS = (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError)
CONTENT_TYPE = "application/cbor"


def _timestamp(value: Any) -> Any:
    parsed = parse_timestamp(value)
    return value if parsed is None else parsed


def _blob_in(value: Any) -> Any:
    return bytes(value) if isinstance(value, bytearray) else value


def _blob_out(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else value


def _decode_scalar(shape: Shape) -> Conv | None:
    if shape.type_name == "timestamp":
        return _timestamp
    if shape.type_name == "blob":
        return _blob_in
    return None


def _encode_scalar(shape: Shape) -> Conv | None:
    if shape.type_name == "timestamp":
        return _timestamp  # an aware datetime, which cbor2 writes as tag 1
    if shape.type_name == "blob":
        return _blob_out
    return None


class CborCodec:
    name = "smithy-rpc-v2-cbor"

    def __init__(self) -> None:
        self._decoder = TreeWalker(_decode_scalar, decode=True, location_names=True)
        self._encoder = TreeWalker(_encode_scalar, decode=False, location_names=False)

    def operation_name(self, request: HttpRequest, service: ServiceModel) -> str | None:
        match = PATH.match(request.path)
        if match is None:
            return None
        prefix, operation = match.groups()
        target = str(service.metadata.get("targetPrefix", ""))
        # botocore writes the whole targetPrefix; Smithy's spec the service's unqualified name.
        if prefix not in (target, target.rpartition(".")[2]):
            return f"{prefix}.{operation}"  # names the foreign service in the unknown-operation error
        return operation

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
        body = cbor2.dumps(wire, datetime_as_timestamp=True, timezone=UTC)
        return HttpResponse(200, body, _headers(request_id))

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: AwsError, request_id: str
    ) -> HttpResponse:
        headers = _headers(request_id)
        kind = json_error_headers(service, error, headers)
        body = cbor2.dumps({"__type": kind, "message": error.message})
        return HttpResponse(error.status, body, headers)


def _headers(request_id: str) -> dict[str, str]:
    headers = base_headers(request_id, CONTENT_TYPE)
    headers["smithy-protocol"] = "rpc-v2-cbor"
    return headers


def _load(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        body = cbor2.loads(raw)
    except _DECODE_ERRORS as exc:
        raise serialization_error("The request body is not valid CBOR.") from exc
    if not isinstance(body, dict):
        raise serialization_error("The request body must be a CBOR map.")
    return body
