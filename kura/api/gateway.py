"""The request pipeline, top to bottom: route → authenticate → parse → validate → handle → serialize.

Every outcome is an AWS-shaped response in the caller's protocol; nothing escapes as a 500 page.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import uuid
import zlib
from dataclasses import dataclass

from botocore.model import OperationModel, ServiceModel

from kura.api import models, protocols, sigv4
from kura.api.credentials import Credentials
from kura.api.errors import AwsError, internal_error, not_implemented
from kura.api.types import HttpRequest, HttpResponse, ProtocolCodec
from kura.api.validation import error_style, validate
from kura.config import AuthMode
from kura.env import Env
from kura.services import registry
from kura.services.registry import Ctx

log = logging.getLogger("kura.api")

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
MAX_INFLATED = 64 * 1024 * 1024
# What AWS answers without a signature: the links SNS puts in its messages (the token in a
# SubscribeURL is the credential; an UnsubscribeURL works unless the owner asked otherwise).
ANONYMOUS = frozenset({("sns", "ConfirmSubscription"), ("sns", "Unsubscribe")})


@dataclass(frozen=True, slots=True)
class Route:
    service: str
    model: ServiceModel
    codec: ProtocolCodec
    region: str
    access_key: str


class Gateway:
    def __init__(self, env: Env, credentials: Credentials, auth: AuthMode) -> None:
        self.env = env
        self.credentials = credentials
        self.auth = auth

    def _secret_for(self, access_key: str) -> str | None:
        if access_key == self.credentials.access_key_id:
            return self.credentials.secret_access_key
        return None

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        route: Route | None = None
        operation: OperationModel | None = None
        try:
            plain = _decompressed(request)  # the signature covers the body as sent, the codecs read it plain
            route = self._route(plain)
            name = route.codec.operation_name(plain, route.model)
            anonymous = (route.service, name) in ANONYMOUS and sigv4.scope_of(request) is None
            if self.auth is AuthMode.SIGV4 and not anonymous:
                sigv4.verify(request, self._secret_for, self.env.clock.now(),
                             style=sigv4.style_for(route.model.metadata))
            if name is None or name not in route.model.operation_names:
                raise _unknown_operation(route, name)
            operation = route.model.operation_model(name)
            params = route.codec.parse(plain, operation)
            if operation.input_shape is not None:
                validate(operation.input_shape, params, error_style(route.model))
            handler = registry.lookup(route.service, name)
            if handler is None:
                raise not_implemented(route.service, name)
            ctx = Ctx(self.env, route.service, name, route.region, request_id, route.access_key, anonymous)
            result = handler(ctx, params)
            return route.codec.serialize(operation, result, request_id)
        except AwsError as err:
            return self._error(route, operation, err, request_id, request)
        except Exception:
            log.exception("unhandled error request_id=%s", request_id)
            return self._error(route, operation, internal_error(), request_id, request)

    # -- routing ---------------------------------------------------------------------------------
    def _route(self, request: HttpRequest) -> Route:
        try:
            scope = sigv4.scope_of(request)
        except sigv4.SigV4Error as exc:
            # The claimed scope is unreadable: answer in the protocol the request otherwise suggests.
            raise exc.restyled(sigv4.style_for(models.service_model(_service_of(request, None)).metadata)
                               ) from None
        service = _service_of(request, scope.service if scope else None)
        region = scope.region if scope else self.env.settings.default_region
        if not _REGION.match(region):
            raise AwsError("InvalidClientTokenId", f"The region '{region}' is not a valid AWS region.", 403)
        model = models.service_model(service)
        codec = protocols.detect(request, model)
        if codec is None:
            raise AwsError("InvalidAction", f"The request does not speak a protocol of {service}.")
        return Route(service, model, codec, region, scope.access_key if scope else "")

    def _error(self, route: Route | None, operation: OperationModel | None, err: AwsError,
               request_id: str, request: HttpRequest) -> HttpResponse:
        if err.status >= 500:
            log.warning("request_id=%s code=%s", request_id, err.code)
        if route is not None:
            return route.codec.serialize_error(route.model, operation, err, request_id)
        return _bare_error(request, err, request_id)


def _decompressed(request: HttpRequest) -> HttpRequest:
    """AWS request compression: SDKs gzip large bodies (botocore: PutMetricData over 10 KiB) and say so in
    Content-Encoding."""
    encoding = (request.headers.get("content-encoding") or "").lower()
    if "gzip" not in encoding or not request.body:
        return request
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflate.decompress(request.body, MAX_INFLATED)
    except zlib.error as exc:
        raise AwsError("SerializationException", f"The gzip request body cannot be read: {exc}") from None
    if inflate.unconsumed_tail:
        raise AwsError("RequestEntityTooLarge", f"The request body inflates beyond {MAX_INFLATED} bytes.",
                       413)
    return dataclasses.replace(request, body=body)


def _service_of(request: HttpRequest, signing_name: str | None) -> str:
    if signing_name is not None:
        found = models.by_signing_name(signing_name)
        if found is None:
            raise AwsError("UnrecognizedService", f"kura does not implement the {signing_name} service", 400)
        return found
    target = request.headers.get("x-amz-target")
    if target:
        found = models.by_target_prefix(target.rsplit(".", 1)[0])
        if found:
            return found
    match = _CBOR_PATH.match(request.path)
    if match and (found := models.by_cbor_service(match.group(1))):
        return found
    version = _form_value(request, "Version")
    if version and (found := models.by_query_version(version)):
        return found
    raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)


def _form_value(request: HttpRequest, name: str) -> str | None:
    for k, v in request.query:
        if k == name:
            return v
    ctype = request.headers.get("content-type") or ""
    if "x-www-form-urlencoded" in ctype:
        from urllib.parse import parse_qsl

        for k, v in parse_qsl(request.body.decode("utf-8", "replace")):
            if k == name:
                return v
    return None


def _unknown_operation(route: Route, name: str | None) -> AwsError:
    if name is None:
        return AwsError("MissingAction", "The request must contain the parameter Action.")
    if route.model.protocol in ("query", "ec2"):
        return AwsError("InvalidAction", f"The action {name} is not valid for this web service.")
    return AwsError("UnknownOperationException", f"kura does not implement {route.service}:{name}")


def _bare_error(request: HttpRequest, err: AwsError, request_id: str) -> HttpResponse:
    """An error before the service is known: answer in the shape the request suggests."""
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": err.code}
    if request.headers.get("smithy-protocol") == "rpc-v2-cbor":
        import cbor2

        headers["smithy-protocol"] = "rpc-v2-cbor"
        headers["Content-Type"] = "application/cbor"
        return HttpResponse(err.status, cbor2.dumps({"__type": err.code, "message": err.message}), headers)
    if request.headers.get("x-amz-target") or "json" in (request.headers.get("content-type") or ""):
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        return HttpResponse(err.status, body, headers)
    from xml.sax.saxutils import escape

    kind = "Sender" if err.sender_fault else "Receiver"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>{kind}</Type>'
        f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    headers["Content-Type"] = "text/xml"
    return HttpResponse(err.status, body, headers)
