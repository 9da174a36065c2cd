"""The Kura CA of an installation and the certificates it issues to endpoints.

Kura runs one root CA per RDS CA identifier clients may name (`--ca-certificate-identifier`), so
templates written for RDS work unchanged; each is Kura's own, made on first need and kept under
`$KURA_HOME/tls/` (`ca.pem`/`ca.key` for the default, rds-ca-rsa2048-g1). The bundle of all of them
is what `kura ca-bundle` prints, as RDS's regional bundle holds all of Amazon's roots.

Endpoint certificates carry a P-256 key (fast to make, accepted by every TLS 1.2+ client) and the
endpoint's addresses/names as SANs; the first SAN is also the CN for clients older than IP SANs
(libpq < 14 matches an IP host against the CN).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import fcntl
import hashlib
import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kura.config import Paths

log = logging.getLogger(__name__)

CaKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

CA_LIFETIME = dt.timedelta(days=365 * 40)  # RDS's roots of 2021 run until 2061
CERT_LIFETIME = dt.timedelta(days=365)  # below Apple's 825-day ceiling for server certificates
RENEW_BEFORE = dt.timedelta(days=30)
BACKDATE = dt.timedelta(hours=1)  # tolerate clients whose clock is a little behind


class KeyAlgorithm(enum.Enum):
    RSA2048 = "RSA2048"
    RSA4096 = "RSA4096"
    ECC384 = "ECC384"


@dataclass(frozen=True, slots=True)
class CaSpec:
    identifier: str  # as RDS names it: CertificateIdentifier / CACertificateIdentifier
    stem: str  # file names under $KURA_HOME/tls/: <stem>.pem, <stem>.key
    algorithm: KeyAlgorithm


CA_SPECS: tuple[CaSpec, ...] = (
    CaSpec("rds-ca-rsa2048-g1", "ca", KeyAlgorithm.RSA2048),  # RDS's default for new launches
    CaSpec("rds-ca-rsa4096-g1", "ca-rsa4096-g1", KeyAlgorithm.RSA4096),
    CaSpec("rds-ca-ecc384-g1", "ca-ecc384-g1", KeyAlgorithm.ECC384),
)
DEFAULT_CA = CA_SPECS[0].identifier
CA_IDENTIFIERS = frozenset(s.identifier for s in CA_SPECS)


@dataclass(frozen=True, slots=True)
class Ca:
    identifier: str
    cert_path: Path
    key_path: Path
    certificate: x509.Certificate
    key: CaKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def thumbprint(self) -> str:
        """SHA-1 of the DER certificate in lowercase hex, as RDS shows it."""
        return self.certificate.fingerprint(hashes.SHA1()).hex()

    @property
    def valid_from(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    @property
    def valid_till(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


def tls_dir(paths: Paths) -> Path:
    return paths.home / "tls"


def spec_for(identifier: str) -> CaSpec:
    for spec in CA_SPECS:
        if spec.identifier == identifier:
            return spec
    raise KeyError(identifier)


# -- the CAs ------------------------------------------------------------------------------------------

def ensure_ca(paths: Paths, identifier: str = DEFAULT_CA, *, now: float | None = None) -> Ca:
    """Load the CA named `identifier`, creating it on first need (safe across threads and processes)."""
    spec = spec_for(identifier)
    directory = tls_dir(paths)
    found = _load_ca(spec, directory)
    if found is not None:
        return found
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(directory):
        found = _load_ca(spec, directory)  # made by someone else while we waited
        return found if found is not None else _create_ca(spec, directory, _utc(now))


def ensure_all(paths: Paths) -> list[Ca]:
    """Every CA of the installation, the default first."""
    return [ensure_ca(paths, spec.identifier) for spec in CA_SPECS]


def bundle_pem(paths: Paths) -> str:
    """All the installation's roots in one PEM: what clients use as sslrootcert."""
    return "".join(ca.pem for ca in ensure_all(paths))


def write_bundle(paths: Paths) -> Path:
    """Write the bundle to `$KURA_HOME/tls/bundle.pem` (when it changed) and return its path."""
    text = bundle_pem(paths).encode()
    path = tls_dir(paths) / "bundle.pem"
    if not path.exists() or path.read_bytes() != text:
        _write_atomic(path, text, 0o644)
    return path


def _load_ca(spec: CaSpec, directory: Path) -> Ca | None:
    cert_path, key_path = directory / f"{spec.stem}.pem", directory / f"{spec.stem}.key"
    if not cert_path.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        # Kura's own 0600 file, checked against the certificate below: the RSA self-check would cost
        # a third of a second for the 4096-bit key on every load.
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None,
                                                 unsafe_skip_rsa_key_validation=True)
    except (OSError, ValueError) as exc:
        log.warning("tls: CA %s is unreadable (%s); making a new one", spec.identifier, exc)
        return None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) or not _same_key(cert, key):
        log.warning("tls: CA %s key does not match its certificate; making a new one", spec.identifier)
        return None
    return Ca(spec.identifier, cert_path, key_path, cert, key)


def _new_key(algorithm: KeyAlgorithm) -> CaKey:
    if algorithm is KeyAlgorithm.RSA2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm is KeyAlgorithm.RSA4096:
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    return ec.generate_private_key(ec.SECP384R1())


def _hash_for(key: CaKey) -> hashes.SHA256 | hashes.SHA384:
    return hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) else hashes.SHA256()


def _create_ca(spec: CaSpec, directory: Path, now: dt.datetime) -> Ca:
    key = _new_key(spec.algorithm)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    # A tag from the key in the name: roots of different installations never share a subject.
    tag = ski.digest[:4].hex()
    label = f"{spec.algorithm.value} G1"
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kura"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Kura RDS"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"Kura RDS Root CA {label} {tag}"),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, _hash_for(key))
    )
    cert_path, key_path = directory / f"{spec.stem}.pem", directory / f"{spec.stem}.key"
    _write_atomic(key_path, _key_pem(key), 0o600)  # the key first: a certificate means both are there
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    log.info("tls: created CA %s (%s)", spec.identifier, cert.subject.rfc4514_string())
    return Ca(spec.identifier, cert_path, key_path, cert, key)


# -- endpoint certificates ----------------------------------------------------------------------------

def issue(
    ca: Ca,
    owner: str,
    sans: list[str],
    out_dir: Path,
    *,
    owner_ids: tuple[int, int] | None = None,
    now: float | None = None,
) -> tuple[Path, Path]:
    """Make sure `out_dir` holds a certificate for `owner` valid for `sans`; return (cert, key) paths.

    Nothing is written while the certificate there is signed by `ca`, names exactly `sans` and is not
    near its end. With `owner_ids` (uid, gid) both files belong to that user (the engine's, when
    Kura runs as root), the key 0600 as PostgreSQL demands.
    """
    names = san_names(sans)
    stem = _slug(owner)
    cert_path, key_path = out_dir / f"{stem}.crt", out_dir / f"{stem}.key"
    when = _utc(now)
    # The CA's lock: two processes re-issuing at once could otherwise pair one's key with the other's cert.
    with _locked(ca.cert_path.parent):
        if _current(ca, cert_path, key_path, names, when):
            if owner_ids is not None:
                for path in (cert_path, key_path):
                    _chown(path, owner_ids)
            return cert_path, key_path
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(ca, owner, names, key, when)
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(key_path, _key_pem(key), 0o600, owner_ids)
        _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644, owner_ids)
    log.info("tls: issued certificate for %s (%s) by %s", owner, ", ".join(sans), ca.identifier)
    return cert_path, key_path


def valid_till(cert_path: Path) -> dt.datetime:
    """When the certificate at `cert_path` ends (DescribeDBInstances' CertificateDetails.ValidTill)."""
    return x509.load_pem_x509_certificate(cert_path.read_bytes()).not_valid_after_utc


def san_names(sans: list[str]) -> list[x509.GeneralName]:
    """IP literals become IP SANs, anything else a DNS name (lowercased); duplicates dropped."""
    names: list[x509.GeneralName] = []
    for raw in sans:
        text = raw.strip()
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(text))
        except ValueError:
            if not _DNS_NAME.fullmatch(text):
                raise ValueError(f"not an IP address or DNS name: {raw!r}") from None
            name = x509.DNSName(text.lower())
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("a certificate needs at least one SAN")
    return names


_DNS_NAME = re.compile(r"(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?")


def _leaf(ca: Ca, owner: str, names: list[x509.GeneralName], key: ec.EllipticCurvePrivateKey,
          now: dt.datetime) -> x509.Certificate:
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kura"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, owner[:64] or "-"),
        x509.NameAttribute(NameOID.COMMON_NAME, str(names[0].value)[:64]),
    ])
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + CERT_LIFETIME, ca.valid_till))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        # clientAuth too: a Redis replica presents the server's certificate to its primary.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca.key, _hash_for(ca.key))
    )


def _current(ca: Ca, cert_path: Path, key_path: Path, names: list[x509.GeneralName],
             now: dt.datetime) -> bool:
    """Whether the certificate in place can stay: same CA, same SANs, not near its end, key matching."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca.certificate)
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return (
        set(have) == set(names)
        and cert.not_valid_before_utc <= now
        and cert.not_valid_after_utc - now > RENEW_BEFORE
        and _same_key(cert, key)
    )


# -- helpers ------------------------------------------------------------------------------------------

def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )


def _same_key(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def _key_pem(key: CaKey) -> bytes:
    # Unencrypted: PostgreSQL and Redis read it at start with no one to type a passphrase.
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _utc(now: float | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromtimestamp(now, dt.UTC)


def _slug(owner: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", owner).strip(".")
    if not slug:
        raise ValueError(f"owner {owner!r} makes no file name")
    if len(slug) > 100:  # keep file names short yet distinct
        slug = slug[:80] + "-" + hashlib.sha256(owner.encode()).hexdigest()[:16]
    return slug


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on `<directory>/.lock`: serializes threads and processes alike."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _chown(path: Path, ids: tuple[int, int]) -> None:
    st = path.stat()
    if (st.st_uid, st.st_gid) != ids:
        os.chown(path, *ids)


def _write_atomic(path: Path, data: bytes, mode: int, owner_ids: tuple[int, int] | None = None) -> None:
    """Write to a temporary file, set mode and owner, then rename: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)  # the umask may have taken bits away
            if owner_ids is not None:
                os.fchown(f.fileno(), *owner_ids)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
