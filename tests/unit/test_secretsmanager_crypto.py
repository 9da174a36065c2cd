"""Encryption at rest: values sealed under KMS data keys, never in the store file; KMS failures."""

from __future__ import annotations

import base64
import logging
import secrets
from pathlib import Path

import pytest

from kura.crypto import seal
from kura.services.secretsmanager import values
from kura.services.secretsmanager.names import VALUE_KIND
from tests.unit.test_secretsmanager import REGION, Sm, sm_fixture  # noqa: F401

MARKER = "kura-plaintext-" + secrets.token_hex(8)


def _db_bytes(path: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(path) + suffix)
        if f.exists():
            data += f.read_bytes()
    return data


def test_plaintext_never_in_the_store_file_or_logs(sm: Sm, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    binary = ("bin-" + MARKER).encode()
    sm.create("crypt/text", f'{{"password":"{MARKER}"}}')
    sm("CreateSecret", Name="crypt/bin", SecretBinary=binary)
    sm("PutSecretValue", SecretId="crypt/text", SecretString="put-" + MARKER)
    sm("UpdateSecret", SecretId="crypt/text", SecretString="upd-" + MARKER)
    assert sm.value("crypt/text") == "upd-" + MARKER
    sm.store.close()  # flush everything the connection holds
    raw = _db_bytes(sm.home / "state.db")
    assert raw, "the store file should exist"
    assert MARKER.encode() not in raw
    assert base64.b64encode(binary) not in raw and binary not in raw
    assert MARKER not in caplog.text


def test_value_record_holds_only_ciphertext_and_a_wrapped_key(sm: Sm) -> None:
    out = sm.create("rec", MARKER)
    rid = values.record_id(out["ARN"], out["VersionId"])
    rec = sm.store.get(VALUE_KIND, REGION, rid)
    assert rec is not None
    assert set(rec.spec) == {"binary", "key_arn", "data_key", "ciphertext"}
    assert rec.spec["key_arn"].startswith(f"arn:aws:kms:{REGION}:")
    assert MARKER not in str(rec.spec)


def test_ciphertext_is_bound_to_secret_and_version(sm: Sm) -> None:
    a = sm.create("bind/a", "value-a")
    b = sm.create("bind/b", "value-b")
    rec_a = sm.store.get(VALUE_KIND, REGION, values.record_id(a["ARN"], a["VersionId"]))
    rec_b = sm.store.get(VALUE_KIND, REGION, values.record_id(b["ARN"], b["VersionId"]))
    assert rec_a is not None and rec_b is not None
    sm.store.update(rec_b, spec=rec_a.spec)  # someone copies a's record onto b
    assert sm.error("GetSecretValue", SecretId="bind/b").code == "DecryptionFailure"


def test_tampered_ciphertext_is_a_decryption_failure(sm: Sm) -> None:
    out = sm.create("tamper", "value")
    rec = sm.store.get(VALUE_KIND, REGION, values.record_id(out["ARN"], out["VersionId"]))
    assert rec is not None
    forged = base64.b64encode(seal(b"\x00" * 32, b"evil")).decode()
    sm.store.update(rec, spec={**rec.spec, "ciphertext": forged})
    err = sm.error("GetSecretValue", SecretId="tamper")
    assert err.code == "DecryptionFailure" and "value" not in err.message.split()


def test_customer_key_disabled_then_enabled(sm: Sm) -> None:
    key = sm.call("kms", "CreateKey", Description="app")["KeyMetadata"]
    sm.call("kms", "CreateAlias", AliasName="alias/app", TargetKeyId=key["KeyId"])
    out = sm.create("cmk", "v1", KmsKeyId="alias/app")
    assert sm("DescribeSecret", SecretId="cmk")["KmsKeyId"] == key["Arn"]
    versions = sm("ListSecretVersionIds", SecretId="cmk")["Versions"]
    assert versions[0]["KmsKeyIds"] == [key["Arn"]]
    rec = sm.store.get(VALUE_KIND, REGION, values.record_id(out["ARN"], out["VersionId"]))
    assert rec is not None and rec.spec["key_arn"] == key["Arn"]

    sm.call("kms", "DisableKey", KeyId=key["KeyId"])
    err = sm.error("GetSecretValue", SecretId="cmk")
    assert err.code == "DecryptionFailure"
    assert sm.error("PutSecretValue", SecretId="cmk", SecretString="v2").code == "EncryptionFailure"
    batch = sm("BatchGetSecretValue", SecretIdList=["cmk"])
    assert batch["Errors"][0]["ErrorCode"] == "DecryptionFailure" and batch["SecretValues"] == []
    sm.call("kms", "EnableKey", KeyId=key["KeyId"])
    assert sm.value("cmk") == "v1"


def test_default_key_is_the_aws_managed_key(sm: Sm) -> None:
    sm.create("dflt", "v")
    assert "KmsKeyId" not in sm("DescribeSecret", SecretId="dflt")
    assert sm("ListSecretVersionIds", SecretId="dflt")["Versions"][0]["KmsKeyIds"] == ["DefaultEncryptionKey"]
    aliases = sm.call("kms", "ListAliases")["Aliases"]
    assert any(a["AliasName"] == "alias/aws/secretsmanager" and a.get("TargetKeyId") for a in aliases)
    # Naming the default alias explicitly is the same as naming none.
    sm.create("dflt2", "v", KmsKeyId="alias/aws/secretsmanager")
    assert "KmsKeyId" not in sm("DescribeSecret", SecretId="dflt2")


def test_bad_kms_key_id(sm: Sm) -> None:
    err = sm.error("CreateSecret", Name="nokey", SecretString="v", KmsKeyId="alias/missing")
    assert err.code == "ResourceNotFoundException" and "KMS key" in err.message
    assert sm.error("DescribeSecret", SecretId="nokey").code == "ResourceNotFoundException"  # not created
    key = sm.call("kms", "CreateKey")["KeyMetadata"]
    sm.call("kms", "DisableKey", KeyId=key["KeyId"])
    err = sm.error("CreateSecret", Name="offkey", SecretString="v", KmsKeyId=key["Arn"])
    assert err.code == "EncryptionFailure"


def test_update_kms_key_reencrypts_labelled_versions(sm: Sm) -> None:
    sm.create("rekey", "v1")
    sm("PutSecretValue", SecretId="rekey", SecretString="v2")
    key = sm.call("kms", "CreateKey")["KeyMetadata"]
    sm("UpdateSecret", SecretId="rekey", KmsKeyId=key["KeyId"])
    assert sm("DescribeSecret", SecretId="rekey")["KmsKeyId"] == key["Arn"]
    listed = sm("ListSecretVersionIds", SecretId="rekey")["Versions"]
    assert all(v["KmsKeyIds"] == [key["Arn"]] for v in listed)
    sm.call("kms", "DisableKey", KeyId=key["KeyId"])
    err = sm.error("GetSecretValue", SecretId="rekey", VersionStage="AWSPREVIOUS")
    assert err.code == "DecryptionFailure"
    sm.call("kms", "EnableKey", KeyId=key["KeyId"])
    assert sm.value("rekey") == "v2" and sm.value("rekey", VersionStage="AWSPREVIOUS") == "v1"
    sm("UpdateSecret", SecretId="rekey", KmsKeyId="")  # back to the AWS managed key
    assert "KmsKeyId" not in sm("DescribeSecret", SecretId="rekey")


def test_secret_value_repr_is_redacted() -> None:
    v = values.SecretValue(text=MARKER)
    assert MARKER not in repr(v) and MARKER not in str(v)
