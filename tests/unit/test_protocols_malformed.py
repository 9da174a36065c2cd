"""Malformed requests get the protocol's own error code, never a Python exception."""

from __future__ import annotations

import json

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kura.api.errors import AwsError
from kura.api.protocols import CborCodec, Ec2Codec, QueryCodec, codec_for
from kura.api.types import Headers, HttpRequest
from kura.api.validation import error_style, validate
from tests.unit.test_protocols_strategies import FAST, PAIRS, service

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def _post(body: bytes, headers: dict[str, str] | None = None, path: str = "/") -> HttpRequest:
    return HttpRequest("POST", path, [], "", Headers(headers or {}), body)


def _code(svc: str, op_name: str, request: HttpRequest, protocol: str) -> str | None:
    """The error code the request earns in parse + validate, or None if it is accepted."""
    model = service(svc)
    op = model.operation_model(op_name)
    try:
        params = codec_for(protocol).parse(request, op)
        if op.input_shape is not None:
            validate(op.input_shape, params, error_style(model))
    except AwsError as err:
        return err.code
    return None


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"', b"[" * 5000])
def test_json_garbage_is_a_serialization_exception(body: bytes) -> None:
    assert _code("secretsmanager", "GetSecretValue", _post(body), "json") == "SerializationException"


def test_json_wrong_types_and_bad_base64() -> None:
    def body(value: object) -> HttpRequest:
        return _post(json.dumps(value).encode())

    serialization = "SerializationException"
    assert _code("secretsmanager", "GetSecretValue", body({"SecretId": 5}), "json") == serialization
    assert _code("secretsmanager", "GetSecretValue", body({"SecretId": {"a": 1}}), "json") == serialization
    assert _code("secretsmanager", "PutSecretValue", body({"SecretId": "s", "SecretBinary": "!!"}), "json") \
        == "SerializationException"
    assert _code("kms", "GenerateRandom", body({"NumberOfBytes": 2**40}), "json") == "SerializationException"
    assert _code("secretsmanager", "GetSecretValue", body({}), "json") == "ValidationException"
    # Unknown members are ignored, as AWS does; an empty body is an empty object.
    assert _code("secretsmanager", "GetSecretValue", body({"SecretId": "s", "Bogus": [1]}), "json") is None
    assert _code("secretsmanager", "ListSecrets", _post(b""), "json") is None


@pytest.mark.parametrize("body", [b"\xff", b"\x9f", cbor2.dumps([1]), cbor2.dumps("x"), b"\xa1"])
def test_cbor_garbage_is_a_serialization_exception(body: bytes) -> None:
    assert _code("cloudwatch", "ListMetrics", _post(body), "smithy-rpc-v2-cbor") == "SerializationException"


def test_cbor_wrong_types() -> None:
    wrong = _post(cbor2.dumps({"Namespace": 5, "MetricData": "x"}))
    assert _code("cloudwatch", "PutMetricData", wrong, "smithy-rpc-v2-cbor") == "InvalidParameterValue"
    wrong_pi = _post(cbor2.dumps({"ServiceType": "RDS", "Identifier": b"bytes", "MetricTypes": ["os"]}))
    code = _code("pi", "ListAvailableResourceMetrics", wrong_pi, "smithy-rpc-v2-cbor")
    assert code == "SerializationException"


@pytest.mark.parametrize(("body", "code"), [
    (b"Action=DescribeDBInstances&MaxRecords=%ff", "MalformedQueryString"),
    (b"Action=DescribeDBInstances&MaxRecords=abc", "InvalidParameterValue"),
    (b"Action=DescribeDBInstances&Filters=garbage", "InvalidParameterValue"),
    (b"Action=DescribeDBInstances&Filters.Filter.1.Values.Value.1=x", "MissingParameter"),
    (b"Action=DescribeDBInstances&Filters.Filter.x.Name=a&..=&Filters.=", None),
    (b"Action=CreateDBInstance&DBInstanceIdentifier=a", "MissingParameter"),
    (b"&&==&Action", None),
])
def test_query_malformed(body: bytes, code: str | None) -> None:
    op = body.split(b"&")[0].removeprefix(b"Action=").decode() or "DescribeDBInstances"
    op = op if op in service("rds").operation_names else "DescribeDBInstances"
    assert _code("rds", op, _post(body, FORM), "query") == code


def test_ec2_malformed() -> None:
    assert _code("ec2", "DescribeVpcs", _post(b"Action=DescribeVpcs&DryRun=maybe", FORM), "ec2") \
        == "InvalidParameterValue"
    # Filter.1.Value is a list: a bare value is the wrong type.
    bare = _post(b"Action=DescribeVpcs&VpcId.x=1&Filter.1.Value=v", FORM)
    assert _code("ec2", "DescribeVpcs", bare, "ec2") == "InvalidParameterValue"
    assert _code("ec2", "CreateVpc", _post(b"Action=CreateVpc&InstanceTenancy=bogus", FORM), "ec2") \
        == "InvalidParameterValue"


def test_unknown_actions_are_named_for_the_gateway() -> None:
    rds = service("rds")
    request = _post(b"Action=CreateBlueMoon&Version=2014-10-31", FORM)
    name = QueryCodec().operation_name(request, rds)
    assert name == "CreateBlueMoon" and name not in rds.operation_names
    assert Ec2Codec().operation_name(_post(b"Version=2016-11-15"), service("ec2")) is None
    assert CborCodec().operation_name(_post(b"", path="/service/Other/operation/X"), service("cloudwatch")) \
        == "Other.X"


# -- fuzzing: whatever arrives, the answer is an AwsError or a dict ----------------------------
_FUZZ_OPS = {"json": ("secretsmanager", "CreateSecret"), "query": ("rds", "CreateDBInstance"),
             "smithy-rpc-v2-cbor": ("cloudwatch", "PutMetricData"), "ec2": ("ec2", "RunInstances")}
_KEY_PARTS = st.sampled_from(["Filters", "Filter", "member", "entry", "key", "value", "1", "2", "x", "",
                              "DBInstanceIdentifier", "Tags", "Tag", "Key", "MetricData", "MaxCount"])
_FORM_PAIRS = st.lists(st.tuples(st.lists(_KEY_PARTS, min_size=1, max_size=5).map(".".join),
                                 st.text(max_size=5)), max_size=12)
_JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(["Name", "SecretString", "MetricData", "Tags",
                                                           "Namespace", "Value", "Key", "Timestamp"]),
                                          inner, max_size=4), max_leaves=12)


@pytest.mark.parametrize("protocol", sorted(_FUZZ_OPS))
@FAST
@given(data=st.data())
def test_fuzzed_requests_only_raise_aws_errors(protocol: str, data: st.DataObject) -> None:
    svc, op = _FUZZ_OPS[protocol]
    raw = data.draw(st.binary(max_size=64))
    assert _code(svc, op, _post(raw, FORM), protocol) != ""  # any outcome but an exception
    if protocol in ("query", "ec2"):
        pairs = data.draw(_FORM_PAIRS)
        request = HttpRequest("GET", "/", pairs, "", Headers({}), b"")
    else:
        value = data.draw(st.dictionaries(st.sampled_from(["Name", "SecretString", "Namespace", "MetricData",
                                                           "SecretBinary", "Tags", "x"]), _JSONISH))
        body = json.dumps(value).encode() if protocol == "json" else cbor2.dumps(value)
        request = _post(body)
    assert _code(svc, op, request, protocol) != ""


@pytest.mark.parametrize(("svc", "proto"), PAIRS)
def test_every_codec_answers_errors_for_unknown_operations(svc: str, proto: str) -> None:
    response = codec_for(proto).serialize_error(service(svc), None, AwsError("InvalidAction", "no"), "r")
    assert response.status == 400 and b"InvalidAction" in response.body
