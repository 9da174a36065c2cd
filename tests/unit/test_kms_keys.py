"""KMS key lifecycle, handlers called directly over a real SQLite store (no gateway)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.kms  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.clock import FakeClock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.registry import Ctx, lookup
from kura.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
REGION = "us-east-1"


class Kms:
    """Calls KMS handlers the way the gateway does, with a fake clock and a throwaway store."""

    def __init__(self, home: Path) -> None:
        self.clock = FakeClock()
        self.store = SqliteStore(home / "state.db", self.clock)
        self.env = Env(self.store, self.clock, Settings(home=home), ACCOUNT, MasterKey(os.urandom(32)))

    def __call__(self, op: str, region: str = REGION, **params: Any) -> dict[str, Any]:
        handler = lookup("kms", op)
        assert handler is not None, op
        return handler(Ctx(self.env, "kms", op, region, "req-1"), params)

    def error(self, op: str, region: str = REGION, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as info:
            self(op, region, **params)
        return info.value

    def key(self, **params: Any) -> dict[str, Any]:
        meta: dict[str, Any] = self("CreateKey", **params)["KeyMetadata"]
        return meta


def open_kms(tmp_path: Path) -> Iterator[Kms]:
    k = Kms(tmp_path)
    yield k
    k.store.close()


# Shared with the other test_kms_* modules, which register it under the same name.
kms_fixture = pytest.fixture(name="kms")(open_kms)


def test_create_and_describe_by_every_reference(kms: Kms) -> None:
    meta = kms.key(Description="app data", Tags=[{"TagKey": "team", "TagValue": "db"}])
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT" and meta["KeyManager"] == "CUSTOMER"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"] and meta["MultiRegion"] is False
    assert meta["Origin"] == "AWS_KMS" and meta["AWSAccountId"] == ACCOUNT
    kms("CreateAlias", AliasName="alias/app", TargetKeyId=meta["KeyId"])
    for ref in (meta["KeyId"], meta["Arn"], "alias/app", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app"):
        assert kms("DescribeKey", KeyId=ref)["KeyMetadata"]["KeyId"] == meta["KeyId"]


@pytest.mark.parametrize("ref, message", [
    ("nope", "Invalid keyId 'nope'"),
    ("11111111-2222-3333-4444-555555555555", "does not exist"),
    ("alias/missing", "is not found"),
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/missing", "is not found"),
])
def test_unknown_keys_are_not_found(kms: Kms, ref: str, message: str) -> None:
    err = kms.error("DescribeKey", KeyId=ref)
    assert err.code == "NotFoundException" and message in err.message


@pytest.mark.parametrize("params, code", [
    ({"KeySpec": "RSA_2048"}, "UnsupportedOperationException"),
    ({"CustomerMasterKeySpec": "ECC_NIST_P256"}, "UnsupportedOperationException"),
    ({"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "SIGN_VERIFY"}, "ValidationException"),
    ({"Origin": "EXTERNAL"}, "UnsupportedOperationException"),
    ({"MultiRegion": True}, "UnsupportedOperationException"),
    ({"Policy": "{not json"}, "MalformedPolicyDocumentException"),
    ({"Tags": [{"TagKey": "aws:x", "TagValue": "y"}]}, "TagException"),
])
def test_create_key_refuses_what_kura_does_not_make(kms: Kms, params: dict[str, Any], code: str) -> None:
    err = kms.error("CreateKey", **params)
    assert err.code == code
    if code == "UnsupportedOperationException":
        assert "kura" in err.message


def test_list_keys_pages_with_limit_and_marker(kms: Kms) -> None:
    ids = sorted(kms.key()["KeyId"] for _ in range(5))
    seen: list[str] = []
    marker: dict[str, Any] = {}
    while True:
        out = kms("ListKeys", Limit=2, **marker)
        seen += [k["KeyId"] for k in out["Keys"]]
        if not out["Truncated"]:
            assert "NextMarker" not in out
            break
        marker = {"Marker": out["NextMarker"]}
    assert seen == ids
    assert kms("ListKeys")["Keys"][0]["KeyArn"].endswith(ids[0])
    assert kms.error("ListKeys", Marker="garbage!").code == "InvalidMarkerException"


def test_disable_enable(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    kms("DisableKey", KeyId=key_id)
    meta = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and meta["Enabled"] is False
    err = kms.error("Encrypt", KeyId=key_id, Plaintext=b"x")
    assert err.code == "DisabledException"
    kms("EnableKey", KeyId=key_id)
    assert kms("Encrypt", KeyId=key_id, Plaintext=b"x")["KeyId"].endswith(key_id)


def test_schedule_and_cancel_deletion(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    for days in (6, 31):
        err = kms.error("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=days)
        assert err.code == "ValidationException"
    out = kms("ScheduleKeyDeletion", KeyId=key_id)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 30
    assert out["DeletionDate"] == kms.clock.now() + 30 * 86400
    meta = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["DeletionDate"] == out["DeletionDate"] and meta["PendingDeletionWindowInDays"] == 30
    for op, extra in (("Encrypt", {"Plaintext": b"x"}), ("GenerateDataKey", {"KeySpec": "AES_256"})):
        err = kms.error(op, KeyId=key_id, **extra)
        assert err.code == "KMSInvalidStateException" and "pending deletion" in err.message
    for op in ("DisableKey", "EnableKey", "ScheduleKeyDeletion"):
        assert kms.error(op, KeyId=key_id).code == "KMSInvalidStateException"
    assert kms("CancelKeyDeletion", KeyId=key_id) == {"KeyId": meta["Arn"]}
    meta = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    assert kms.error("CancelKeyDeletion", KeyId=key_id).code == "KMSInvalidStateException"


def test_management_operations_take_no_alias(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    kms("CreateAlias", AliasName="alias/x", TargetKeyId=key_id)
    assert kms.error("DisableKey", KeyId="alias/x").code == "NotFoundException"


def test_managed_keys_appear_on_first_use_and_refuse_management(kms: Kms) -> None:
    assert kms("ListAliases")["Aliases"] == []
    meta = kms("DescribeKey", KeyId="alias/aws/rds")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and meta["KeyState"] == "Enabled"
    assert meta["Description"] == "Default key that protects my RDS database volumes when no other key " \
        "is defined"
    assert kms("DescribeKey", KeyId="alias/aws/rds")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    entry = kms("ListAliases")["Aliases"][0]
    assert entry["AliasName"] == "alias/aws/rds" and entry["TargetKeyId"] == meta["KeyId"]
    for op in ("DisableKey", "ScheduleKeyDeletion", "EnableKey", "CancelKeyDeletion"):
        err = kms.error(op, KeyId=meta["KeyId"])
        assert err.code == "AccessDeniedException" and f"kms:{op}" in err.message
    assert kms.error("TagResource", KeyId=meta["KeyId"], Tags=[]).code == "AccessDeniedException"
    assert kms.error("CreateAlias", AliasName="alias/mine", TargetKeyId=meta["KeyId"]).code == \
        "AccessDeniedException"
    assert kms.error("DescribeKey", KeyId="alias/aws/unknown").code == "NotFoundException"
    assert "kms:ViaService" in kms("GetKeyPolicy", KeyId=meta["KeyId"])["Policy"]


def test_regions_are_separate(kms: Kms) -> None:
    meta = kms.key()
    blob = kms("Encrypt", KeyId=meta["KeyId"], Plaintext=b"hi")["CiphertextBlob"]
    for ref in (meta["KeyId"], meta["Arn"]):
        assert kms.error("DescribeKey", "eu-west-1", KeyId=ref).code == "NotFoundException"
    assert kms.error("Decrypt", "eu-west-1", CiphertextBlob=blob).code == "NotFoundException"
    assert kms("ListKeys", "eu-west-1")["Keys"] == []
    east = kms("DescribeKey", KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    west = kms("DescribeKey", "eu-west-1", KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert east["KeyId"] != west["KeyId"] and ":eu-west-1:" in west["Arn"]
