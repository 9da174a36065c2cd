"""Every Secrets Manager handler with inputs generated from botocore's shapes (hypothesis).

The request goes the gateway's way (botocore serializes, Kura's JSON codec parses, the model
validator checks) into the handler, against a store holding a few secrets that generated ids
sometimes name. The handler must answer a dict that botocore parses back, or an AwsError with a
code the operation declares (or a model-level ValidationException): never anything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kura.api.errors import AwsError
from kura.api.protocols import codec_for
from kura.api.validation import error_style, validate
from kura.services.registry import Ctx, implemented, lookup
from tests.unit.test_protocols_strategies import client_parse, client_request, service, values
from tests.unit.test_secretsmanager import Sm

SVC = "secretsmanager"
NAMES = ["fuzz/a", "fuzz/b", "rotatable/fuzz"]
# Codes any operation may answer besides its declared errors.
GENERIC = {"ValidationException", "LimitExceededException", "InvalidNextTokenException"}


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sm]:
    box = Sm(Path(tmp_path_factory.mktemp("fuzz")))
    for name in NAMES:
        box.create(name, '{"username":"u","password":"p"}', Tags=[{"Key": "k", "Value": "v"}])
    box("CreateSecret", Name="fuzz/empty")
    yield box
    box.store.close()


def _ops() -> list[str]:
    return [op for svc, op in implemented() if svc == SVC]


def test_every_operation_of_the_model_is_implemented_or_refused() -> None:
    missing = set(service(SVC).operation_names) - set(_ops())
    # Replication and cross-account replicas are refused (the gateway names the operation).
    assert missing == {"ReplicateSecretToRegions", "RemoveRegionsFromReplication", "StopReplicationToReplica",
                       "AssociateCrossAccountReplica", "DisassociateCrossAccountReplica"}


def _steer(params: dict[str, Any], draw: st.DataObject) -> dict[str, Any]:
    """Point some generated ids at secrets that exist, so handlers get past the lookup."""
    if "SecretId" in params and draw.draw(st.booleans(), label="existing secret"):
        params["SecretId"] = draw.draw(st.sampled_from([*NAMES, "fuzz/empty"]), label="SecretId")
    if "SecretIdList" in params and draw.draw(st.booleans(), label="existing list"):
        params["SecretIdList"] = NAMES[:2]
    if "ClientRequestToken" in params:
        params["ClientRequestToken"] = str(uuid.uuid4())
    return params


@pytest.mark.parametrize("op", _ops())
@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_handler_answers_a_parsable_dict_or_a_declared_error(sm: Sm, op: str, data: st.DataObject) -> None:
    model = service(SVC)
    operation = model.operation_model(op)
    codec = codec_for("json")
    assert operation.input_shape is not None
    params = _steer(data.draw(values(operation.input_shape), label="input"), data)
    parsed = codec.parse(client_request(operation, params, "json"), operation)
    handler = lookup(SVC, op)
    assert handler is not None
    try:
        validate(operation.input_shape, parsed, error_style(model))
        out = handler(Ctx(sm.env, SVC, op, "us-east-1", "req-1"), parsed)
    except AwsError as exc:
        declared = {e.name for e in operation.error_shapes} | GENERIC
        assert exc.code in declared, f"{op}: {exc.code} {exc.message}"
        assert exc.status == 400
        return
    response = codec.serialize(operation, out, "req-1")
    assert response.status == 200
    back = client_parse(response, operation, "json")
    back.pop("ResponseMetadata")
    assert set(back) <= set(operation.output_shape.members if operation.output_shape else [])
