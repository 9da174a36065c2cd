"""DescribeCertificates: the installation's Kura CAs, under the RDS identifiers they stand in for."""

from __future__ import annotations

from typing import Any

from kura.net import tls
from kura.services.common import filters
from kura.services.common.pagination import rds_page
from kura.services.rds import errors
from kura.services.registry import Ctx, operation


def certificate_arn(region: str, identifier: str) -> str:
    # RDS's CA certificates belong to no account: the ARN has an empty account field.
    return f"arn:aws:rds:{region}::cert:{identifier}"


def view(ca: tls.Ca, region: str) -> dict[str, Any]:
    return {
        "CertificateIdentifier": ca.identifier,
        "CertificateType": "CA",
        "Thumbprint": ca.thumbprint,
        "ValidFrom": ca.valid_from,
        "ValidTill": ca.valid_till,
        "CertificateArn": certificate_arn(region, ca.identifier),
        "CustomerOverride": False,
    }


@operation("rds", "DescribeCertificates")
def describe_certificates(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("CertificateIdentifier")
    if wanted and wanted not in tls.CA_IDENTIFIERS:
        raise errors.fault("CertificateNotFound", f"Certificate {wanted} not found.")
    # RDS documents Filters as unsupported: no name is valid, so any filter is refused, not ignored.
    filters.apply([], params.get("Filters"), {})
    paths = ctx.env.settings.paths
    cas = [tls.ensure_ca(paths, wanted)] if wanted else tls.ensure_all(paths)
    page, marker = rds_page(cas, lambda ca: ca.identifier, params)
    out: dict[str, Any] = {
        "DefaultCertificateForNewLaunches": tls.DEFAULT_CA,
        "Certificates": [view(ca, ctx.region) for ca in page],
    }
    if marker:
        out["Marker"] = marker
    return out
