"""The `query` protocol (RDS, ElastiCache, STS, SNS, CloudFormation, CloudWatch's fallback).

Requests are form-encoded `Action`/`Version` plus flattened members (POST body or GET query
string); responses are `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…` XML.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from botocore.model import OperationModel, ServiceModel

from kura.api.errors import AwsError
from kura.api.protocols.common import base_headers, xml_escape, xml_namespace
from kura.api.protocols.form import FormDecoder, build_tree
from kura.api.protocols.xml import XmlEncoder
from kura.api.types import HttpRequest, HttpResponse

_ACTION = re.compile(rb"(?:^|&)Action=([^&]*)")
XML_TYPE = "text/xml"


def form_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    """Query-string parameters followed by the form body's, decoded."""
    pairs = list(request.query)
    ctype = request.headers.get("content-type") or ""
    if request.body and (not ctype or "x-www-form-urlencoded" in ctype):
        try:
            text = request.body.decode("utf-8")
            pairs.extend(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise AwsError("MalformedQueryString", "The request body is not a valid query string.") from exc
    return pairs


def action_of(request: HttpRequest) -> str | None:
    """The Action, found without decoding the whole form (the codec parses it again anyway)."""
    for key, value in request.query:
        if key == "Action":
            return value
    match = _ACTION.search(request.body) if request.body else None
    if match is None:
        return None
    return unquote_plus(match.group(1).decode("utf-8", "replace"))


class QueryCodec:
    name = "query"

    def __init__(self) -> None:
        self._decoder = FormDecoder(ec2=self.name == "ec2")
        self._encoder = XmlEncoder()
        self._namespaces: dict[ServiceModel, str] = {}

    def operation_name(self, request: HttpRequest, service: ServiceModel) -> str | None:
        return action_of(request)

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        pairs = form_pairs(request)
        shape = operation.input_shape
        if shape is None:
            return {}
        # Action and Version are not members, so the decoder drops them with any other stranger.
        result: dict[str, Any] = self._decoder.top(shape)(build_tree(pairs))
        return result

    def namespace(self, service: ServiceModel) -> str:
        ns = self._namespaces.get(service)
        if ns is None:
            ns = self._namespaces[service] = xml_namespace(service)
        return ns

    def body(self, operation: OperationModel, output: dict[str, Any], out: list[str]) -> None:
        """Appends the output's members, inside the model's result wrapper if it names one."""
        shape = operation.output_shape
        if shape is None:
            return
        wrapper = shape.serialization.get("resultWrapper")
        if wrapper:
            out.append(f"<{wrapper}>")
        self._encoder.members(shape)(out, output or {})
        if wrapper:
            out.append(f"</{wrapper}>")

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        root = f"{operation.name}Response"
        out = [f'<{root} xmlns="{self.namespace(operation.service_model)}">']
        self.body(operation, output, out)
        out.append(f"<ResponseMetadata><RequestId>{xml_escape(request_id)}</RequestId></ResponseMetadata>")
        out.append(f"</{root}>")
        return HttpResponse(200, "".join(out).encode(), base_headers(request_id, XML_TYPE))

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: AwsError, request_id: str
    ) -> HttpResponse:
        fault = "Sender" if error.sender_fault else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{self.namespace(service)}"><Error><Type>{fault}</Type>'
            f"<Code>{xml_escape(error.code)}</Code><Message>{xml_escape(error.message)}</Message></Error>"
            f"<RequestId>{xml_escape(request_id)}</RequestId></ErrorResponse>"
        )
        return HttpResponse(error.status, body.encode(), base_headers(request_id, XML_TYPE))
