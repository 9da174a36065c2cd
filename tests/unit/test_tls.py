"""The Kura CAs and endpoint certificates, checked by a real TLS handshake (ssl module) on loopback."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kura import cli_tls
from kura.config import Paths
from kura.net import addresses, tls
from kura.net.addresses import Endpoint
from kura.store.sqlite import SqliteStore

DAY = 86400.0


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """One installation with all its CAs (the RSA-4096 one takes a second to make: once per module)."""
    paths = Paths(tmp_path_factory.mktemp("tls") / "home")
    paths.ensure()
    tls.ensure_all(paths)
    return paths


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    """A loopback address and port of the test's own."""
    store = SqliteStore(tmp_path / "state.db")
    try:
        yield addresses.allocate(store, "tls-test", 0)
    finally:
        store.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sans_of(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in ext}


def serve_once(ep: Endpoint, cert: Path, key: Path) -> tuple[socket.socket, threading.Thread]:
    """A one-connection TLS server on the test's own address: answers b"ok" after the handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((ep.address, ep.port))
    server.listen()

    def run() -> None:
        conn, _ = server.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls_conn:
                tls_conn.sendall(b"ok")
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate: what some tests want

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server, thread


def handshake(ep: Endpoint, port: int, cafile: Path, server_hostname: str) -> bytes:
    client = ssl.create_default_context(cafile=str(cafile))
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED
    with socket.create_connection((ep.address, port), timeout=5) as raw, \
            client.wrap_socket(raw, server_hostname=server_hostname) as conn:
        return conn.recv(2)


def tls_roundtrip(ep: Endpoint, cert: Path, key: Path, cafile: Path, server_hostname: str) -> bytes:
    server, thread = serve_once(ep, cert, key)
    try:
        return handshake(ep, server.getsockname()[1], cafile, server_hostname)
    finally:
        server.close()
        thread.join(timeout=5)


# -- the CAs ---------------------------------------------------------------------------------------------

def test_ca_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "home")
    ca = tls.ensure_ca(paths)
    assert ca.identifier == tls.DEFAULT_CA == "rds-ca-rsa2048-g1"
    assert ca.cert_path == paths.home / "tls" / "ca.pem" and ca.key_path == paths.home / "tls" / "ca.key"
    assert mode(ca.key_path) == 0o600 and mode(paths.home / "tls") == 0o700
    assert isinstance(ca.key, rsa.RSAPrivateKey) and ca.key.key_size == 2048
    again = tls.ensure_ca(paths)
    assert again.thumbprint == ca.thumbprint and again.cert_path.read_bytes() == ca.cert_path.read_bytes()
    basic = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    assert ca.valid_till - ca.valid_from > dt.timedelta(days=365 * 30)


def test_ca_creation_races_end_with_one_ca(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "home")
    found: list[str] = []
    threads = [threading.Thread(target=lambda: found.append(tls.ensure_ca(paths).thumbprint))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 6 and len(set(found)) == 1
    assert tls.ensure_ca(paths).thumbprint == found[0]


def test_a_broken_ca_key_is_replaced(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "home")
    ca = tls.ensure_ca(paths)
    ca.key_path.write_text("not a key")
    fresh = tls.ensure_ca(paths)
    assert fresh.thumbprint != ca.thumbprint and mode(fresh.key_path) == 0o600


def test_every_rds_identifier_has_its_own_ca(home: Paths) -> None:
    cas = tls.ensure_all(home)
    assert [ca.identifier for ca in cas] == ["rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"]
    assert isinstance(cas[1].key, rsa.RSAPrivateKey) and cas[1].key.key_size == 4096
    assert isinstance(cas[2].key, ec.EllipticCurvePrivateKey) and cas[2].key.curve.name == "secp384r1"
    assert len({ca.certificate.subject for ca in cas}) == 3
    assert all(len(ca.thumbprint) == 40 for ca in cas)
    with pytest.raises(KeyError):
        tls.ensure_ca(home, "rds-ca-2015")


def test_bundle_holds_every_ca_default_first(home: Paths) -> None:
    text = tls.bundle_pem(home)
    certs = x509.load_pem_x509_certificates(text.encode())
    assert [c.subject for c in certs] == [ca.certificate.subject for ca in tls.ensure_all(home)]
    path = tls.write_bundle(home)
    assert path.read_text() == text


def test_ca_bundle_command_prints_the_bundle(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_tls.main(["--home", str(home.home)]) == 0
    assert capsys.readouterr().out == tls.bundle_pem(home)


# -- endpoint certificates -------------------------------------------------------------------------------

def test_issued_certificate_verifies_for_its_address(home: Paths, endpoint: Endpoint, tmp_path: Path) -> None:
    ca = tls.ensure_ca(home)
    cert, key = tls.issue(ca, "db-a", [endpoint.address, "db-a.kura.internal"], tmp_path / "tls")
    assert mode(key) == 0o600
    assert sans_of(cert) == {endpoint.address, "db-a.kura.internal"}
    bundle = tls.write_bundle(home)
    assert tls_roundtrip(endpoint, cert, key, bundle, endpoint.address) == b"ok"
    assert tls_roundtrip(endpoint, cert, key, bundle, "db-a.kura.internal") == b"ok"


@pytest.mark.parametrize("identifier", ["rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"])
def test_every_ca_issues_verifiable_certificates(
    home: Paths, endpoint: Endpoint, tmp_path: Path, identifier: str
) -> None:
    cert, key = tls.issue(tls.ensure_ca(home, identifier), "db-a", [endpoint.address], tmp_path)
    assert tls_roundtrip(endpoint, cert, key, tls.write_bundle(home), endpoint.address) == b"ok"


def test_wrong_name_or_foreign_ca_is_refused(home: Paths, endpoint: Endpoint, tmp_path: Path) -> None:
    ca = tls.ensure_ca(home)
    cert, key = tls.issue(ca, "db-a", ["db-a.kura.internal"], tmp_path / "a")
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        tls_roundtrip(endpoint, cert, key, tls.write_bundle(home), endpoint.address)
    stranger = Paths(tmp_path / "other-home")
    foreign = tls.ensure_ca(stranger)
    cert, key = tls.issue(foreign, "db-a", [endpoint.address], tmp_path / "b")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        tls_roundtrip(endpoint, cert, key, tls.write_bundle(home), endpoint.address)


def test_issue_keeps_a_current_certificate(home: Paths, tmp_path: Path) -> None:
    ca = tls.ensure_ca(home)
    cert, key = tls.issue(ca, "rds:ap-northeast-1:db-a", ["127.10.0.7"], tmp_path)
    assert cert.name == "rds_ap-northeast-1_db-a.crt"
    before = (cert.read_bytes(), key.read_bytes())
    assert tls.issue(ca, "rds:ap-northeast-1:db-a", ["127.10.0.7"], tmp_path) == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == before


def test_issue_renews_on_new_sans_new_ca_or_near_expiry(home: Paths, tmp_path: Path) -> None:
    ca = tls.ensure_ca(home)
    cert, _ = tls.issue(ca, "db-a", ["127.10.0.7"], tmp_path)
    first = cert.read_bytes()
    tls.issue(ca, "db-a", ["127.10.0.7", "db-a.kura.internal"], tmp_path)
    assert cert.read_bytes() != first and sans_of(cert) == {"127.10.0.7", "db-a.kura.internal"}
    # The instance moves to another CA (ModifyDBInstance --ca-certificate-identifier).
    other = tls.ensure_ca(home, "rds-ca-ecc384-g1")
    tls.issue(other, "db-a", ["127.10.0.7", "db-a.kura.internal"], tmp_path)
    issued = x509.load_pem_x509_certificate(cert.read_bytes())
    assert issued.issuer == other.certificate.subject
    # A certificate issued 340 days ago has 25 days left: renewed.
    tls.issue(ca, "db-a", ["127.10.0.7"], tmp_path, now=time.time() - 340 * DAY)
    old = cert.read_bytes()
    tls.issue(ca, "db-a", ["127.10.0.7"], tmp_path)
    renewed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert cert.read_bytes() != old and renewed.not_valid_after_utc.timestamp() > time.time() + 300 * DAY
    assert tls.valid_till(cert) == renewed.not_valid_after_utc


def test_issue_refuses_what_is_no_name() -> None:
    with pytest.raises(ValueError):
        tls.san_names(["not a host name"])
    with pytest.raises(ValueError):
        tls.san_names([])
    assert [str(n.value) for n in tls.san_names(["DB.Example.com", "db.example.com", "::1"])] == [
        "db.example.com", "::1"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_issue_hands_the_files_to_the_engine_user(home: Paths, tmp_path: Path) -> None:
    ids = (65534, 65534)  # nobody, as an engine's unprivileged user
    cert, key = tls.issue(tls.ensure_ca(home), "db-a", ["127.10.0.7"], tmp_path, owner_ids=ids)
    for path in (cert, key):
        assert (path.stat().st_uid, path.stat().st_gid) == ids
    assert mode(key) == 0o600
    os.chown(key, 0, 0)  # ownership drifted (restored from a backup as root): put right, not re-issued
    before = cert.read_bytes()
    tls.issue(tls.ensure_ca(home), "db-a", ["127.10.0.7"], tmp_path, owner_ids=ids)
    assert (key.stat().st_uid, key.stat().st_gid) == ids and cert.read_bytes() == before
