"""Model-driven input validation: codes and messages per service style."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import DenormalizedStructureBuilder, Shape
from hypothesis import given
from hypothesis import strategies as st

from kura.api.errors import AwsError
from kura.api.validation import error_style, validate
from tests.unit.test_protocols_strategies import FAST, PAIRS, service, values


def _input(svc: str, op: str) -> Shape:
    shape = service(svc).operation_model(op).input_shape
    assert shape is not None
    return shape


def _error(svc: str, op: str, params: dict[str, Any], style: str | None = None) -> AwsError:
    with pytest.raises(AwsError) as caught:
        validate(_input(svc, op), params, style or error_style(service(svc)))
    return caught.value


def test_error_styles_follow_the_protocol() -> None:
    names = ("rds", "ec2", "secretsmanager", "cloudwatch", "pi")
    styles = {name: error_style(service(name)) for name in names}
    # CloudWatch is awsQueryCompatible: its clients expect query codes whatever the protocol.
    assert styles == {"rds": "query", "ec2": "ec2", "secretsmanager": "json", "cloudwatch": "query",
                      "pi": "json"}


def test_json_missing_member_reads_like_aws() -> None:
    err = _error("secretsmanager", "GetSecretValue", {})
    assert (err.code, err.status) == ("ValidationException", 400)
    assert err.message == ("1 validation error detected: Value null at 'secretId' failed to satisfy "
                           "constraint: Member must not be null")


def test_json_lists_every_problem_with_nested_paths() -> None:
    params = {"KeySpec": "NOPE", "Tags": [{"TagKey": "k"}], "Description": "x" * 9000}
    err = _error("kms", "CreateKey", params)
    assert err.message.startswith("3 validation errors detected: ")
    assert "Value 'NOPE' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [" \
        in err.message
    assert "Value null at 'tags.1.member.tagValue' failed to satisfy constraint: Member must not be null" \
        in err.message
    assert "at 'description' failed to satisfy constraint: Member must have length less than or equal " \
        "to 8192" in err.message


def test_json_ranges_and_patterns() -> None:
    err = _error("kms", "GenerateRandom", {"NumberOfBytes": 0})
    assert err.message.endswith("Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must "
                                "have value greater than or equal to 1")
    err = _error("logs", "CreateLogGroup", {"logGroupName": "bad name!"})
    assert err.message.endswith("Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
    validate(_input("logs", "CreateLogGroup"), {"logGroupName": "/aws/rds/instance/db1/postgresql"}, "json")


def test_sensitive_values_never_appear() -> None:
    err = _error("secretsmanager", "CreateSecret", {"Name": "n", "SecretString": "s" * 70000})
    assert "Value at 'secretString' failed" in err.message and "sss" not in err.message
    err = _error("rds", "CreateDBInstance", {"DBInstanceIdentifier": "a", "DBInstanceClass": "c",
                                              "Engine": "postgres", "MasterUserPassword": 5})
    assert err.code == "InvalidParameterValue" and "5" not in err.message


def test_json_wrong_types_are_serialization_errors() -> None:
    for params in ({"SecretId": 1}, {"SecretId": "s", "VersionStage": ["x"]}, {"SecretId": True}):
        assert _error("secretsmanager", "GetSecretValue", params).code == "SerializationException"
    assert _error("kms", "GenerateRandom", {"NumberOfBytes": True}).code == "SerializationException"
    assert _error("kms", "GenerateRandom", {"NumberOfBytes": 2**31}).code == "SerializationException"


def test_query_style_codes_and_wire_paths() -> None:
    err = _error("rds", "CreateDBInstance", {"DBInstanceIdentifier": "db1"})
    assert err.code == "MissingParameter"
    assert err.message == "The request must contain the parameter DBInstanceClass"
    err = _error("rds", "DescribeDBInstances", {"Filters": [{"Name": "engine"}]})
    assert err.message == "The request must contain the parameter Filters.Filter.1.Values"
    err = _error("rds", "DescribeDBInstances", {"MaxRecords": "many"})
    assert (err.code, err.message) == (
        "InvalidParameterValue", "Value (many) for parameter MaxRecords is invalid. Expected an integer.")
    err = _error("ec2", "DescribeVpcs", {"Filters": [{"Name": 5}]})
    assert err.message == "Value (5) for parameter Filter.1.Name is invalid. Expected a string."
    err = _error("ec2", "CreateVpc", {"InstanceTenancy": "shared"})
    assert err.code == "InvalidParameterValue" and "InstanceTenancy" in err.message


def test_query_compatible_service_answers_query_codes() -> None:
    assert _error("cloudwatch", "PutMetricData", {"MetricData": []}).code == "MissingParameter"
    assert _error("cloudwatch", "PutMetricData", {"Namespace": "", "MetricData": []}).code \
        == "InvalidParameterValue"


def test_valid_inputs_and_unknown_members_pass() -> None:
    validate(_input("secretsmanager", "GetSecretValue"), {"SecretId": "a", "Unknown": {"x": 1}}, "json")
    validate(_input("cloudwatch", "PutMetricData"), {"Namespace": "Kura", "MetricData": [
        {"MetricName": "cpu", "Timestamp": datetime.now(UTC), "Value": 1, "Values": [0.5, 2]}]}, "query")
    validate(_input("rds", "CreateDBInstance"), {
        "DBInstanceIdentifier": "db1", "DBInstanceClass": "db.t3.micro", "Engine": "postgres",
        "AllocatedStorage": 20, "MultiAZ": False, "Tags": [{"Key": "team", "Value": "a"}]}, "query")


def test_unions_need_exactly_one_member() -> None:
    shape = DenormalizedStructureBuilder().with_members({
        "Choice": {"type": "structure", "union": True, "members": {
            "A": {"type": "string"}, "B": {"type": "integer"}}},
    }).build_model()
    validate(shape, {"Choice": {"A": "x"}}, "json")
    with pytest.raises(AwsError, match="exactly one member"):
        validate(shape, {"Choice": {"A": "x", "B": 1}}, "json")


@pytest.mark.parametrize("svc", sorted({svc for svc, _ in PAIRS}))
def test_generated_inputs_never_crash_the_validator(svc: str) -> None:
    ops = [op for op in (service(svc).operation_model(n) for n in service(svc).operation_names)][:25]

    @FAST
    @given(st.data())
    def check(data: st.DataObject) -> None:
        for op in ops:
            assert op.input_shape is not None
            params = data.draw(values(op.input_shape), label=op.name)
            try:
                validate(op.input_shape, params, error_style(service(svc)))
            except AwsError as err:  # only patterns can fail: the strategies ignore them
                assert "regular expression" in err.message, err.message

    check()
