"""The `ec2` protocol: query-style requests with EC2's naming, XML responses without a result wrapper.

Requests name list items `Name.N` and members by queryName or capitalised locationName; responses
are `<OpResponse xmlns=…><requestId>…</requestId>…members…</OpResponse>` with `<item>` lists, and
errors are `<Response><Errors><Error>…</Error></Errors><RequestID>…</RequestID></Response>`.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from kura.api.errors import AwsError
from kura.api.protocols.common import base_headers, xml_escape
from kura.api.protocols.query import QueryCodec
from kura.api.types import HttpResponse

_PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n'
XML_TYPE = "text/xml;charset=UTF-8"


class Ec2Codec(QueryCodec):
    name = "ec2"

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        root = f"{operation.name}Response"
        out = [f'{_PROLOG}<{root} xmlns="{self.namespace(operation.service_model)}">',
               f"<requestId>{xml_escape(request_id)}</requestId>"]
        self.body(operation, output, out)
        out.append(f"</{root}>")
        return HttpResponse(200, "".join(out).encode(), base_headers(request_id, XML_TYPE))

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: AwsError, request_id: str
    ) -> HttpResponse:
        body = (
            f"{_PROLOG}<Response><Errors><Error><Code>{xml_escape(error.code)}</Code>"
            f"<Message>{xml_escape(error.message)}</Message></Error></Errors>"
            f"<RequestID>{xml_escape(request_id)}</RequestID></Response>"
        )
        return HttpResponse(error.status, body.encode(), base_headers(request_id, XML_TYPE))
