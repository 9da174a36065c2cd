"""KMS cryptographic operations and the internal envelope-encryption API."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kura.api.errors import AwsError
from kura.services.kms import internal, model
from tests.unit.test_kms_keys import REGION, Kms, open_kms

kms_fixture = pytest.fixture(name="kms")(open_kms)

CTX = {"purpose": "test", "tenant": "a"}


def test_encrypt_decrypt_round_trip(kms: Kms) -> None:
    key = kms.key()
    out = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext=CTX)
    assert out["KeyId"] == key["Arn"] and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert b"secret" not in out["CiphertextBlob"]
    # No KeyId needed: the blob says which key made it. The context order does not matter.
    back = kms("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext=dict(reversed(CTX.items())))
    assert back == {"KeyId": key["Arn"], "Plaintext": b"secret", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    kms("CreateAlias", AliasName="alias/k", TargetKeyId=key["KeyId"])
    assert kms("Decrypt", CiphertextBlob=out["CiphertextBlob"], KeyId="alias/k",
               EncryptionContext=CTX)["Plaintext"] == b"secret"


@pytest.mark.parametrize("context", [None, {"purpose": "test"}, {**CTX, "tenant": "b"}, {**CTX, "x": "y"}])
def test_a_different_context_is_an_invalid_ciphertext(kms: Kms, context: dict[str, str] | None) -> None:
    blob = kms("Encrypt", KeyId=kms.key()["KeyId"], Plaintext=b"x", EncryptionContext=CTX)["CiphertextBlob"]
    params: dict[str, Any] = {"EncryptionContext": context} if context is not None else {}
    assert kms.error("Decrypt", CiphertextBlob=blob, **params).code == "InvalidCiphertextException"


def test_bad_blobs(kms: Kms) -> None:
    a, b = kms.key()["KeyId"], kms.key()["KeyId"]
    blob = kms("Encrypt", KeyId=a, Plaintext=b"x")["CiphertextBlob"]
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    other_header = blob[:1] + b.encode() + blob[37:]  # claims key b, sealed under a
    for bad in (b"junk", b"\x00" * 100, tampered, other_header):
        assert kms.error("Decrypt", CiphertextBlob=bad).code == "InvalidCiphertextException"
    assert kms.error("Decrypt", CiphertextBlob=blob, KeyId=b).code == "IncorrectKeyException"
    assert kms.error("Decrypt").code == "ValidationException"


def test_algorithms_dry_run_and_recipient(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    err = kms.error("Encrypt", KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert err.code == "InvalidKeyUsageException"
    err = kms.error("Encrypt", KeyId=key_id, Plaintext=b"x", DryRun=True)
    assert err.code == "DryRunOperationException" and err.status == 412
    assert kms.error("GenerateRandom", NumberOfBytes=8, Recipient={"x": 1}).code == \
        "UnsupportedOperationException"


@pytest.mark.parametrize("params, size", [({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16),
                                          ({"NumberOfBytes": 64}, 64)])
def test_generate_data_key(kms: Kms, params: dict[str, Any], size: int) -> None:
    key = kms.key()
    out = kms("GenerateDataKey", KeyId=key["KeyId"], EncryptionContext=CTX, **params)
    assert len(out["Plaintext"]) == size and out["KeyId"] == key["Arn"]
    back = kms("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext=CTX)
    assert back["Plaintext"] == out["Plaintext"]
    bare = kms("GenerateDataKeyWithoutPlaintext", KeyId=key["KeyId"], **params)
    assert set(bare) == {"CiphertextBlob", "KeyId"}
    assert len(kms("Decrypt", CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == size


def test_generate_data_key_needs_exactly_one_size(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    assert kms.error("GenerateDataKey", KeyId=key_id).code == "ValidationException"
    assert kms.error("GenerateDataKey", KeyId=key_id, KeySpec="AES_256", NumberOfBytes=32).code == \
        "ValidationException"


def test_re_encrypt(kms: Kms) -> None:
    a, b = kms.key(), kms.key()
    blob = kms("Encrypt", KeyId=a["KeyId"], Plaintext=b"move me", EncryptionContext=CTX)["CiphertextBlob"]
    out = kms("ReEncrypt", CiphertextBlob=blob, SourceEncryptionContext=CTX, DestinationKeyId=b["Arn"],
              DestinationEncryptionContext={"new": "ctx"})
    assert out["SourceKeyId"] == a["Arn"] and out["KeyId"] == b["Arn"]
    assert kms("Decrypt", CiphertextBlob=out["CiphertextBlob"],
               EncryptionContext={"new": "ctx"})["Plaintext"] == b"move me"
    assert kms.error("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=b["KeyId"]).code == \
        "InvalidCiphertextException"
    assert kms.error("ReEncrypt", CiphertextBlob=blob, SourceEncryptionContext=CTX, SourceKeyId=b["KeyId"],
                     DestinationKeyId=b["KeyId"]).code == "IncorrectKeyException"


def test_generate_random(kms: Kms) -> None:
    assert len(kms("GenerateRandom", NumberOfBytes=1024)["Plaintext"]) == 1024
    assert kms.error("GenerateRandom").code == "ValidationException"


def test_internal_api_envelope(kms: Kms) -> None:
    env = kms.env
    arn = internal.resolve_key(env, REGION, None, default_alias="alias/aws/secretsmanager")
    meta = kms("DescribeKey", KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert arn == meta["Arn"] and meta["KeyManager"] == "AWS"
    got_arn, data_key, blob = internal.generate_data_key(
        env, REGION, None, default_alias="alias/aws/secretsmanager", context=CTX)
    assert got_arn == arn and len(data_key) == 32
    assert internal.decrypt_data_key(env, REGION, blob, context=CTX) == (arn, data_key)
    # The public API decrypts what the internal one made, and the other way round.
    assert kms("Decrypt", CiphertextBlob=blob, EncryptionContext=CTX)["Plaintext"] == data_key
    with pytest.raises(internal.KmsError) as info:
        internal.decrypt_data_key(env, REGION, blob, context={"other": "ctx"})
    assert info.value.code == "InvalidCiphertextException"


def test_internal_api_errors(kms: Kms) -> None:
    env, key = kms.env, kms.key()
    kms("CreateAlias", AliasName="alias/mine", TargetKeyId=key["KeyId"])
    for ref in (key["KeyId"], key["Arn"], "alias/mine", f"arn:aws:kms:{REGION}:{kms.env.account}:alias/mine"):
        assert internal.resolve_key(env, REGION, ref, default_alias="alias/aws/rds") == key["Arn"]
    _, _, blob = internal.generate_data_key(env, REGION, "alias/mine", default_alias="alias/aws/rds")
    kms("DisableKey", KeyId=key["KeyId"])
    for call in (lambda: internal.resolve_key(env, REGION, "alias/mine", default_alias="alias/aws/rds"),
                 lambda: internal.decrypt_data_key(env, REGION, blob)):
        with pytest.raises(AwsError) as info:
            call()
        assert info.value.code == "DisabledException"
    with pytest.raises(AwsError) as info:
        internal.resolve_key(env, REGION, "alias/none", default_alias="alias/aws/rds")
    assert info.value.code == "NotFoundException"
    with pytest.raises(AwsError) as info:
        internal.decrypt_data_key(env, REGION, b"not a blob")
    assert info.value.code == "InvalidCiphertextException"


def test_key_material_is_stored_sealed(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    kms("Encrypt", KeyId=key_id, Plaintext=b"x")
    material = model.material(kms.env, model.get_key(kms.env, REGION, key_id))
    assert len(material) == 32
    kms.store.close()  # checkpoint nothing away: read the database and its WAL as they are on disk
    raw = b"".join(p.read_bytes() for p in kms.env.settings.home.glob("state.db*"))
    for form in (material, base64.b64encode(material), material.hex().encode()):
        assert form not in raw
