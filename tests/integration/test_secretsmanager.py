"""Secrets Manager against a real Kura server, through boto3 and the real AWS CLI."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.kura_fixture import KuraServer


def _name(prefix: str = "it") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_issue_example_with_the_cli(kura: KuraServer) -> None:
    name = _name("auratime/rds/master")
    created = kura.aws("secretsmanager", "create-secret", "--name", name,
                       "--secret-string", '{"username":"a","password":"b"}')
    assert created["Name"] == name and created["ARN"].startswith(f"arn:aws:secretsmanager:{kura.region}:")
    text = kura.aws("secretsmanager", "get-secret-value", "--secret-id", name,
                    "--query", "SecretString", "--output", "text")
    assert json.loads(text) == {"username": "a", "password": "b"}
    arn = kura.aws("secretsmanager", "describe-secret", "--secret-id", name, "--query", "ARN",
                   "--output", "text")
    assert arn == created["ARN"]


def test_boto3_lifecycle(kura: KuraServer) -> None:
    sm = kura.client("secretsmanager")
    name = _name()
    out = sm.create_secret(Name=name, SecretString="v1", Description="d",
                           Tags=[{"Key": "team", "Value": "db"}])
    got = sm.get_secret_value(SecretId=out["ARN"][:-7])  # partial ARN
    assert got["SecretString"] == "v1" and got["VersionStages"] == ["AWSCURRENT"]
    assert isinstance(got["CreatedDate"], dt.datetime)
    v2 = sm.put_secret_value(SecretId=name, SecretString="v2")
    desc = sm.describe_secret(SecretId=out["ARN"])
    assert desc["VersionIdsToStages"] == {out["VersionId"]: ["AWSPREVIOUS"], v2["VersionId"]: ["AWSCURRENT"]}
    assert desc["Tags"] == [{"Key": "team", "Value": "db"}] and "KmsKeyId" not in desc
    assert isinstance(desc["LastAccessedDate"], dt.datetime)
    assert desc["LastAccessedDate"].time() == dt.time(0, 0)  # a date, as AWS keeps it
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=out["VersionId"],
                                   RemoveFromVersionId=v2["VersionId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"] for v in versions} == {out["VersionId"], v2["VersionId"]}
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert deleted["DeletionDate"] > dt.datetime.now(dt.UTC) + dt.timedelta(days=6)
    with pytest.raises(ClientError) as info:
        sm.get_secret_value(SecretId=name)
    assert _code(info) == "InvalidRequestException" and "marked for deletion" in str(info.value)
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as info:
        sm.describe_secret(SecretId=name)
    assert _code(info) == "ResourceNotFoundException"


def test_binary_secret_round_trip(kura: KuraServer) -> None:
    sm = kura.client("secretsmanager")
    name = _name()
    blob = bytes(range(256))
    sm.create_secret(Name=name, SecretBinary=blob)
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == blob
    cli = kura.aws("secretsmanager", "get-secret-value", "--secret-id", name)
    assert base64.b64decode(cli["SecretBinary"]) == blob


def test_error_codes(kura: KuraServer) -> None:
    sm = kura.client("secretsmanager")
    name = _name()
    sm.create_secret(Name=name, SecretString="x")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: sm.get_secret_value(SecretId=_name()), "ResourceNotFoundException"),
        (lambda: sm.create_secret(Name=name, SecretString="y"), "ResourceExistsException"),
        (lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=3), "InvalidParameterException"),
        (lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True),
         "InvalidParameterException"),
        (lambda: sm.rotate_secret(SecretId=name), "InvalidRequestException"),
        (lambda: sm.get_random_password(PasswordLength=2), "InvalidParameterException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as info:
            call()
        assert _code(info) == code
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_model_validation_errors(kura: KuraServer) -> None:
    # botocore validates on the client; the AWS CLI with a raw request shows the server's answer.
    sm = kura.client("secretsmanager", parameter_validation=False)
    with pytest.raises(ClientError) as info:
        sm.get_random_password(PasswordLength=0)
    assert _code(info) in ("ValidationException", "InvalidParameterException")
    with pytest.raises(ClientError) as info:
        sm.list_secrets(SortOrder="sideways")
    assert _code(info) in ("ValidationException", "InvalidParameterException")
    with pytest.raises(ParamValidationError):
        kura.client("secretsmanager").get_random_password(PasswordLength=0)


def test_decryption_failure_with_a_disabled_key(kura: KuraServer) -> None:
    sm, kms = kura.client("secretsmanager"), kura.client("kms")
    key = kms.create_key(Description="for secrets")["KeyMetadata"]
    name = _name()
    sm.create_secret(Name=name, SecretString="guarded", KmsKeyId=key["Arn"])
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key["Arn"]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as info:
        sm.get_secret_value(SecretId=name)
    assert _code(info) == "DecryptionFailure"
    with pytest.raises(ClientError) as info:
        sm.put_secret_value(SecretId=name, SecretString="more")
    assert _code(info) == "EncryptionFailure"
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "guarded"


def test_list_secrets_filters_and_paginator(kura: KuraServer) -> None:
    sm = kura.client("secretsmanager")
    tag = uuid.uuid4().hex[:8]
    names = [f"list-{tag}/{i:02d}" for i in range(7)]
    for name in names:
        sm.create_secret(Name=name, SecretString="x", Tags=[{"Key": "batch", "Value": tag}])
    pages = sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "tag-value", "Values": [tag]}], PaginationConfig={"PageSize": 3})
    seen = [s["Name"] for page in pages for s in page["SecretList"]]
    assert seen == names
    negated = sm.list_secrets(Filters=[{"Key": "name", "Values": [f"list-{tag}/"]},
                                       {"Key": "name", "Values": [f"!list-{tag}/0"]}])
    assert negated["SecretList"] == []
    cli = kura.aws("secretsmanager", "list-secrets", "--filters", f"Key=name,Values=list-{tag}/0",
                   "--query", "SecretList[].Name")
    assert cli == names  # the CLI follows NextToken by itself
    batch = sm.batch_get_secret_value(SecretIdList=[names[0], "nope/" + tag])
    assert [v["Name"] for v in batch["SecretValues"]] == [names[0]]
    assert batch["Errors"][0]["ErrorCode"] == "ResourceNotFoundException"


def test_idempotent_put_with_the_cli(kura: KuraServer) -> None:
    name = _name()
    kura.aws("secretsmanager", "create-secret", "--name", name, "--secret-string", "one")
    token = str(uuid.uuid4())
    first = kura.aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", "two",
                     "--client-request-token", token)
    again = kura.aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", "two",
                     "--client-request-token", token)
    assert first == again
    proc = kura.aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", "three",
                    "--client-request-token", token, check=False)
    assert proc.returncode != 0 and "ResourceExistsException" in proc.stderr


def test_random_password_and_policy_with_the_cli(kura: KuraServer) -> None:
    pw = kura.aws("secretsmanager", "get-random-password", "--password-length", "40",
                  "--exclude-punctuation", "--query", "RandomPassword", "--output", "text")
    assert len(pw) == 40 and pw.isalnum()
    name = _name()
    kura.aws("secretsmanager", "create-secret", "--name", name, "--secret-string", "p")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    kura.aws("secretsmanager", "put-resource-policy", "--secret-id", name, "--resource-policy", policy,
             "--block-public-policy")
    got = kura.aws("secretsmanager", "get-resource-policy", "--secret-id", name)
    assert json.loads(got["ResourcePolicy"]) == json.loads(policy)


def test_plaintext_not_in_the_servers_store(kura: KuraServer) -> None:
    marker = "kura-plain-" + secrets.token_hex(12)
    name = _name()
    kura.aws("secretsmanager", "create-secret", "--name", name, "--secret-string",
             json.dumps({"password": marker}))
    kura.aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", marker + "-2")
    assert marker in kura.aws("secretsmanager", "get-secret-value", "--secret-id", name,
                              "--query", "SecretString", "--output", "text")
    home = Path(kura.home)
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert marker.encode() not in stored
    logs = b"".join(p.read_bytes() for p in home.parent.glob("kura-*.log"))
    assert marker.encode() not in logs


def test_replication_is_refused_clearly(kura: KuraServer) -> None:
    sm = kura.client("secretsmanager")
    name = _name()
    with pytest.raises(ClientError) as info:
        sm.create_secret(Name=name, SecretString="x", AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert _code(info) == "InvalidRequestException" and "replication" in str(info.value)
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as info:
        sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert "kura does not implement secretsmanager:ReplicateSecretToRegions" in str(info.value)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
