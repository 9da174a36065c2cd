"""KMS against a real Kura server, through boto3 and the real AWS CLI."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kura.clock import SystemClock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.kms import model
from kura.store.sqlite import SqliteStore
from tests.kura_fixture import KuraServer

CTX = {"app": "billing", "env": "test"}


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def _alias() -> str:
    return f"alias/test-{uuid.uuid4().hex[:8]}"


def test_boto3_round_trip_and_context(kura: KuraServer) -> None:
    kms = kura.client("kms")
    meta = kms.create_key(Description="boto3 key")["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    out = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"\x00binary\xffdata", EncryptionContext=CTX)
    assert out["KeyId"] == meta["Arn"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=CTX)
    assert back["Plaintext"] == b"\x00binary\xffdata" and back["KeyId"] == meta["Arn"]
    with pytest.raises(ClientError) as info:
        kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"app": "other"})
    assert _code(info) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as info:
        kms.decrypt(CiphertextBlob=b"definitely not a kms blob")
    assert _code(info) == "InvalidCiphertextException"


def test_data_keys_re_encrypt_and_random(kura: KuraServer) -> None:
    kms = kura.client("kms")
    a, b = kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]
    dk = kms.generate_data_key(KeyId=a["Arn"], KeySpec="AES_256", EncryptionContext=CTX)
    assert len(dk["Plaintext"]) == 32
    back = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=CTX)
    assert back["Plaintext"] == dk["Plaintext"]
    bare = kms.generate_data_key_without_plaintext(KeyId=a["KeyId"], NumberOfBytes=16)
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 16
    moved = kms.re_encrypt(CiphertextBlob=dk["CiphertextBlob"], SourceEncryptionContext=CTX,
                           DestinationKeyId=b["KeyId"])
    assert moved["SourceKeyId"] == a["Arn"] and moved["KeyId"] == b["Arn"]
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_random(NumberOfBytes=48)["Plaintext"]) == 48
    with pytest.raises(ClientError) as info:
        kms.generate_data_key(KeyId=a["KeyId"])
    assert _code(info) == "ValidationException"


def test_cli_round_trip_with_fileb(kura: KuraServer, tmp_path: Path) -> None:
    alias = _alias()
    key_id = kura.aws("kms", "create-key", "--description", "cli key")["KeyMetadata"]["KeyId"]
    kura.aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", key_id)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"cli plaintext \x01\x02")
    blob_b64 = kura.aws("kms", "encrypt", "--key-id", alias, "--plaintext", f"fileb://{secret}",
                        "--encryption-context", "purpose=cli",
                        "--query", "CiphertextBlob", "--output", "text")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(blob_b64))
    out = kura.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
                   "--encryption-context", "purpose=cli")
    assert base64.b64decode(out["Plaintext"]) == secret.read_bytes()
    assert out["KeyId"].endswith(key_id)
    bad = kura.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", check=False)
    assert bad.returncode != 0 and "InvalidCiphertextException" in bad.stderr


def test_disabled_key_refuses(kura: KuraServer) -> None:
    kms = kura.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    kura.aws("kms", "disable-key", "--key-id", key_id)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("encrypt", {"KeyId": key_id, "Plaintext": b"x"}), ("decrypt", {"CiphertextBlob": blob})]
    for op, params in calls:
        with pytest.raises(ClientError) as info:
            getattr(kms, op)(**params)
        assert _code(info) == "DisabledException"
    res = kura.aws("kms", "generate-data-key", "--key-id", key_id, "--key-spec", "AES_256", check=False)
    assert res.returncode != 0 and "DisabledException" in res.stderr
    kura.aws("kms", "enable-key", "--key-id", key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_deletion_schedule_and_cancel(kura: KuraServer) -> None:
    key_id = kura.aws("kms", "create-key")["KeyMetadata"]["KeyId"]
    out = kura.aws("kms", "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7")
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    meta = kura.aws("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta
    res = kura.aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "fileb:///etc/hostname", check=False)
    assert res.returncode != 0 and "KMSInvalidStateException" in res.stderr
    kura.aws("kms", "cancel-key-deletion", "--key-id", key_id)
    assert kura.aws("kms", "describe-key", "--key-id", key_id, "--query", "KeyMetadata.KeyState",
                    "--output", "text") == "Disabled"


def test_alias_lifecycle_cli(kura: KuraServer) -> None:
    alias = _alias()
    a = kura.aws("kms", "create-key")["KeyMetadata"]["KeyId"]
    b = kura.aws("kms", "create-key")["KeyMetadata"]["KeyId"]
    kura.aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", a)
    again = kura.aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", b, check=False)
    assert again.returncode != 0 and "AlreadyExistsException" in again.stderr
    listed = kura.aws("kms", "list-aliases", "--key-id", a)["Aliases"]
    assert [x["AliasName"] for x in listed] == [alias]
    kura.aws("kms", "update-alias", "--alias-name", alias, "--target-key-id", b)
    assert kura.aws("kms", "describe-key", "--key-id", alias)["KeyMetadata"]["KeyId"] == b
    kura.aws("kms", "delete-alias", "--alias-name", alias)
    names = [x["AliasName"] for x in kura.aws("kms", "list-aliases")["Aliases"]]
    assert alias not in names
    bad = kura.aws("kms", "create-alias", "--alias-name", "alias/aws/mine", "--target-key-id", a, check=False)
    assert bad.returncode != 0 and "InvalidAliasNameException" in bad.stderr


def test_managed_aliases_appear_on_first_use(kura: KuraServer) -> None:
    region = "eu-central-1"  # a region no other test touches, so "before" is really empty
    assert kura.aws("kms", "list-aliases", region=region)["Aliases"] == []
    meta = kura.aws("kms", "describe-key", "--key-id", "alias/aws/rds", region=region)["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and "Default key that protects my RDS" in meta["Description"]
    res = kura.aws("kms", "disable-key", "--key-id", meta["KeyId"], region=region, check=False)
    assert res.returncode != 0 and "AccessDeniedException" in res.stderr
    # Secrets Manager encrypts with the AWS managed key when no KmsKeyId is given.
    kura.aws("secretsmanager", "create-secret", "--name", "kms-test/managed", "--secret-string", "s3cret",
             region=region)
    names = {x["AliasName"] for x in kura.aws("kms", "list-aliases", region=region)["Aliases"]}
    assert {"alias/aws/rds", "alias/aws/secretsmanager"} <= names


def test_regions_are_separate(kura: KuraServer) -> None:
    tokyo, virginia = kura.client("kms", region="ap-northeast-1"), kura.client("kms", region="us-east-1")
    meta = tokyo.create_key()["KeyMetadata"]
    assert ":ap-northeast-1:" in meta["Arn"]
    blob = tokyo.encrypt(KeyId=meta["KeyId"], Plaintext=b"tokyo")["CiphertextBlob"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("describe_key", {"KeyId": meta["KeyId"]}), ("describe_key", {"KeyId": meta["Arn"]}),
        ("decrypt", {"CiphertextBlob": blob})]
    for op, params in calls:
        with pytest.raises(ClientError) as info:
            getattr(virginia, op)(**params)
        assert _code(info) == "NotFoundException"
    keys = [k["KeyId"] for page in virginia.get_paginator("list_keys").paginate() for k in page["Keys"]]
    assert meta["KeyId"] not in keys


def test_list_keys_pages(kura: KuraServer) -> None:
    kms = kura.client("kms", region="sa-east-1")
    made = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)}
    pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3 and {k["KeyId"] for p in pages for k in p["Keys"]} == made


def test_unsupported_key_specs_say_so(kura: KuraServer) -> None:
    with pytest.raises(ClientError) as info:
        kura.client("kms").create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert _code(info) == "UnsupportedOperationException" and "kura" in str(info.value)


def _unsealed_material(kura: KuraServer, region: str, key_id: str) -> bytes:
    """Read the key's sealed material from the server's store and unseal it with its master key."""
    master_file = kura.home / "master.key"
    assert master_file.exists()
    store = SqliteStore(kura.home / "state.db")
    try:
        env = Env(store, SystemClock(), Settings(home=kura.home), "000000000000",
                  MasterKey(master_file.read_bytes()))
        return model.material(env, model.get_key(env, region, key_id))
    finally:
        store.close()


def test_key_material_never_in_plaintext_in_state_db(kura: KuraServer) -> None:
    kms = kura.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    plaintext = b"plaintext-marker-" + uuid.uuid4().hex.encode()
    kms.encrypt(KeyId=key_id, Plaintext=plaintext)
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
    material = _unsealed_material(kura, kura.region, key_id)
    assert len(material) == 32
    with sqlite3.connect(kura.home / "state.db") as conn:  # make sure the store really holds the key
        (spec,) = conn.execute("SELECT spec FROM resources WHERE kind='kms.key' AND id=?",
                               (key_id,)).fetchone()
    assert "Material" in spec
    raw = b"".join(p.read_bytes() for p in kura.home.glob("state.db*"))
    forbidden: list[Any] = [material, base64.b64encode(material), material.hex().encode(), plaintext,
                            data_key, base64.b64encode(data_key)]
    for form in forbidden:
        assert form not in raw
