"""Installation master key and AES-256-GCM sealing.

The master key encrypts KMS key material; KMS keys encrypt data keys; data keys encrypt data
(envelope encryption). The master key is a 0600 file under $KURA_HOME, or KURA_MASTER_KEY
(base64 of 32 bytes) in the environment.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12
_VERSION = b"\x01"


class SealError(Exception):
    """The blob was not sealed by this key, was tampered with, or the context differs."""


def seal(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    nonce = os.urandom(NONCE)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    if len(blob) < 1 + NONCE + 16 or blob[:1] != _VERSION:
        raise SealError("not a sealed blob")
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + NONCE], blob[1 + NONCE :], aad)
    except InvalidTag as exc:
        raise SealError("authentication failed") from exc


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._key = key

    @classmethod
    def load(cls, path: Path) -> MasterKey:
        """From KURA_MASTER_KEY, else the file at `path`, created (0600) on first use."""
        env = os.environ.get("KURA_MASTER_KEY")
        if env:
            return cls(base64.b64decode(env))
        if path.exists():
            return cls(path.read_bytes())
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return cls(key)

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        return seal(self._key, plaintext, aad)

    def unseal(self, blob: bytes, aad: bytes = b"") -> bytes:
        return unseal(self._key, blob, aad)
