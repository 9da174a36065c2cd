"""Secrets Manager lifecycle: handlers called directly over a real SQLite store (no gateway)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.kms
import kura.services.secretsmanager  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.clock import FakeClock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.registry import Ctx, lookup
from kura.services.secretsmanager.names import KIND
from kura.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
REGION = "us-east-1"
DAY = 86_400.0


class Sm:
    """Calls Secrets Manager (and KMS) handlers as the gateway does, on a throwaway store."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.clock = FakeClock()
        self.store = SqliteStore(home / "state.db", self.clock)
        self.env = Env(self.store, self.clock, Settings(home=home), ACCOUNT, MasterKey(os.urandom(32)))

    def call(self, service: str, op: str, region: str = REGION, **params: Any) -> dict[str, Any]:
        handler = lookup(service, op)
        assert handler is not None, op
        return handler(Ctx(self.env, service, op, region, "req-1"), params)

    def __call__(self, op: str, region: str = REGION, **params: Any) -> dict[str, Any]:
        return self.call("secretsmanager", op, region, **params)

    def error(self, op: str, region: str = REGION, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as info:
            self(op, region, **params)
        return info.value

    def create(self, name: str, value: str | None = "s3cr3t", **params: Any) -> dict[str, Any]:
        if value is not None:
            params["SecretString"] = value
        return self("CreateSecret", Name=name, ClientRequestToken=str(uuid.uuid4()), **params)

    def value(self, secret_id: str, **params: Any) -> str:
        out: str = self("GetSecretValue", SecretId=secret_id, **params)["SecretString"]
        return out


@pytest.fixture(name="sm")
def sm_fixture(tmp_path: Path) -> Iterator[Sm]:
    sm = Sm(tmp_path)
    yield sm
    sm.store.close()


def test_create_get_describe(sm: Sm) -> None:
    out = sm.create("auratime/rds/master", '{"username":"a","password":"b"}', Description="RDS master",
                    Tags=[{"Key": "Project", "Value": "AuraTime"}])
    arn = out["ARN"]
    prefix = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:auratime/rds/master-"
    assert arn.startswith(prefix) and len(arn) == len(prefix) + 6 and arn[-6:].isalnum()
    got = sm("GetSecretValue", SecretId="auratime/rds/master")
    assert got["SecretString"] == '{"username":"a","password":"b"}'
    assert got["VersionId"] == out["VersionId"] and got["VersionStages"] == ["AWSCURRENT"]
    assert got["ARN"] == arn and got["CreatedDate"] == sm.clock.now()
    desc = sm("DescribeSecret", SecretId=arn)
    assert desc["Name"] == "auratime/rds/master" and desc["Description"] == "RDS master"
    assert desc["Tags"] == [{"Key": "Project", "Value": "AuraTime"}]
    assert desc["VersionIdsToStages"] == {out["VersionId"]: ["AWSCURRENT"]}
    assert desc["PrimaryRegion"] == REGION and "KmsKeyId" not in desc and "RotationEnabled" not in desc
    assert desc["LastAccessedDate"] == sm.clock.now() - sm.clock.now() % DAY  # date only, as AWS


def test_lookup_by_name_full_arn_and_partial_arn(sm: Sm) -> None:
    arn = sm.create("app/db", "v1")["ARN"]
    partial = arn[:-7]
    for ref in ("app/db", arn, partial):
        assert sm.value(ref) == "v1"
    assert sm.error("GetSecretValue", SecretId=arn[:-1] + ("A" if arn[-1] != "A" else "B")).code == \
        "ResourceNotFoundException"
    other_region = arn.replace(REGION, "eu-west-1")
    assert sm.error("GetSecretValue", SecretId=other_region).code == "ResourceNotFoundException"
    assert sm.error("GetSecretValue", "eu-west-1", SecretId="app/db").code == "ResourceNotFoundException"


def test_name_that_looks_like_an_arn_suffix(sm: Sm) -> None:
    # A secret literally named "x-abcdef" is found by its name, its full ARN and its partial ARN.
    arn = sm.create("x-abcdef", "odd")["ARN"]
    assert sm.value("x-abcdef") == "odd"
    assert sm.value(arn) == "odd"
    assert sm.value(arn[:-7]) == "odd"


def test_binary_secret(sm: Sm) -> None:
    sm("CreateSecret", Name="bin", SecretBinary=b"\x00\xffdata")
    got = sm("GetSecretValue", SecretId="bin")
    assert got["SecretBinary"] == b"\x00\xffdata" and "SecretString" not in got


def test_create_errors(sm: Sm) -> None:
    sm.create("dup")
    err = sm.error("CreateSecret", Name="dup", SecretString="x")
    assert err.code == "ResourceExistsException" and "dup already exists" in err.message
    assert sm.error("CreateSecret", Name="bad name!", SecretString="x").code == "InvalidParameterException"
    assert sm.error("CreateSecret", Name="a" * 513, SecretString="x").code == "InvalidParameterException"
    both = sm.error("CreateSecret", Name="both", SecretString="x", SecretBinary=b"y")
    assert both.code == "InvalidParameterException"
    big = sm.error("CreateSecret", Name="big", SecretString="é" * 40_000)  # 80,000 bytes
    assert big.code == "InvalidParameterException"
    sm("CreateSecret", Name="max", SecretString="x" * 65_536)
    repl = sm.error("CreateSecret", Name="r", SecretString="x", AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert repl.code == "InvalidRequestException" and "replication" in repl.message
    tag = sm.error("CreateSecret", Name="t", SecretString="x", Tags=[{"Key": "aws:x", "Value": "1"}])
    assert tag.code == "InvalidParameterException"


def test_create_retry_with_same_token_is_idempotent(sm: Sm) -> None:
    token = str(uuid.uuid4())
    first = sm("CreateSecret", Name="retry", SecretString="v", ClientRequestToken=token)
    again = sm("CreateSecret", Name="retry", SecretString="v", ClientRequestToken=token)
    assert again == first
    assert sm.error("CreateSecret", Name="retry", SecretString="other",
                    ClientRequestToken=token).code == "ResourceExistsException"


def test_secret_without_value(sm: Sm) -> None:
    out = sm("CreateSecret", Name="empty")
    assert "VersionId" not in out
    err = sm.error("GetSecretValue", SecretId="empty")
    assert err.code == "ResourceNotFoundException" and "staging label: AWSCURRENT" in err.message
    assert sm("DescribeSecret", SecretId="empty")["VersionIdsToStages"] == {}
    put = sm("PutSecretValue", SecretId="empty", SecretString="now", VersionStages=["CUSTOM"])
    assert sorted(put["VersionStages"]) == ["AWSCURRENT", "CUSTOM"]  # the first version is current


def test_update_secret(sm: Sm) -> None:
    first = sm.create("upd", "v1", Description="old")["VersionId"]
    sm.clock.advance(10)
    out = sm("UpdateSecret", SecretId="upd", Description="new")
    assert "VersionId" not in out
    desc = sm("DescribeSecret", SecretId="upd")
    assert desc["Description"] == "new" and desc["LastChangedDate"] == sm.clock.now()
    out = sm("UpdateSecret", SecretId="upd", SecretString="v2", ClientRequestToken=str(uuid.uuid4()))
    assert sm.value("upd") == "v2"
    assert sm.value("upd", VersionStage="AWSPREVIOUS") == "v1"
    stages = sm("DescribeSecret", SecretId="upd")["VersionIdsToStages"]
    assert stages == {first: ["AWSPREVIOUS"], out["VersionId"]: ["AWSCURRENT"]}
    again = sm.error("UpdateSecret", SecretId="upd", SecretString="v3", ClientRequestToken=first)
    assert again.code == "ResourceExistsException"


def test_delete_with_recovery_window_then_restore(sm: Sm) -> None:
    arn = sm.create("del")["ARN"]
    out = sm("DeleteSecret", SecretId="del", RecoveryWindowInDays=7)
    assert out == {"ARN": arn, "Name": "del", "DeletionDate": sm.clock.now() + 7 * DAY}
    err = sm.error("GetSecretValue", SecretId="del")
    assert err.code == "InvalidRequestException" and "marked for deletion" in err.message
    for op, extra in (("PutSecretValue", {"SecretString": "x"}), ("UpdateSecret", {"Description": "x"}),
                      ("TagResource", {"Tags": [{"Key": "k", "Value": "v"}]})):
        assert sm.error(op, SecretId="del", **extra).code == "InvalidRequestException"
    assert sm.error("DeleteSecret", SecretId="del").code == "InvalidRequestException"
    assert sm("DescribeSecret", SecretId="del")["DeletedDate"] == sm.clock.now()
    assert sm.error("CreateSecret", Name="del", SecretString="x").code == "InvalidRequestException"
    assert sm("RestoreSecret", SecretId="del") == {"ARN": arn, "Name": "del"}
    assert sm.value("del") == "s3cr3t"
    assert "DeletedDate" not in sm("DescribeSecret", SecretId="del")
    assert sm("RestoreSecret", SecretId="del") == {"ARN": arn, "Name": "del"}  # not deleted: no-op


def test_delete_defaults_and_parameter_errors(sm: Sm) -> None:
    sm.create("d30")
    assert sm("DeleteSecret", SecretId="d30")["DeletionDate"] == sm.clock.now() + 30 * DAY
    for window in (6, 31):
        err = sm.error("DeleteSecret", SecretId="d30", RecoveryWindowInDays=window)
        assert err.code == "InvalidParameterException"
    err = sm.error("DeleteSecret", SecretId="d30", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert err.code == "InvalidParameterException" and "ForceDeleteWithoutRecovery" in err.message
    assert sm.error("DeleteSecret", SecretId="nope").code == "ResourceNotFoundException"


def test_force_delete_frees_the_name_and_the_values(sm: Sm) -> None:
    arn = sm.create("gone")["ARN"]
    sm("PutSecretValue", SecretId="gone", SecretString="v2")
    out = sm("DeleteSecret", SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert out["ARN"] == arn and out["DeletionDate"] == sm.clock.now()
    assert sm.store.list(KIND, REGION) == [] and sm.store.list("secretsmanager.secret-value", REGION) == []
    assert sm.error("DescribeSecret", SecretId="gone").code == "ResourceNotFoundException"
    # Forcing the deletion of a secret that does not exist is not an error on AWS either.
    assert sm("DeleteSecret", SecretId="gone", ForceDeleteWithoutRecovery=True)["Name"] == "gone"
    new_arn = sm.create("gone", "again")["ARN"]
    assert new_arn != arn and sm.value("gone") == "again"
    assert sm.error("GetSecretValue", SecretId=arn).code == "ResourceNotFoundException"


def test_tags(sm: Sm) -> None:
    sm.create("tagged", Tags=[{"Key": "a", "Value": "1"}])
    more = [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "9"}]
    assert sm("TagResource", SecretId="tagged", Tags=more) == {}
    assert sm("DescribeSecret", SecretId="tagged")["Tags"] == [{"Key": "a", "Value": "9"},
                                                              {"Key": "b", "Value": "2"}]
    sm("UntagResource", SecretId="tagged", TagKeys=["a", "missing"])
    assert sm("DescribeSecret", SecretId="tagged")["Tags"] == [{"Key": "b", "Value": "2"}]
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert sm.error("TagResource", SecretId="tagged", Tags=too_many).code == "InvalidParameterException"
    assert sm.error("TagResource", SecretId="nope", Tags=[]).code == "ResourceNotFoundException"


def test_regions_are_separate(sm: Sm) -> None:
    east = sm.create("same/name", "east")["ARN"]
    west = sm("CreateSecret", "us-west-2", Name="same/name", SecretString="west")["ARN"]
    assert ":us-east-1:" in east and ":us-west-2:" in west
    assert sm.value("same/name") == "east"
    assert sm("GetSecretValue", "us-west-2", SecretId="same/name")["SecretString"] == "west"


def test_last_accessed_written_once_a_day(sm: Sm) -> None:
    sm.create("acc")
    res = sm.store.get(KIND, REGION, "acc")
    assert res is not None
    sm.value("acc")
    after_first = sm.store.get(KIND, REGION, "acc")
    assert after_first is not None and after_first.version == res.version + 1
    sm.value("acc")
    sm.value("acc")
    same_day = sm.store.get(KIND, REGION, "acc")
    assert same_day is not None and same_day.version == after_first.version  # no write per read
    sm.clock.advance(DAY)
    sm.value("acc")
    next_day = sm.store.get(KIND, REGION, "acc")
    assert next_day is not None and next_day.version == after_first.version + 1
    versions = sm("ListSecretVersionIds", SecretId="acc")["Versions"]
    assert versions[0]["LastAccessedDate"] == sm.clock.now() - sm.clock.now() % DAY
