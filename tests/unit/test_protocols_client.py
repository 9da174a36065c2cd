"""boto3 clients talking to the codecs in-process: everything a real client does (its serializer,
retries, parser, exception classes) against detect → parse → validate → serialize, minus the socket.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from kura.api.errors import AwsError
from kura.api.protocols import detect
from kura.api.types import Headers, HttpRequest
from kura.api.validation import error_style, validate

Handler = Callable[[dict[str, Any]], dict[str, Any]]
WHEN = datetime(2024, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)


@functools.cache
def _session(service: str, protocol: str | None) -> botocore.session.Session:
    session = botocore.session.get_session()
    if protocol is not None:
        # The client picks its protocol from the model; a private session's copy lists only one.
        data = session.get_component("data_loader").load_service_model(service, "service-2")
        data["metadata"] = {**data["metadata"], "protocols": [protocol]}
    return session


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class InProcess:
    """A boto3 client whose requests go through the codecs; records what the handlers saw."""

    def __init__(self, service: str, handlers: dict[str, Handler], protocol: str | None = None) -> None:
        self.client: Any = _session(service, protocol).create_client(
            service, endpoint_url="http://127.0.0.1:4566", region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}),
        )
        self.model = self.client.meta.service_model
        self.handlers = handlers
        self.seen: dict[str, dict[str, Any]] = {}
        self.protocol = ""
        self.client.meta.events.register("before-send", self._send)

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        headers = Headers({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})
        http = HttpRequest(request.method, url.path, parse_qsl(url.query, keep_blank_values=True),
                           url.query, headers, body)
        codec = detect(http, self.model)
        assert codec is not None
        self.protocol = codec.name
        operation = None
        try:
            name = codec.operation_name(http, self.model)
            assert name is not None
            operation = self.model.operation_model(name)
            params = codec.parse(http, operation)
            validate(operation.input_shape, params, error_style(self.model))
            self.seen[name] = params
            response = codec.serialize(operation, self.handlers[name](params), "rid-42")
        except AwsError as err:
            response = codec.serialize_error(self.model, operation, err, "rid-42")
        return AWSResponse(request.url, response.status, response.headers, _Raw(response.body))


def test_secrets_manager_get_secret_value() -> None:
    svc = InProcess("secretsmanager", {"GetSecretValue": lambda p: {
        "Name": p["SecretId"], "SecretString": '{"a": 1}', "CreatedDate": WHEN,
        "VersionStages": ["AWSCURRENT"], "SecretBinary": b"\x00\xff"}})
    out = svc.client.get_secret_value(SecretId="app/db")
    assert svc.seen["GetSecretValue"] == {"SecretId": "app/db"}
    assert (out["Name"], out["SecretString"], out["SecretBinary"]) == ("app/db", '{"a": 1}', b"\x00\xff")
    assert out["CreatedDate"] == WHEN
    assert out["ResponseMetadata"]["RequestId"] == "rid-42"


def _raise(code: str, message: str, status: int = 400) -> Handler:
    def handler(params: dict[str, Any]) -> dict[str, Any]:
        raise AwsError(code, message, status)

    return handler


def test_modeled_errors_become_the_clients_exception_classes() -> None:
    sm = InProcess("secretsmanager", {"DescribeSecret": _raise("ResourceNotFoundException", "gone")})
    with pytest.raises(sm.client.exceptions.ResourceNotFoundException, match="gone"):
        sm.client.describe_secret(SecretId="x")
    not_found = _raise("DBInstanceNotFound", "DBInstance db1 not found.", 404)
    rds = InProcess("rds", {"DescribeDBInstances": not_found})
    with pytest.raises(rds.client.exceptions.DBInstanceNotFoundFault) as caught:
        rds.client.describe_db_instances(DBInstanceIdentifier="db1")
    assert caught.value.response["Error"]["Type"] == "Sender"
    missing_vpc = _raise("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist")
    ec2 = InProcess("ec2", {"DescribeVpcs": missing_vpc})
    with pytest.raises(ClientError) as err:
        ec2.client.describe_vpcs(VpcIds=["vpc-1"])
    assert err.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
    assert err.value.response["ResponseMetadata"]["RequestId"] == "rid-42"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_cloudwatch_in_each_protocol_keeps_query_error_codes(protocol: str) -> None:
    cw = InProcess("cloudwatch", {
        "PutMetricData": lambda p: {},
        "DescribeAlarms": _raise("ResourceNotFound", "no such alarm", 404),
        "GetMetricStatistics": lambda p: {"Label": "cpu", "Datapoints": [
            {"Timestamp": WHEN, "Average": 0.25, "Unit": "Percent"}]},
    }, protocol)
    cw.client.put_metric_data(Namespace="Kura", MetricData=[
        {"MetricName": "cpu", "Timestamp": WHEN, "Value": 0.5, "Unit": "Percent",
         "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "db1"}]}])
    assert cw.protocol == protocol
    datum = cw.seen["PutMetricData"]["MetricData"][0]
    assert datum["Timestamp"] == WHEN and datum["Value"] == 0.5
    stats = cw.client.get_metric_statistics(Namespace="Kura", MetricName="cpu", StartTime=WHEN, EndTime=WHEN,
                                            Period=60, Statistics=["Average"])
    assert stats["Datapoints"] == [{"Timestamp": WHEN, "Average": 0.25, "Unit": "Percent"}]
    with pytest.raises(cw.client.exceptions.ResourceNotFound, match="no such alarm"):
        cw.client.describe_alarms()


def test_validation_errors_reach_the_client_in_the_service_style() -> None:
    sm = InProcess("secretsmanager", {"GetSecretValue": lambda p: {}})
    with pytest.raises(ClientError) as err:
        sm.client.get_secret_value(SecretId="x" * 3000)  # botocore checks min, not max
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'secretId' failed to satisfy constraint: Member must have length less than or equal to 2048" \
        in err.value.response["Error"]["Message"]
    ec2 = InProcess("ec2", {"CreateVpc": lambda p: {}})
    with pytest.raises(ClientError) as err:
        ec2.client.create_vpc(CidrBlock="10.0.0.0/16", InstanceTenancy="bogus")  # enums are the server's job
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "InstanceTenancy" in err.value.response["Error"]["Message"]
    assert "CreateVpc" not in ec2.seen


def test_round_trips_of_everyday_calls() -> None:
    kms = InProcess("kms", {"Encrypt": lambda p: {"CiphertextBlob": b"c" + p["Plaintext"]}})
    assert kms.client.encrypt(KeyId="alias/k", Plaintext=b"\x01\x02")["CiphertextBlob"] == b"c\x01\x02"
    rds = InProcess("rds", {"DescribeDBInstances": lambda p: {"DBInstances": [
        {"DBInstanceIdentifier": "db1", "InstanceCreateTime": WHEN, "MultiAZ": True, "VpcSecurityGroups": [],
         "Endpoint": {"Address": "127.0.0.2", "Port": 5432}}], "Marker": "m"}})
    filters = [{"Name": "engine", "Values": ["postgres", "mysql"]}]
    out = rds.client.describe_db_instances(Filters=filters)
    assert rds.seen["DescribeDBInstances"] == {"Filters": filters}
    assert out["DBInstances"][0]["Endpoint"] == {"Address": "127.0.0.2", "Port": 5432}
    assert out["DBInstances"][0]["VpcSecurityGroups"] == [] and out["Marker"] == "m"
    ec2 = InProcess("ec2", {"DescribeVpcs": lambda p: {"Vpcs": [
        {"VpcId": "vpc-1", "IsDefault": True, "Tags": [{"Key": "Name", "Value": "default"}]}]}})
    vpcs = ec2.client.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    assert ec2.seen["DescribeVpcs"] == {"Filters": [{"Name": "isDefault", "Values": ["true"]}]}
    assert vpcs == [{"VpcId": "vpc-1", "IsDefault": True, "Tags": [{"Key": "Name", "Value": "default"}]}]
    sts = InProcess("sts", {"GetCallerIdentity": lambda p: {"Account": "123456789012", "UserId": "u",
                                                             "Arn": "arn:aws:iam::123456789012:root"}})
    assert sts.client.get_caller_identity()["Account"] == "123456789012"
    for protocol in ("smithy-rpc-v2-cbor", "json"):
        pi = InProcess("pi", {"ListAvailableResourceMetrics": lambda p: {"Metrics": [{"Metric": "db.load"}]}},
                       protocol)
        metrics = pi.client.list_available_resource_metrics(
            ServiceType="RDS", Identifier="db-1", MetricTypes=["os"])["Metrics"]
        assert metrics == [{"Metric": "db.load"}] and pi.protocol == protocol
