"""SigV4 verification against requests signed by botocore itself (its signers and its real clients)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

from kura.api import sigv4
from kura.api.errors import AwsError
from kura.api.sigv4 import Failure, SigV4Error
from kura.api.types import Headers, HttpRequest

AK = "AKIAKURATESTKEY00001"
SECRET = "kuraTestSecretKey0000000000000000000000a"
ENDPOINT = "http://127.0.0.1:4566"


def secret_for(access_key: str) -> str | None:
    return SECRET if access_key == AK else None


def to_http(prepared: AWSPreparedRequest | AWSRequest) -> HttpRequest:
    """What the gateway would receive on the wire for this botocore request."""
    if isinstance(prepared, AWSRequest):
        prepared = prepared.prepare()
    parts = urlsplit(prepared.url)
    headers = Headers([(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()])
    if "host" not in headers:
        headers["Host"] = parts.netloc
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = body.read()
    return HttpRequest(method=prepared.method, path=parts.path or "/",
                       query=parse_qsl(parts.query, keep_blank_values=True), raw_query=parts.query,
                       headers=headers, body=body)


def signed(method: str, path: str, service: str, *, region: str = "us-east-1", body: bytes = b"",
           headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
           key: str = AK, secret: str = SECRET) -> HttpRequest:
    req = AWSRequest(method=method, url=ENDPOINT + path, data=body, headers=headers or {},
                     params=params or {})
    SigV4Auth(BotoCredentials(key, secret), service, region).add_auth(req)
    return to_http(req)


def presigned(service: str, params: dict[str, str], *, expires: int = 3600, method: str = "GET",
              body: bytes | dict[str, str] = b"", headers: dict[str, str] | None = None) -> HttpRequest:
    req = AWSRequest(method=method, url=ENDPOINT + "/", params=params, data=body, headers=headers or {})
    SigV4QueryAuth(BotoCredentials(AK, SECRET), service, "us-east-1", expires=expires).add_auth(req)
    return to_http(req)


def form_post(service: str = "sts", body: bytes = b"Action=GetCallerIdentity&Version=2011-06-15",
              **kw: Any) -> HttpRequest:
    return signed("POST", "/", service, body=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, **kw)


def json_post(target: str = "secretsmanager.GetSecretValue", **kw: Any) -> HttpRequest:
    return signed("POST", "/", "secretsmanager", body=b'{"SecretId": "auratime/rds/master"}',
                  headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}, **kw)


def rejected(request: HttpRequest, style: str = "query", now: float | None = None) -> SigV4Error:
    with pytest.raises(SigV4Error) as info:
        sigv4.verify(request, secret_for, time.time() if now is None else now, style=style)
    return info.value


# -- accepted -------------------------------------------------------------------------------------

class _Sent(Exception):
    """Raised from botocore's before-send hook: the request is captured, never sent."""

    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def _capture(request: AWSPreparedRequest, **_: Any) -> None:
    raise _Sent(request)


def client_request(service: str, method: str, region: str = "us-east-1", **params: Any) -> HttpRequest:
    """The exact request a real boto3 client sends (its serializer, its signer)."""
    client = boto3.client(service, endpoint_url=ENDPOINT, region_name=region, aws_access_key_id=AK,
                          aws_secret_access_key=SECRET, config=Config(retries={"max_attempts": 1}))
    client.meta.events.register("before-send.*", _capture)
    with pytest.raises(_Sent) as info:
        getattr(client, method)(**params)
    return to_http(info.value.request)


@pytest.mark.parametrize(("service", "method", "params", "signing_name"), [
    ("sts", "get_caller_identity", {}, "sts"),
    ("secretsmanager", "get_secret_value", {"SecretId": "auratime/rds/master"}, "secretsmanager"),
    ("kms", "encrypt", {"KeyId": "alias/aws/rds", "Plaintext": b"x"}, "kms"),
    ("rds", "describe_db_instances", {"Filters": [{"Name": "engine", "Values": ["aurora postgres/*~"]}]},
     "rds"),
    ("ec2", "describe_vpcs", {"VpcIds": ["vpc-1"]}, "ec2"),
    ("cloudwatch", "get_metric_data", {
        "MetricDataQueries": [{"Id": "q", "Expression": "SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/RDS\")",
                               "Period": 60}],
        "StartTime": 1_700_000_000, "EndTime": 1_700_000_600}, "monitoring"),
])
def test_real_boto3_clients_are_accepted(service: str, method: str, params: dict[str, Any],
                                         signing_name: str) -> None:
    request = client_request(service, method, region="ap-northeast-1", **params)
    scope = sigv4.verify(request, secret_for, time.time())
    assert (scope.access_key, scope.region, scope.service) == (AK, "ap-northeast-1", signing_name)
    assert sigv4.scope_of(request) == scope


def test_cloudwatch_query_compatible_headers_are_signed() -> None:
    # Whichever of its protocols botocore picks (json 1.0 here, CBOR in newer releases), it signs it.
    request = client_request("cloudwatch", "list_metrics")
    scope = sigv4.verify(request, secret_for, time.time())
    assert scope.service == "monitoring"


def test_query_form_post() -> None:
    scope = sigv4.verify(form_post(), secret_for, time.time())
    assert not scope.presigned and scope.signed_headers == ("content-type", "host", "x-amz-date")


def test_json_with_target() -> None:
    scope = sigv4.verify(json_post(), secret_for, time.time(), style="json")
    assert "x-amz-target" in scope.signed_headers


def test_cbor_path() -> None:
    request = signed("POST", "/service/GraniteServiceVersion20100801/operation/GetMetricData", "monitoring",
                     body=bytes(range(256)), headers={"Content-Type": "application/cbor",
                                                      "smithy-protocol": "rpc-v2-cbor"})
    assert sigv4.verify(request, secret_for, time.time()).service == "monitoring"


def test_get_with_query_string_needing_encoding() -> None:
    params = {"Action": "DescribeDBInstances", "Version": "2014-10-31", "Marker": "a b+c/d=e&f~g*h",
              "Filters.Filter.1.Name": "db-instance-id", "Empty": "", "Ünïcode": "蔵"}
    request = signed("GET", "/", "rds", params=params)
    assert sigv4.verify(request, secret_for, time.time()).service == "rds"


@pytest.mark.parametrize("path", [
    "/2015-03-31/functions/my%20function/invocations",
    "/a/b%2Fc/%E8%94%B5/",
    "/some//double/./dots/../path",
    "/~user/x-y_z.w",
])
def test_paths_needing_encoding(path: str) -> None:
    request = signed("GET", path, "lambda")
    assert request.path == path
    sigv4.verify(request, secret_for, time.time())


def test_header_whitespace_is_folded() -> None:
    request = signed("POST", "/", "sts", body=b"Action=GetCallerIdentity",
                     headers={"X-Kura-Note": "  a   b \t c  ",
                              "Content-Type": "application/x-www-form-urlencoded"})
    assert "x-kura-note" in sigv4.verify(request, secret_for, time.time()).signed_headers


def test_date_header_instead_of_x_amz_date() -> None:
    request = signed("POST", "/", "sts", body=b"Action=GetCallerIdentity",
                     headers={"Date": "Thu, 01 Jan 2026 00:00:00 GMT"})
    assert "x-amz-date" not in request.headers and "date" in request.headers
    sigv4.verify(request, secret_for, time.time())


def test_declared_payload_hash_and_unsigned_payload() -> None:
    import hashlib

    body = b'{"SecretId": "s"}'
    declared = signed("POST", "/", "secretsmanager", body=body,
                      headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    sigv4.verify(declared, secret_for, time.time())
    unsigned = signed("POST", "/", "secretsmanager", body=body,
                      headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    unsigned.body = b'{"SecretId": "other"}'  # not covered by the signature, by the client's choice
    sigv4.verify(unsigned, secret_for, time.time())


def test_presigned_get() -> None:
    request = presigned("sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert "authorization" not in request.headers
    scope = sigv4.verify(request, secret_for, time.time())
    assert scope.presigned and scope.expires == 3600 and scope.service == "sts"


def test_presigned_post_moves_form_into_query() -> None:
    form = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    request = presigned("sts", {}, method="POST", body=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert ("Action", "GetCallerIdentity") in request.query
    sigv4.verify(request, secret_for, time.time())


def test_presigned_url_from_boto3() -> None:
    client = boto3.client("rds", endpoint_url=ENDPOINT, region_name="eu-west-1", aws_access_key_id=AK,
                          aws_secret_access_key=SECRET)
    url = client.generate_presigned_url("describe_db_instances", Params={"DBInstanceIdentifier": "a-b"},
                                        ExpiresIn=300, HttpMethod="GET")
    parts = urlsplit(url)
    request = HttpRequest("GET", parts.path, parse_qsl(parts.query), parts.query,
                          Headers({"Host": parts.netloc}), b"")
    assert sigv4.verify(request, secret_for, time.time()).region == "eu-west-1"


def test_signing_keys_are_cached() -> None:
    request = form_post()
    sigv4.verify(request, secret_for, time.time())
    hits = sigv4._signing_key.cache_info().hits
    sigv4.verify(request, secret_for, time.time())
    assert sigv4._signing_key.cache_info().hits == hits + 1


def test_verify_is_fast() -> None:
    request = json_post()
    now = time.time()
    start = time.perf_counter()
    for _ in range(2000):
        sigv4.verify(request, secret_for, now, style="json")
    per_call = (time.perf_counter() - start) / 2000
    assert per_call < 0.0005, f"{per_call * 1e6:.0f} µs per verification"


# -- rejected, with AWS's codes per protocol --------------------------------------------------------

MISMATCH = {"query": ("SignatureDoesNotMatch", 403), "json": ("InvalidSignatureException", 400),
            "ec2": ("AuthFailure", 401)}
UNKNOWN = {"query": ("InvalidClientTokenId", 403), "json": ("UnrecognizedClientException", 400),
           "ec2": ("AuthFailure", 401)}
MISSING = {"query": ("MissingAuthenticationToken", 403), "json": ("MissingAuthenticationTokenException", 400),
           "ec2": ("MissingAuthenticationToken", 401)}
INCOMPLETE = {"query": ("IncompleteSignature", 400), "json": ("IncompleteSignatureException", 400),
              "ec2": ("IncompleteSignature", 400)}
EXPIRED = {"query": ("SignatureDoesNotMatch", 403), "json": ("InvalidSignatureException", 400),
           "ec2": ("RequestExpired", 400)}
STYLES = ["query", "json", "ec2"]


def code(err: AwsError) -> tuple[str, int]:
    return err.code, err.status


@pytest.mark.parametrize("style", STYLES)
def test_wrong_secret(style: str) -> None:
    err = rejected(form_post(secret="x" * 40), style)
    assert code(err) == MISMATCH[style] and err.failure is Failure.MISMATCH


@pytest.mark.parametrize("style", STYLES)
def test_altered_body(style: str) -> None:
    request = json_post()
    request.body = request.body.replace(b"master", b"other0")
    assert code(rejected(request, style)) == MISMATCH[style]


def test_altered_signed_header() -> None:
    request = json_post()
    request.headers["X-Amz-Target"] = "secretsmanager.DeleteSecret"
    assert code(rejected(request, "json")) == MISMATCH["json"]


def test_unsigned_header_may_change() -> None:
    request = json_post()
    request.headers["User-Agent"] = "something else"  # botocore does not sign it
    sigv4.verify(request, secret_for, time.time(), style="json")


def test_altered_query_and_path() -> None:
    request = signed("GET", "/a/b", "rds", params={"Action": "DescribeDBInstances"})
    request.raw_query = request.raw_query.replace("DescribeDBInstances", "DeleteDBInstance")
    assert code(rejected(request)) == MISMATCH["query"]
    request = signed("GET", "/a/b", "rds")
    request.path = "/a/c"
    assert code(rejected(request)) == MISMATCH["query"]


def test_declared_payload_hash_must_match_body() -> None:
    import hashlib

    request = signed("POST", "/", "secretsmanager", body=b"{}",
                     headers={"X-Amz-Content-SHA256": hashlib.sha256(b"{}").hexdigest()})
    request.body = b'{"x": 1}'
    assert code(rejected(request, "json")) == MISMATCH["json"]


@pytest.mark.parametrize("style", STYLES)
def test_clock_16_minutes_behind_the_request(style: str) -> None:
    err = rejected(form_post(), style, now=time.time() + 16 * 60)
    assert code(err) == EXPIRED[style] and err.failure is Failure.EXPIRED
    if style != "ec2":
        assert err.message.startswith("Signature expired: ") and err.message.endswith("- 15 min.)")


@pytest.mark.parametrize("style", STYLES)
def test_request_16_minutes_in_the_future(style: str) -> None:
    err = rejected(form_post(), style, now=time.time() - 16 * 60)
    assert code(err) == EXPIRED[style]
    if style != "ec2":
        assert err.message.startswith("Signature not yet current: ")


def test_14_minutes_of_skew_is_fine() -> None:
    sigv4.verify(form_post(), secret_for, time.time() + 14 * 60)
    sigv4.verify(form_post(), secret_for, time.time() - 14 * 60)


@pytest.mark.parametrize("style", STYLES)
def test_expired_presign(style: str) -> None:
    request = presigned("sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, expires=60)
    sigv4.verify(request, secret_for, time.time() + 50)
    assert code(rejected(request, style, now=time.time() + 120)) == EXPIRED[style]


def test_presign_signature_altered() -> None:
    request = presigned("sts", {"Action": "GetCallerIdentity"})
    request.raw_query = request.raw_query.replace("GetCallerIdentity", "GetSessionToken")
    assert code(rejected(request)) == MISMATCH["query"]


@pytest.mark.parametrize("style", STYLES)
def test_missing_authorization(style: str) -> None:
    request = form_post()
    request.headers = Headers([(k, v) for k, v in request.headers.items() if k.lower() != "authorization"])
    assert sigv4.scope_of(request) is None
    err = rejected(request, style)
    assert code(err) == MISSING[style] and err.failure is Failure.MISSING


@pytest.mark.parametrize("garbage", [
    "garbage",
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sts/aws4_request",
    "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sts, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=AK/2026-01-01/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0",
    "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sts/aws5_request, SignedHeaders=host, Signature=0",
    "AWS4-HMAC-SHA256 Credential=AK/20260101//sts/aws4_request, SignedHeaders=host, Signature=0",
    "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sts/aws4_request, SignedHeaders=Host;;x, Signature=0",
    "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
    "AWS4-ECDSA-P256-SHA256 Credential=AK/20260101/sts/aws4_request, SignedHeaders=host, Signature=0",
    "\x00\xff" * 50,
])
@pytest.mark.parametrize("style", STYLES)
def test_garbage_authorization(garbage: str, style: str) -> None:
    request = form_post()
    request.headers["Authorization"] = garbage
    with pytest.raises(SigV4Error) as info:
        sigv4.scope_of(request, style)
    assert code(info.value) == INCOMPLETE[style]
    assert code(rejected(request, style)) == INCOMPLETE[style]


def test_garbage_signature_value_is_a_mismatch() -> None:
    request = form_post()
    auth = request.headers["Authorization"]
    request.headers["Authorization"] = auth[: auth.index("Signature=")] + "Signature=蔵\x00"
    assert code(rejected(request)) == MISMATCH["query"]


def test_missing_date() -> None:
    request = form_post()
    request.headers = Headers([(k, v) for k, v in request.headers.items() if k.lower() != "x-amz-date"])
    assert code(rejected(request)) == INCOMPLETE["query"]
    request.headers["X-Amz-Date"] = "2026-01-01T00:00:00Z"
    assert code(rejected(request)) == INCOMPLETE["query"]
    request.headers["X-Amz-Date"] = "20261341T250000Z"
    assert code(rejected(request)) == INCOMPLETE["query"]


def test_scope_date_must_match_request_date() -> None:
    request = form_post()
    stamp = request.headers["X-Amz-Date"]
    auth = request.headers["Authorization"]
    request.headers["Authorization"] = auth.replace(f"/{stamp[:8]}/", "/20000101/")
    err = rejected(request)
    assert code(err) == MISMATCH["query"] and "Date in Credential scope" in err.message


def test_incomplete_presign() -> None:
    request = presigned("sts", {"Action": "GetCallerIdentity"})
    request.query = [(k, v) for k, v in request.query if k != "X-Amz-Signature"]
    assert code(rejected(request)) == INCOMPLETE["query"]
    request = presigned("sts", {"Action": "GetCallerIdentity"}, expires=3600)
    request.query = [(k, "9999999" if k == "X-Amz-Expires" else v) for k, v in request.query]
    assert code(rejected(request)) == INCOMPLETE["query"]


@pytest.mark.parametrize("style", STYLES)
def test_unknown_key_id(style: str) -> None:
    err = rejected(form_post(key="AKIAUNKNOWNKEY000000"), style)
    assert code(err) == UNKNOWN[style] and err.failure is Failure.UNKNOWN_KEY


def test_restyled() -> None:
    err = SigV4Error(Failure.UNKNOWN_KEY, "x")
    assert code(err) == UNKNOWN["query"]
    assert code(err.restyled("json")) == UNKNOWN["json"]


def test_style_for_service_models() -> None:
    import botocore.session

    session = botocore.session.get_session()
    styles = {name: sigv4.style_for(session.get_service_model(name).metadata)
              for name in ("sts", "rds", "elasticache", "sns", "secretsmanager", "kms", "logs", "pi",
                           "cloudwatch", "ec2")}
    assert styles == {"sts": "query", "rds": "query", "elasticache": "query", "sns": "query",
                      "secretsmanager": "json", "kms": "json", "logs": "json", "pi": "json",
                      "cloudwatch": "query", "ec2": "ec2"}


def test_scope_of_parses_without_verifying() -> None:
    scope = sigv4.scope_of(form_post(key="AKIAUNKNOWNKEY000000", region="eu-central-1"))
    assert scope is not None
    assert (scope.access_key, scope.region, scope.service) == ("AKIAUNKNOWNKEY000000", "eu-central-1", "sts")
    assert scope.credential == f"AKIAUNKNOWNKEY000000/{scope.date}/eu-central-1/sts/aws4_request"
