"""Support for the protocol round-trip tests: values generated from botocore shapes, botocore's own
client-side serializer and parser wired to Kura's HttpRequest/HttpResponse, and the normalisation
botocore applies on the wire. The tests at the bottom check the support itself.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kura.api.types import Headers, HttpRequest, HttpResponse

# Every (service, protocol) pair Kura speaks; CloudWatch and PI accept several protocols.
PAIRS = [
    ("secretsmanager", "json"), ("kms", "json"), ("logs", "json"),
    ("sts", "query"), ("rds", "query"), ("elasticache", "query"), ("sns", "query"),
    ("ec2", "ec2"),
    ("pi", "smithy-rpc-v2-cbor"), ("pi", "json"),
    ("cloudwatch", "smithy-rpc-v2-cbor"), ("cloudwatch", "json"), ("cloudwatch", "query"),
]
MAX_DEPTH = 3  # structures nested deeper than this carry only their required members
MAX_ITEMS = 2
FAST = settings(max_examples=2, deadline=None, database=None, derandomize=True,
                phases=[Phase.generate], suppress_health_check=list(HealthCheck))

# XML 1.0 cannot carry control characters other than \t \n \r; include the ones that need escaping.
TEXT = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Cn"]) | st.sampled_from("\t\n\r&<>'\"]")
EPOCH_MIN, EPOCH_MAX = datetime(1970, 1, 2), datetime(2100, 1, 1)


@functools.cache
def service(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


def operations(name: str) -> list[OperationModel]:
    model = service(name)
    return [model.operation_model(op) for op in model.operation_names]


# -- strategies ---------------------------------------------------------------------------------
def _length(shape: Shape, cap: int) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0))
    high = int(shape.metadata.get("max", low + cap))
    return low, max(low, min(high, low + cap))


def _number(shape: Shape) -> st.SearchStrategy[Any]:
    kind, meta = shape.type_name, shape.metadata
    if kind in ("integer", "long"):
        bound = 2**31 - 1 if kind == "integer" else 2**53
        low, high = meta.get("min", -bound), meta.get("max", bound)
        return st.integers(int(low), int(high))
    return st.floats(meta.get("min"), meta.get("max"), allow_nan=False, allow_infinity=False,
                     width=32 if kind == "float" else 64)


def _millis(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _scalar(shape: Shape) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "string":
        if shape.metadata.get("enum"):
            return st.sampled_from(shape.metadata["enum"])
        low, high = _length(shape, 8)
        return st.text(TEXT, min_size=low, max_size=high)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        low, high = _length(shape, 8)
        return st.binary(min_size=low, max_size=high)
    if kind == "timestamp":
        return st.datetimes(EPOCH_MIN, EPOCH_MAX, timezones=st.just(UTC)).map(_millis)
    return _number(shape)


_CACHE: dict[tuple[int, str, int], st.SearchStrategy[Any]] = {}


def values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values botocore accepts for `shape`: bounded in depth and size, within min/max/enum.

    Strategies are shared per (model, shape, depth): building them costs more than drawing."""
    container = isinstance(shape, StructureShape | ListShape | MapShape)
    key = (id(shape._shape_resolver), shape.name, depth if container else 0)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = _build(shape, depth)
    return found


def _build(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(shape, StructureShape):
        return _struct(shape, depth)
    if isinstance(shape, ListShape):
        low, high = _length(shape, MAX_ITEMS)
        return st.lists(_member(shape.member, depth), min_size=low, max_size=high)
    if isinstance(shape, MapShape):
        low, high = _length(shape, MAX_ITEMS)
        return st.dictionaries(_scalar(shape.key), _member(shape.value, depth), min_size=low, max_size=high)
    return _scalar(shape)


def _member(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    """Containers are deferred, so recursive shapes build lazily."""
    if not isinstance(shape, StructureShape | ListShape | MapShape):
        return values(shape, depth)
    return st.deferred(lambda: values(shape, depth))


def _struct(shape: StructureShape, depth: int) -> st.SearchStrategy[Any]:
    members = {name: _member(m, depth + 1) for name, m in shape.members.items()
               if not m.serialization.get("eventstream")}
    if shape.is_tagged_union:
        return st.one_of([st.fixed_dictionaries({name: s}) for name, s in members.items()])
    required = {name: s for name, s in members.items() if name in shape.required_members}
    optional = {} if depth >= MAX_DEPTH else {n: s for n, s in members.items() if n not in required}
    return st.fixed_dictionaries(required, optional=optional)


# -- botocore's side of the wire ----------------------------------------------------------------
def client_request(operation: OperationModel, params: dict[str, Any], protocol: str) -> HttpRequest:
    """What botocore's client puts on the wire for `params`, as Kura's gateway receives it."""
    serialized = create_serializer(protocol).serialize_to_request(params, operation)
    prepare_request_dict(serialized, endpoint_url="http://127.0.0.1:4566")
    prepared = create_request_object(serialized).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    headers = Headers({k: v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()})
    query = parse_qsl(url.query, keep_blank_values=True)
    return HttpRequest(prepared.method, url.path, query, url.query, headers, body)


def client_parse(response: HttpResponse, operation: OperationModel, protocol: str) -> dict[str, Any]:
    headers = HeadersDict(response.headers)  # botocore reads headers case-insensitively
    raw = {"status_code": response.status, "headers": headers, "body": response.body}
    parsed: dict[str, Any] = create_parser(protocol).parse(raw, operation.output_shape)
    return parsed


def on_the_wire(value: Any, shape: Shape, protocol: str) -> Any:
    """`value` as the server can see it: the query serializers write nothing for empty structures
    and maps, ec2's for empty lists; a list whose items all vanish vanishes. None = absent."""
    if protocol not in ("query", "ec2"):
        return value
    if isinstance(shape, StructureShape):
        kept = {k: on_the_wire(v, shape.members[k], protocol) for k, v in value.items()}
        kept = {k: v for k, v in kept.items() if v is not None}
        return kept or None
    if isinstance(shape, ListShape):
        if not value:
            return None if protocol == "ec2" else []
        items = [on_the_wire(v, shape.member, protocol) for v in value]
        return [v for v in items if v is not None] or None
    if isinstance(shape, MapShape):
        entries = {k: on_the_wire(v, shape.value, protocol) for k, v in value.items()}
        return {k: v for k, v in entries.items() if v is not None} or None
    return value


def expected_input(params: dict[str, Any], operation: OperationModel, protocol: str) -> dict[str, Any]:
    assert operation.input_shape is not None
    return on_the_wire(params, operation.input_shape, protocol) or {}


# -- checks of the support itself ---------------------------------------------------------------
@pytest.mark.parametrize("name", sorted({svc for svc, _ in PAIRS}))
def test_generated_inputs_pass_botocores_validator(name: str) -> None:
    ops = [op for op in operations(name) if op.input_shape is not None][:20]

    @FAST
    @given(st.data())
    def check(data: st.DataObject) -> None:
        for op in ops:
            params = data.draw(values(op.input_shape), label=op.name)
            report = ParamValidator().validate(params, op.input_shape)
            assert not report.has_errors(), report.generate_report()

    check()


def test_wire_normalisation_drops_what_query_cannot_carry() -> None:
    op = service("rds").operation_model("DescribeDBInstances")
    params = {"Filters": [{}], "MaxRecords": 20}
    assert expected_input(params, op, "query") == {"MaxRecords": 20}
    assert expected_input({"Filters": []}, op, "query") == {"Filters": []}
    assert expected_input({"Filters": []}, op, "json") == {"Filters": []}
    ec2_op = service("ec2").operation_model("DescribeVpcs")
    assert expected_input({"VpcIds": []}, ec2_op, "ec2") == {}
