"""How Kura signs what SNS sends, as AWS does: an RSA key, SignatureVersion 1 (SHA1withRSA) or 2
(SHA256withRSA) over the canonical string of the message, and a certificate a subscriber fetches
from SigningCertURL (served by the API endpoint under /_kura/sns/).

The key and certificate live in `$KURA_HOME/sns/` and the certificate is issued by the Kura CA
(`kura ca-bundle`), so a subscriber can check its chain as it would Amazon's. Certificates of earlier
keys stay there, so messages signed before a renewal still verify.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from kura.config import Paths
from kura.net import tls

LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
CERT_NAME = re.compile(r"^SimpleNotificationService-[0-9a-f]{32}\.pem$")
URL_PREFIX = "/_kura/sns/"

# The fields each message type signs, in this order (AWS's canonical string).
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def string_to_sign(message: dict[str, Any]) -> str:
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else CONFIRMATION_FIELDS
    return "".join(f"{name}\n{message[name]}\n" for name in fields if message.get(name) is not None)


@dataclass(frozen=True, slots=True)
class Signer:
    key: rsa.RSAPrivateKey
    cert_pem: bytes

    @property
    def cert_name(self) -> str:
        return cert_name(self.cert_pem)

    def sign(self, message: dict[str, Any], version: str) -> str:
        digest: hashes.HashAlgorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
        raw = self.key.sign(string_to_sign(message).encode(), padding.PKCS1v15(), digest)
        return base64.b64encode(raw).decode()


def cert_name(pem: bytes) -> str:
    return f"SimpleNotificationService-{hashlib.sha256(pem).hexdigest()[:32]}.pem"


def sns_dir(paths: Paths) -> Path:
    return paths.home / "sns"


_lock = threading.Lock()
_cache: dict[Path, Signer] = {}


def signer(paths: Paths, now: float | None = None) -> Signer:
    """The home's signer, made on first need and renewed a month before its certificate ends."""
    when = dt.datetime.fromtimestamp(now, dt.UTC) if now is not None else dt.datetime.now(dt.UTC)
    directory = sns_dir(paths)
    with _lock:
        found = _cache.get(directory) or _load(directory)
        if found is None or _ends(found) - RENEW_BEFORE < when:
            found = _create(paths, directory, when)
        _cache[directory] = found
        return found


def certificate(paths: Paths, name: str) -> bytes | None:
    """The PEM a SigningCertURL names, or None."""
    if not CERT_NAME.match(name):
        return None
    path = sns_dir(paths) / "certs" / name
    return path.read_bytes() if path.is_file() else None


def _ends(found: Signer) -> dt.datetime:
    return x509.load_pem_x509_certificate(found.cert_pem).not_valid_after_utc


def _load(directory: Path) -> Signer | None:
    key_path, cert_path = directory / "signing.key", directory / "signing.pem"
    if not key_path.is_file() or not cert_path.is_file():
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    pem = cert_path.read_bytes()
    public = x509.load_pem_x509_certificate(pem).public_key()
    if not isinstance(key, rsa.RSAPrivateKey) or not isinstance(public, rsa.RSAPublicKey) \
            or public.public_numbers() != key.public_key().public_numbers():
        return None  # a renewal cut short between the two files: make a fresh pair
    return Signer(key, pem)


def _create(paths: Paths, directory: Path, now: dt.datetime) -> Signer:
    ca = tls.ensure_ca(paths)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kura"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Kura Simple Notification Service")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.certificate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(min(now + LIFETIME, ca.valid_till))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=False, crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(ca.key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (directory / "certs").mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(directory / "certs" / cert_name(pem), pem, 0o644)
    _write(directory / "signing.key", key_pem, 0o600)
    _write(directory / "signing.pem", pem, 0o644)
    return Signer(key, pem)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    tmp.replace(path)
