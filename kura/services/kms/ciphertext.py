"""Kura's KMS ciphertext blob: opaque to clients, self-describing for Decrypt.

    version (1 byte) | key id (36 ASCII bytes, a UUID) | AES-256-GCM sealed payload

The payload is sealed under the key's material with the key id and the canonical encryption
context as additional authenticated data: a different context, or a blob whose header was
pointed at another key, fails authentication and is answered as InvalidCiphertextException.
"""

from __future__ import annotations

import json
import uuid

from kura.api.errors import AwsError
from kura.crypto import NONCE, SealError, seal, unseal
from kura.env import Env
from kura.services.kms.model import Key, material

_VERSION = b"\x4b"  # "K": not a valid first byte of other Kura blobs, so mixing them up fails early
_ID = 36
_HEADER = 1 + _ID
_MIN = _HEADER + 1 + NONCE + 16  # sealed payload of an empty plaintext


def invalid_ciphertext() -> AwsError:
    # AWS says nothing more than the code: saying why would help an attacker.
    return AwsError("InvalidCiphertextException", "")


def _aad(key_id: str, context: dict[str, str] | None) -> bytes:
    canonical = json.dumps(context or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return key_id.encode() + b"\x00" + canonical.encode()


def key_id_of(blob: bytes) -> str:
    """The id of the key that made `blob`, or InvalidCiphertextException if it is not ours."""
    if len(blob) < _MIN or blob[:1] != _VERSION:
        raise invalid_ciphertext()
    try:
        key_id = blob[1:_HEADER].decode("ascii")
        if str(uuid.UUID(key_id)) != key_id:
            raise ValueError(key_id)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise invalid_ciphertext() from exc
    return key_id


def encrypt(env: Env, key: Key, plaintext: bytes, context: dict[str, str] | None) -> bytes:
    return _VERSION + key.id.encode() + seal(material(env, key), plaintext, _aad(key.id, context))


def decrypt(env: Env, key: Key, blob: bytes, context: dict[str, str] | None) -> bytes:
    if key_id_of(blob) != key.id:
        raise invalid_ciphertext()
    try:
        return unseal(material(env, key), blob[_HEADER:], _aad(key.id, context))
    except SealError as exc:
        raise invalid_ciphertext() from exc
