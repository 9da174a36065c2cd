"""What the gateway answers for operations and services Kura does not implement."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.kura_fixture import KuraServer


def test_unimplemented_operation_names_itself_through_the_cli(kura: KuraServer) -> None:
    proc = kura.aws("rds", "create-blue-green-deployment", "--blue-green-deployment-name", "x",
                    "--source", "arn:aws:rds:ap-northeast-1:123456789012:db:x", check=False)
    assert proc.returncode != 0
    assert "InvalidAction" in proc.stderr
    assert "kura does not implement rds:CreateBlueGreenDeployment" in proc.stderr


def test_unimplemented_json_operation(kura: KuraServer) -> None:
    client = kura.client("secretsmanager")
    with pytest.raises(ClientError) as err:
        client.replicate_secret_to_regions(SecretId="x", AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert err.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "secretsmanager:ReplicateSecretToRegions" in err.value.response["Error"]["Message"]


def test_unknown_service_is_an_aws_error_not_a_500(kura: KuraServer) -> None:
    client = kura.client("dynamodb")
    with pytest.raises(ClientError) as err:
        client.list_tables()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "dynamodb" in err.value.response["Error"]["Message"]
