"""DescribeCertificates against a real Kura server, through boto3 and the real AWS CLI, and the
bundle `kura ca-bundle` prints holding exactly the certificates described."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.kura_fixture import KuraServer

IDS = ["rds-ca-ecc384-g1", "rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1"]  # the order RDS lists them in


def ca_bundle(kura: KuraServer) -> list[x509.Certificate]:
    out = subprocess.run([sys.executable, "-m", "kura.cli_tls", "--home", str(kura.home)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return x509.load_pem_x509_certificates(out.encode())


def error_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp: dict[str, Any] = info.value.response
    return str(resp["Error"]["Code"]), int(resp["ResponseMetadata"]["HTTPStatusCode"])


def test_boto3_lists_the_kura_cas(kura: KuraServer) -> None:
    out = kura.client("rds").describe_certificates()
    assert out["DefaultCertificateForNewLaunches"] == "rds-ca-rsa2048-g1"
    assert "Marker" not in out
    certs = out["Certificates"]
    assert [c["CertificateIdentifier"] for c in certs] == IDS
    for c in certs:
        assert c["CertificateType"] == "CA"
        assert c["CertificateArn"] == f"arn:aws:rds:{kura.region}::cert:{c['CertificateIdentifier']}"
        assert c["CustomerOverride"] is False
        assert c["ValidFrom"] < c["ValidTill"] and c["ValidTill"].year >= 2060
        assert len(c["Thumbprint"]) == 40


def test_the_bundle_holds_the_described_certificates(kura: KuraServer) -> None:
    described = kura.client("rds").describe_certificates()["Certificates"]
    bundle = ca_bundle(kura)
    assert len(bundle) == 3
    # The default first in the bundle, as sslrootcert files usually list the current root first.
    default = next(c for c in described if c["CertificateIdentifier"] == "rds-ca-rsa2048-g1")
    assert bundle[0].fingerprint(hashes.SHA1()).hex() == default["Thumbprint"]
    by_thumb = {c.fingerprint(hashes.SHA1()).hex(): c for c in bundle}
    for c in described:
        cert = by_thumb[c["Thumbprint"]]
        assert cert.not_valid_before_utc == c["ValidFrom"]
        assert cert.not_valid_after_utc == c["ValidTill"]


def test_one_certificate_by_identifier(kura: KuraServer) -> None:
    rds = kura.client("rds")
    out = rds.describe_certificates(CertificateIdentifier="rds-ca-rsa4096-g1")
    assert [c["CertificateIdentifier"] for c in out["Certificates"]] == ["rds-ca-rsa4096-g1"]
    with pytest.raises(ClientError) as info:
        rds.describe_certificates(CertificateIdentifier="rds-ca-2015")
    assert error_of(info) == ("CertificateNotFound", 404)


def test_pagination_and_unsupported_filters(kura: KuraServer) -> None:
    rds = kura.client("rds")
    pages = list(rds.get_paginator("describe_certificates").paginate(PaginationConfig={"PageSize": 20}))
    assert [c["CertificateIdentifier"] for p in pages for c in p["Certificates"]] == IDS
    for bad in ({"MaxRecords": 10}, {"Marker": "not-a-marker"},
                {"Filters": [{"Name": "certificate-id", "Values": ["x"]}]}):
        with pytest.raises(ClientError) as info:
            rds.describe_certificates(**bad)
        assert error_of(info)[0] == "InvalidParameterValue", bad


def test_aws_cli(kura: KuraServer) -> None:
    out = kura.aws("rds", "describe-certificates")
    assert [c["CertificateIdentifier"] for c in out["Certificates"]] == IDS
    assert out["DefaultCertificateForNewLaunches"] == "rds-ca-rsa2048-g1"
    one = kura.aws("rds", "describe-certificates", "--certificate-identifier", "rds-ca-ecc384-g1")
    assert [c["CertificateIdentifier"] for c in one["Certificates"]] == ["rds-ca-ecc384-g1"]
    text = kura.aws("rds", "describe-certificates", "--query", "Certificates[].Thumbprint",
                    "--output", "text")
    assert len(text.split()) == 3
    proc = kura.aws("rds", "describe-certificates", "--certificate-identifier", "nope", check=False)
    assert proc.returncode != 0 and "CertificateNotFound" in proc.stderr
