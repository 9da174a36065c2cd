"""Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
GenerateRandom. All symmetric (SYMMETRIC_DEFAULT = AES-256-GCM under the key's material)."""

from __future__ import annotations

import os
from typing import Any

from kura.api.errors import AwsError
from kura.services.kms import ciphertext, model
from kura.services.kms.model import SYMMETRIC, Key
from kura.services.registry import Ctx, operation

DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


def _usable(ctx: Ctx, key_ref: str) -> Key:
    key = model.find_key(ctx.env, ctx.region, key_ref)
    model.require_usable(key)
    return key


def _check_algorithm(key: Key, algorithm: str | None) -> None:
    if algorithm not in (None, SYMMETRIC):
        raise AwsError("InvalidKeyUsageException",
                       f"{key.arn} key usage is ENCRYPT_DECRYPT with key spec {SYMMETRIC}; it does not "
                       f"support the {algorithm} encryption algorithm.")


def _no_recipient(params: dict[str, Any]) -> None:
    if params.get("Recipient"):
        raise AwsError("UnsupportedOperationException",
                       "kura does not support Recipient (Nitro Enclaves attestation documents).")


def _dry_run(params: dict[str, Any]) -> None:
    """Called after every check: a dry run answers whether the real call would have succeeded."""
    if params.get("DryRun"):
        raise AwsError("DryRunOperationException",
                       "The request would have succeeded, but the DryRun option is set.", 412)


def _decrypt(ctx: Ctx, params: dict[str, Any], key_ref: str | None, context_name: str,
             algorithm_name: str) -> tuple[Key, bytes]:
    """The plaintext of params["CiphertextBlob"] (shared by Decrypt and ReEncrypt)."""
    blob = params.get("CiphertextBlob")
    if not blob:
        raise AwsError("ValidationException", "1 validation error detected: Value null at "
                       "'ciphertextBlob' failed to satisfy constraint: Member must not be null")
    key = model.get_key(ctx.env, ctx.region, ciphertext.key_id_of(bytes(blob)))
    if key_ref and model.find_key(ctx.env, ctx.region, key_ref).id != key.id:
        raise AwsError("IncorrectKeyException", "The key ID in the request does not identify a KMS key "
                       "that can perform this operation.")
    model.require_usable(key)
    _check_algorithm(key, params.get(algorithm_name))
    return key, ciphertext.decrypt(ctx.env, key, bytes(blob), params.get(context_name))


@operation("kms", "Encrypt")
def encrypt(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    key = _usable(ctx, params["KeyId"])
    _check_algorithm(key, params.get("EncryptionAlgorithm"))
    _dry_run(params)
    blob = ciphertext.encrypt(ctx.env, key, bytes(params["Plaintext"]), params.get("EncryptionContext"))
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": SYMMETRIC}


@operation("kms", "Decrypt")
def decrypt(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _no_recipient(params)
    key, plaintext = _decrypt(ctx, params, params.get("KeyId"), "EncryptionContext", "EncryptionAlgorithm")
    _dry_run(params)
    return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": SYMMETRIC}


@operation("kms", "ReEncrypt")
def re_encrypt(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    source, plaintext = _decrypt(ctx, params, params.get("SourceKeyId"), "SourceEncryptionContext",
                                 "SourceEncryptionAlgorithm")
    dest = _usable(ctx, params["DestinationKeyId"])
    _check_algorithm(dest, params.get("DestinationEncryptionAlgorithm"))
    _dry_run(params)
    blob = ciphertext.encrypt(ctx.env, dest, plaintext, params.get("DestinationEncryptionContext"))
    return {"CiphertextBlob": blob, "SourceKeyId": source.arn, "KeyId": dest.arn,
            "SourceEncryptionAlgorithm": SYMMETRIC, "DestinationEncryptionAlgorithm": SYMMETRIC}


def _data_key_size(params: dict[str, Any]) -> int:
    spec: str | None = params.get("KeySpec")
    count: int | None = params.get("NumberOfBytes")
    if spec is not None and count is not None:
        raise AwsError("ValidationException", "KeySpec and NumberOfBytes are mutually exclusive; "
                       "specify one of them.")
    if spec is not None:
        return DATA_KEY_BYTES[spec]
    if count is None:
        raise AwsError("ValidationException", "Please specify either number of bytes or key spec.")
    if not 1 <= int(count) <= 1024:
        raise AwsError("ValidationException", f"1 validation error detected: Value '{count}' at "
                       "'numberOfBytes' failed to satisfy constraint: Member must have value between 1 "
                       "and 1024")
    return int(count)


def _data_key(ctx: Ctx, params: dict[str, Any]) -> tuple[Key, bytes, bytes]:
    size = _data_key_size(params)
    key = _usable(ctx, params["KeyId"])
    _dry_run(params)
    plaintext = os.urandom(size)
    return key, plaintext, ciphertext.encrypt(ctx.env, key, plaintext, params.get("EncryptionContext"))


@operation("kms", "GenerateDataKey")
def generate_data_key(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _no_recipient(params)
    key, plaintext, blob = _data_key(ctx, params)
    return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key.arn}


@operation("kms", "GenerateDataKeyWithoutPlaintext")
def generate_data_key_without_plaintext(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    key, _, blob = _data_key(ctx, params)
    return {"CiphertextBlob": blob, "KeyId": key.arn}


@operation("kms", "GenerateRandom")
def generate_random(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    _no_recipient(params)
    if params.get("CustomKeyStoreId"):
        raise AwsError("UnsupportedOperationException", "kura does not support custom key stores.")
    count = params.get("NumberOfBytes")
    if count is None or not 1 <= int(count) <= 1024:
        raise AwsError("ValidationException", f"1 validation error detected: Value '{count}' at "
                       "'numberOfBytes' failed to satisfy constraint: Member must have value between 1 "
                       "and 1024")
    return {"Plaintext": os.urandom(int(count))}
