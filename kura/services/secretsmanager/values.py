"""Secret values at rest: AES-256-GCM under a fresh KMS data key per version (envelope encryption).

A value record keeps the ciphertext, the data key as KMS encrypted it and the key's ARN. The
additional authenticated data binds the ciphertext to the secret's ARN and the version id, and
the same pair is the KMS encryption context (as AWS uses it), so a record copied onto another
secret or version fails to decrypt. Plaintext never reaches the store, a log or an error.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass

from kura.api.errors import AwsError
from kura.crypto import SealError, seal, unseal
from kura.env import Env
from kura.services.kms import internal as kms
from kura.services.secretsmanager.names import (
    DEFAULT_KEY_ALIAS,
    MAX_VALUE_BYTES,
    VALUE_KIND,
    invalid_parameter,
    not_found,
)

_ENCRYPT_FAILED = (
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that "
    "the KMS key is available, enabled, and not in an invalid state."
)
_DECRYPT_FAILED = "Secrets Manager can't decrypt the protected secret text using the provided KMS key."


@dataclass(frozen=True, slots=True)
class SecretValue:
    """Exactly one of text and binary is set. repr never shows the value."""

    text: str | None = None
    binary: bytes | None = None

    def __repr__(self) -> str:
        return f"SecretValue({'binary' if self.binary is not None else 'text'}, <redacted>)"

    @property
    def raw(self) -> bytes:
        return self.binary if self.binary is not None else (self.text or "").encode()

    def same_as(self, other: SecretValue) -> bool:
        return (self.binary is None) == (other.binary is None) and hmac.compare_digest(self.raw, other.raw)

    def as_output(self) -> dict[str, str | bytes]:
        return {"SecretBinary": self.binary} if self.binary is not None else {"SecretString": self.text or ""}


def from_params(params: dict[str, object], *, required: bool) -> SecretValue | None:
    """SecretString / SecretBinary of a request, checked as AWS checks them."""
    text, binary = params.get("SecretString"), params.get("SecretBinary")
    if text is not None and binary is not None:
        raise invalid_parameter(
            "You can't specify both a binary secret value and a string secret value in the same secret."
        )
    if text is None and binary is None:
        if required:
            raise invalid_parameter("You must provide either SecretString or SecretBinary.")
        return None
    if isinstance(binary, str):  # a JSON client may hand us base64 that the parser left alone
        binary = base64.b64decode(binary)
    value = SecretValue(text=text if isinstance(text, str) else None,
                        binary=binary if isinstance(binary, bytes) else None)
    if not value.raw or len(value.raw) > MAX_VALUE_BYTES:
        raise invalid_parameter(f"The secret value must be between 1 and {MAX_VALUE_BYTES} bytes.")
    return value


def required(params: dict[str, object]) -> SecretValue:
    value = from_params(params, required=True)
    if value is None:  # from_params raised already; this satisfies the type checker
        raise invalid_parameter("You must provide either SecretString or SecretBinary.")
    return value


# -- KMS errors as Secrets Manager answers them -----------------------------------------------
def key_error(exc: AwsError, *, encrypting: bool) -> AwsError:
    if exc.code == "NotFoundException":
        return AwsError("ResourceNotFoundException", f"Secrets Manager can't find the specified KMS key. "
                        f"{exc.message}")
    if exc.code in ("DisabledException", "KMSInvalidStateException", "InvalidCiphertextException"):
        return AwsError("EncryptionFailure" if encrypting else "DecryptionFailure",
                        _ENCRYPT_FAILED if encrypting else _DECRYPT_FAILED)
    return invalid_parameter(f"Invalid KmsKeyId: {exc.message}")


def resolve_key(env: Env, region: str, key_ref: str | None) -> str:
    """The key ARN behind a KmsKeyId (None or "": the AWS managed key)."""
    try:
        return kms.resolve_key(env, region, key_ref or None, default_alias=DEFAULT_KEY_ALIAS)
    except AwsError as exc:
        raise key_error(exc, encrypting=True) from None


def _context(arn: str, version_id: str) -> dict[str, str]:
    return {"SecretARN": arn, "SecretVersionId": version_id}


def _aad(arn: str, version_id: str) -> bytes:
    return f"{arn}\n{version_id}".encode()


def record_id(arn: str, version_id: str) -> str:
    return f"{arn}#{version_id}"


def store(env: Env, region: str, arn: str, version_id: str, key_ref: str | None,
          value: SecretValue) -> str:
    """Encrypt and store one version's value; return the KMS key ARN used."""
    try:
        key_arn, data_key, wrapped = kms.generate_data_key(
            env, region, key_ref, default_alias=DEFAULT_KEY_ALIAS, context=_context(arn, version_id))
    except AwsError as exc:
        raise key_error(exc, encrypting=True) from None
    spec = {
        "binary": value.binary is not None,
        "key_arn": key_arn,
        "data_key": base64.b64encode(wrapped).decode(),
        "ciphertext": base64.b64encode(seal(data_key, value.raw, _aad(arn, version_id))).decode(),
    }
    rid = record_id(arn, version_id)
    existing = env.store.get(VALUE_KIND, region, rid)
    if existing is None:
        env.store.create(VALUE_KIND, region, rid, spec)
    else:  # re-encryption under another key (UpdateSecret KmsKeyId)
        env.store.update(existing, spec=spec)
    return key_arn


def load(env: Env, region: str, arn: str, version_id: str) -> SecretValue:
    res = env.store.get(VALUE_KIND, region, record_id(arn, version_id))
    if res is None:
        raise not_found(f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
    spec = res.spec
    try:
        _, data_key = kms.decrypt_data_key(env, region, base64.b64decode(spec["data_key"]),
                                           context=_context(arn, version_id))
    except AwsError as exc:
        raise key_error(exc, encrypting=False) from None
    try:
        raw = unseal(data_key, base64.b64decode(spec["ciphertext"]), _aad(arn, version_id))
    except SealError:
        raise AwsError("DecryptionFailure", _DECRYPT_FAILED) from None
    return SecretValue(binary=raw) if spec["binary"] else SecretValue(text=raw.decode())


def has_value(env: Env, region: str, arn: str, version_id: str) -> bool:
    return env.store.get(VALUE_KIND, region, record_id(arn, version_id)) is not None


def drop(env: Env, region: str, arn: str, version_ids: list[str]) -> None:
    for vid in version_ids:
        res = env.store.get(VALUE_KIND, region, record_id(arn, vid))
        if res is not None:
            env.store.delete(res)
