"""What each codec puts on the wire, checked literally, plus the model features our ten services do
not use (flattened lists and maps, renamed members, timestampFormat, queryName) on a synthetic model."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import cbor2
import pytest
from botocore.model import ServiceModel
from hypothesis import given, settings
from hypothesis import strategies as st

from kura.api.errors import AwsError
from kura.api.protocols import CborCodec, Ec2Codec, JsonCodec, QueryCodec, codec_for, detect
from kura.api.protocols.common import epoch_seconds, iso8601, parse_timestamp
from kura.api.types import Headers, HttpRequest
from kura.api.validation import validate
from tests.unit.test_protocols_strategies import (
    FAST,
    client_parse,
    client_request,
    expected_input,
    service,
    values,
)

WHEN = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _request(headers: dict[str, str], body: bytes = b"", path: str = "/",
             query: list[tuple[str, str]] | None = None) -> HttpRequest:
    return HttpRequest("POST", path, query or [], "", Headers(headers), body)


def test_query_response_layout() -> None:
    op = service("rds").operation_model("DescribeDBInstances")
    out = {"DBInstances": [{"DBInstanceIdentifier": "a&b", "MultiAZ": True, "InstanceCreateTime": WHEN,
                            "VpcSecurityGroups": []}]}
    response = QueryCodec().serialize(op, out, "rid-1")
    assert response.body.decode() == (
        '<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        "<DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>a&amp;b"
        "</DBInstanceIdentifier><MultiAZ>true</MultiAZ><InstanceCreateTime>2024-01-02T03:04:05.678Z"
        "</InstanceCreateTime><VpcSecurityGroups/></DBInstance></DBInstances></DescribeDBInstancesResult>"
        "<ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>"
    )
    assert response.headers == {"x-amzn-RequestId": "rid-1", "Content-Type": "text/xml"}


def test_query_error_layout() -> None:
    model = service("sts")
    err = AwsError("InvalidClientTokenId", "The security token included in the request is invalid.", 403)
    response = QueryCodec().serialize_error(model, None, err, "r")
    assert response.status == 403
    assert response.body.decode() == (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid."
        "</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )


def test_ec2_response_and_error_layout() -> None:
    op = service("ec2").operation_model("DescribeVpcs")
    body = Ec2Codec().serialize(op, {"Vpcs": [{"VpcId": "vpc-1", "Tags": []}]}, "rid").body.decode()
    assert body.endswith(
        '<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>rid</requestId>'
        "<vpcSet><item><vpcId>vpc-1</vpcId><tagSet/></item></vpcSet></DescribeVpcsResponse>"
    )
    error = Ec2Codec().serialize_error(service("ec2"), op, AwsError("InvalidVpcID.NotFound", "no"), "rid")
    assert error.body.decode().endswith(
        "<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>no</Message></Error></Errors>"
        "<RequestID>rid</RequestID></Response>"
    )


def test_json_headers_and_error_body() -> None:
    sm, cw = service("secretsmanager"), service("cloudwatch")
    op = sm.operation_model("GetSecretValue")
    ok = JsonCodec().serialize(op, {"CreatedDate": WHEN, "SecretBinary": b"\x00"}, "r")
    assert ok.body == b'{"CreatedDate":1704164645.678,"SecretBinary":"AA=="}'
    assert ok.headers["Content-Type"] == "application/x-amz-json-1.1"
    err = JsonCodec().serialize_error(sm, op, AwsError("ResourceNotFoundException", "gone"), "r")
    assert err.body == b'{"__type":"ResourceNotFoundException","message":"gone"}'
    assert err.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert "x-amzn-query-error" not in err.headers
    cw_err = JsonCodec().serialize_error(cw, None, AwsError("ResourceNotFound", "x", 404), "r")
    assert cw_err.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert cw_err.headers["x-amzn-query-error"] == "ResourceNotFound;Sender"


def test_cbor_headers_timestamps_and_blobs() -> None:
    op = service("cloudwatch").operation_model("GetMetricWidgetImage")
    response = CborCodec().serialize(op, {"MetricWidgetImage": b"\x89PNG"}, "r")
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert response.headers["Content-Type"] == "application/cbor"
    assert cbor2.loads(response.body) == {"MetricWidgetImage": b"\x89PNG"}
    stats = service("cloudwatch").operation_model("GetMetricStatistics")
    body = CborCodec().serialize(stats, {"Datapoints": [{"Timestamp": WHEN}]}, "r").body
    assert b"\xc1\xfb" in body  # tag 1, then a double: epoch seconds with milliseconds


def test_detect_picks_the_protocol_the_request_speaks() -> None:
    cw = service("cloudwatch")
    path = "/service/GraniteServiceVersion20100801/operation/X"
    cbor = _request({"smithy-protocol": "rpc-v2-cbor"}, path=path)
    assert detect(cbor, cw) is codec_for("smithy-rpc-v2-cbor")
    assert detect(_request({"X-Amz-Target": "GraniteServiceVersion20100801.X"}), cw) is codec_for("json")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert detect(_request(form, b"Action=ListMetrics&Version=2010-08-01"), cw) is codec_for("query")
    assert detect(_request({}, query=[("Action", "ListMetrics")]), cw) is codec_for("query")
    assert detect(_request({}, path=path), cw) is codec_for("smithy-rpc-v2-cbor")  # header left out
    assert detect(_request({}), cw) is None
    assert detect(_request({}), service("rds")) is codec_for("query")  # one protocol: its codec
    with pytest.raises(ValueError, match="rest-xml"):
        codec_for("rest-xml")


def test_operation_names() -> None:
    sm, cw = service("secretsmanager"), service("cloudwatch")
    assert JsonCodec().operation_name(_request({"x-amz-target": "secretsmanager.GetSecretValue"}), sm) \
        == "GetSecretValue"
    assert JsonCodec().operation_name(_request({"x-amz-target": "TrentService.Encrypt"}), sm) \
        == "TrentService.Encrypt"  # not a secretsmanager operation: the gateway says so
    assert JsonCodec().operation_name(_request({}), sm) is None
    path = "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    assert CborCodec().operation_name(_request({}, path=path), cw) == "ListMetrics"
    assert CborCodec().operation_name(_request({}, path="/"), cw) is None
    body = b"Version=2014-10-31&Action=Describe%44BInstances"
    assert QueryCodec().operation_name(_request({}, body), service("rds")) == "DescribeDBInstances"


def test_timestamps_in_every_form() -> None:
    assert parse_timestamp(1704164645.678001) == WHEN.replace(microsecond=678001)  # no float drift
    assert parse_timestamp("2024-01-02T03:04:05.678Z") == WHEN
    assert parse_timestamp("2024-01-02T05:04:05.678+02:00") == WHEN
    assert parse_timestamp("Tue, 02 Jan 2024 03:04:05 GMT") == WHEN.replace(microsecond=0)
    assert parse_timestamp("1704164645.678") == WHEN
    assert parse_timestamp("yesterday") is None and parse_timestamp(True) is None
    assert parse_timestamp(1e300) is None
    assert iso8601(WHEN) == "2024-01-02T03:04:05.678Z"
    assert iso8601(WHEN.replace(microsecond=5)) == "2024-01-02T03:04:05.000005Z"
    assert epoch_seconds(WHEN) == 1704164645.678 and epoch_seconds(WHEN.replace(microsecond=0)) == 1704164645


def test_query_get_requests_carry_parameters_in_the_query_string() -> None:
    op = service("rds").operation_model("DescribeDBInstances")
    query = [("Action", "DescribeDBInstances"), ("MaxRecords", "20"), ("Filters.Filter.1.Name", "engine"),
             ("Filters.Filter.1.Values.Value.1", "postgres")]
    request = HttpRequest("GET", "/", query, "", Headers({}), b"")
    assert QueryCodec().parse(request, op) == {
        "MaxRecords": 20, "Filters": [{"Name": "engine", "Values": ["postgres"]}]}


# -- a synthetic model with the features our services leave out --------------------------------
def _synthetic(protocol: str) -> ServiceModel:
    members = {
        "Flat": {"shape": "FlatList"}, "Named": {"shape": "NamedFlatList"},
        "Attrs": {"shape": "FlatMap", "locationName": "Attribute"},
        "Renamed": {"shape": "Str", "locationName": "otherName", "queryName": "QueryRenamed"},
        "When": {"shape": "Epoch"}, "Data": {"shape": "Bin"}, "Ratio": {"shape": "Num"},
        "Nested": {"shape": "Pair"}, "Pairs": {"shape": "PairMap"},
    }
    shapes: dict[str, Any] = {
        "In": {"type": "structure", "members": members},
        "Out": {"type": "structure", "members": {k: v for k, v in members.items() if k != "Renamed"}},
        "FlatList": {"type": "list", "member": {"shape": "Str"}, "flattened": True, "min": 1},
        "NamedFlatList": {"type": "list", "member": {"shape": "Str", "locationName": "Item"},
                          "flattened": True, "min": 1},
        "FlatMap": {"type": "map", "key": {"shape": "Str", "locationName": "Name"},
                    "value": {"shape": "Str", "locationName": "Value"}, "flattened": True, "min": 1},
        "PairMap": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Pair"}},
        "Pair": {"type": "structure", "required": ["Left"],
                 "members": {"Left": {"shape": "Str"}, "Right": {"shape": "Pair"}}},
        "Str": {"type": "string"}, "Bin": {"type": "blob"}, "Num": {"type": "double"},
        "Epoch": {"type": "timestamp", "timestampFormat": "unixTimestamp"},
    }
    return ServiceModel({
        "metadata": {"apiVersion": "2020-01-01", "endpointPrefix": "synth", "protocol": protocol,
                     "protocols": [protocol], "serviceId": "Synth", "signatureVersion": "v4",
                     "jsonVersion": "1.1", "targetPrefix": "Synth"},
        "operations": {"Op": {"name": "Op", "http": {"method": "POST", "requestUri": "/"},
                              "input": {"shape": "In"},
                              "output": {"shape": "Out", "resultWrapper": "OpResult"}}},
        "shapes": shapes,
    }, service_name="synth")


@pytest.mark.parametrize("protocol", ["query", "ec2", "json", "smithy-rpc-v2-cbor"])
def test_synthetic_model_round_trips(protocol: str) -> None:
    model = _synthetic(protocol)
    op = model.operation_model("Op")
    codec = codec_for(protocol)

    @settings(FAST, max_examples=25)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        params = data.draw(values(op.input_shape))
        assert codec.parse(client_request(op, params, protocol), op) == expected_input(params, op, protocol)
        output = data.draw(values(op.output_shape))
        parsed = client_parse(codec.serialize(op, output, "r"), op, protocol)
        parsed.pop("ResponseMetadata")
        assert parsed == output

    check()


def test_query_namespace_falls_back_to_the_service_address() -> None:
    model = _synthetic("query")
    body = QueryCodec().serialize(model.operation_model("Op"), {}, "r").body.decode()
    assert body.startswith('<OpResponse xmlns="https://synth.amazonaws.com/doc/2020-01-01/"><OpResult>')


def test_get_secret_value_is_fast() -> None:
    """The hot path: parse, validate and serialize a GetSecretValue well under 100 µs."""
    model = service("secretsmanager")
    op = model.operation_model("GetSecretValue")
    request = client_request(op, {"SecretId": "auratime/rds/master", "VersionStage": "AWSCURRENT"}, "json")
    output = {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:auratime/rds/master-AbCdEf",
              "Name": "auratime/rds/master", "VersionId": "0123456789abcdef", "CreatedDate": WHEN,
              "SecretString": '{"username":"a","password":"b"}', "VersionStages": ["AWSCURRENT"]}
    codec = JsonCodec()
    assert op.input_shape is not None

    def once() -> None:
        params = codec.parse(request, op)
        validate(op.input_shape, params, "json")
        codec.serialize(op, output, "rid")

    for _ in range(200):
        once()
    best = float("inf")
    for _ in range(5):  # best of five rounds: a shared CI machine is noisy
        start = time.perf_counter()
        for _ in range(500):
            once()
        best = min(best, (time.perf_counter() - start) / 500)
    assert best < 100e-6, f"{best * 1e6:.1f} µs"
