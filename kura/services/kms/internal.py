"""Envelope encryption for Kura's other services (Secrets Manager, RDS, ElastiCache …).

They call these functions in-process instead of the KMS wire API. Errors are AwsError with KMS
codes (NotFoundException, DisabledException, KMSInvalidStateException, InvalidCiphertextException);
callers map them to their own service's errors, as AWS services do with KMS failures.
"""

from __future__ import annotations

import os

from kura.api.errors import AwsError
from kura.env import Env
from kura.services.kms import ciphertext
from kura.services.kms.model import Key, find_key, get_key, require_usable

KmsError = AwsError  # the one exception root of the API layer; `code` tells KMS failures apart

__all__ = ["KmsError", "decrypt_data_key", "generate_data_key", "resolve_key"]


def _usable_key(env: Env, region: str, key_ref: str | None, default_alias: str) -> Key:
    key = find_key(env, region, key_ref or default_alias)
    require_usable(key)
    return key


def resolve_key(env: Env, region: str, key_ref: str | None, *, default_alias: str) -> str:
    """Key ARN for key_ref (key id, key ARN, alias name, alias ARN) or, when None, the AWS managed
    key default_alias (e.g. "alias/aws/secretsmanager"), created on first use.

    Raises AwsError NotFoundException / DisabledException / KMSInvalidStateException.
    """
    return _usable_key(env, region, key_ref, default_alias).arn


def generate_data_key(
    env: Env, region: str, key_ref: str | None, *, default_alias: str,
    context: dict[str, str] | None = None,
) -> tuple[str, bytes, bytes]:
    """(key ARN, plaintext 32-byte data key, encrypted data key blob)."""
    key = _usable_key(env, region, key_ref, default_alias)
    data_key = os.urandom(32)
    return key.arn, data_key, ciphertext.encrypt(env, key, data_key, context)


def decrypt_data_key(
    env: Env, region: str, blob: bytes, *, context: dict[str, str] | None = None
) -> tuple[str, bytes]:
    """(key ARN, plaintext data key).

    Raises DisabledException / KMSInvalidStateException / NotFoundException /
    InvalidCiphertextException.
    """
    key = get_key(env, region, ciphertext.key_id_of(blob))
    require_usable(key)
    return key.arn, ciphertext.decrypt(env, key, blob, context)
