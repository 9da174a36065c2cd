"""botocore's service models, loaded once, and how a request names its service."""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import ServiceModel

# The services Kura routes. Keys are botocore service names.
SERVICES = ("rds", "elasticache", "secretsmanager", "kms", "ec2", "sts", "sns", "cloudwatch", "logs", "pi",
            "cloudformation")


@functools.lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def service_model(name: str) -> ServiceModel:
    return _session().get_service_model(name)


@functools.lru_cache(maxsize=1)
def _indexes() -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    by_signing: dict[str, str] = {}
    by_target: dict[str, str] = {}
    by_version: dict[str, str] = {}
    by_cbor: dict[str, str] = {}
    for name in SERVICES:
        model = service_model(name)
        by_signing.setdefault(model.signing_name or name, name)
        prefix = model.metadata.get("targetPrefix")
        if prefix:
            by_target[prefix] = name
            by_cbor[prefix.rsplit(".", 1)[-1]] = name
        if "query" in _protocols(model) or model.protocol == "ec2":
            by_version.setdefault(model.api_version, name)
    return by_signing, by_target, by_version, by_cbor


def _protocols(model: ServiceModel) -> list[str]:
    return list(model.metadata.get("protocols") or [model.protocol])


def by_signing_name(signing_name: str) -> str | None:
    return _indexes()[0].get(signing_name)


def by_target_prefix(prefix: str) -> str | None:
    return _indexes()[1].get(prefix)


def by_query_version(version: str) -> str | None:
    return _indexes()[2].get(version)


def by_cbor_service(name: str) -> str | None:
    return _indexes()[3].get(name)


def all_signing_names() -> dict[str, str]:
    return dict(_indexes()[0])


@functools.cache
def error_statuses(name: str) -> dict[str, int]:
    """Error code → HTTP status, as the service's model declares them (404 for most NotFound faults)."""
    out: dict[str, int] = {}
    for shape in service_model(name).error_shapes:
        error = shape.metadata.get("error") or {}
        if error.get("code"):
            out[str(error["code"])] = int(error.get("httpStatusCode", 400))
    return out
