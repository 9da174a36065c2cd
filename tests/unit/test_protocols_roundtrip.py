"""Round trips through botocore for every operation of every service Kura speaks, in each protocol.

botocore's client serializer writes generated inputs, Kura's codec must read them back; Kura's codec
writes generated outputs, botocore's parser must read them back (the LocalStack way of testing).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kura.api.errors import AwsError
from kura.api.protocols import codec_for, detect
from tests.unit.test_protocols_strategies import (
    FAST,
    PAIRS,
    client_parse,
    client_request,
    expected_input,
    service,
    values,
)

CHUNK = 8  # operations per hypothesis test: its per-test overhead dwarfs a round trip


def _cases() -> list[tuple[str, str, tuple[str, ...]]]:
    cases = []
    for svc, proto in PAIRS:
        names = service(svc).operation_names
        cases += [(svc, proto, tuple(names[i:i + CHUNK])) for i in range(0, len(names), CHUNK)]
    return cases


CASES = _cases()


@pytest.mark.parametrize(("svc", "proto", "ops"), CASES, ids=[f"{s}-{p}-{o[0]}" for s, p, o in CASES])
@FAST
@given(data=st.data())
def test_round_trip(svc: str, proto: str, ops: tuple[str, ...], data: st.DataObject) -> None:
    for op in ops:
        _round_trip(svc, proto, op, data)


def _round_trip(svc: str, proto: str, op: str, data: st.DataObject) -> None:
    model = service(svc)
    operation = model.operation_model(op)
    codec = codec_for(proto)
    assert operation.input_shape is not None
    params = data.draw(values(operation.input_shape), label=f"{op} input")
    request = client_request(operation, params, proto)
    assert detect(request, model) is codec, op
    assert codec.operation_name(request, model) == op
    assert codec.parse(request, operation) == expected_input(params, operation, proto), op

    shape = operation.output_shape
    if shape is None or operation.has_event_stream_output:
        return  # event streams are not request/response bodies
    output = data.draw(values(shape), label=f"{op} output")
    response = codec.serialize(operation, output, "req-1")
    assert response.status == 200
    parsed = client_parse(response, operation, proto)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1", op
    assert parsed == output, op


def _modeled_code(svc: str) -> str:
    shapes = service(svc).error_shapes
    return str(shapes[0].error_code) if shapes else "ResourceNotFoundException"


@pytest.mark.parametrize(("svc", "proto"), PAIRS)
@pytest.mark.parametrize("status", [400, 404, 500])
def test_errors_reach_the_client_as_code_and_message(svc: str, proto: str, status: int) -> None:
    model = service(svc)
    operation = model.operation_model(model.operation_names[0])
    codec = codec_for(proto)
    for code in (_modeled_code(svc), "InvalidParameterValue", "ThrottlingException"):
        error = AwsError(code, "bad <value> & 'quotes' \"here\"", status, sender_fault=status < 500)
        response = codec.serialize_error(model, operation, error, "req-err")
        assert response.status == status
        assert response.headers["x-amzn-RequestId"] == "req-err"
        parsed: dict[str, Any] = client_parse(response, operation, proto)
        assert parsed["Error"]["Code"] == code
        assert parsed["Error"]["Message"] == error.message
        assert parsed["ResponseMetadata"]["RequestId"] == "req-err"
        if proto == "query":
            assert parsed["Error"]["Type"] == ("Sender" if status < 500 else "Receiver")


def test_query_compatible_errors_carry_the_query_code_and_the_modeled_name() -> None:
    model = service("cloudwatch")
    operation = model.operation_model("PutMetricData")
    for proto in ("smithy-rpc-v2-cbor", "json"):
        error = AwsError("InvalidParameterValue", "no", 400)
        response = codec_for(proto).serialize_error(model, operation, error, "r")
        assert response.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
        parsed = client_parse(response, operation, proto)["Error"]
        assert parsed["Code"] == "InvalidParameterValue"
        assert parsed["QueryErrorCode"] == "InvalidParameterValueException"
        assert parsed["Type"] == "Sender"
