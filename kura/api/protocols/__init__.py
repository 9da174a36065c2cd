"""The AWS wire protocols, one codec each, generic over botocore's service models.

`codec_for(name)` gives the codec of a protocol named as in botocore's metadata; `detect` picks the
one a request speaks, for services (CloudWatch, PI) that accept several.
"""

from __future__ import annotations

from botocore.model import ServiceModel

from kura.api.protocols.cbor import PATH, CborCodec
from kura.api.protocols.ec2 import Ec2Codec
from kura.api.protocols.json_ import JsonCodec
from kura.api.protocols.query import QueryCodec, action_of
from kura.api.types import HttpRequest, ProtocolCodec

__all__ = ["CborCodec", "Ec2Codec", "JsonCodec", "QueryCodec", "codec_for", "detect", "protocols_of"]

_CODECS: dict[str, ProtocolCodec] = {
    "query": QueryCodec(),
    "ec2": Ec2Codec(),
    "json": JsonCodec(),
    "smithy-rpc-v2-cbor": CborCodec(),
}


def codec_for(name: str) -> ProtocolCodec:
    """The codec of a botocore protocol name: query, ec2, json or smithy-rpc-v2-cbor."""
    try:
        return _CODECS[name]
    except KeyError:
        raise ValueError(f"kura has no codec for the {name!r} protocol") from None


def protocols_of(service: ServiceModel) -> list[str]:
    listed = service.metadata.get("protocols")
    return list(listed) if listed else [service.protocol]


def detect(request: HttpRequest, service: ServiceModel) -> ProtocolCodec | None:
    """The codec `request` speaks among the service's protocols, or None if it speaks none of them.

    A service with one protocol always gets that codec (its parser then reports what is wrong).
    """
    protocols = protocols_of(service)
    if len(protocols) == 1:
        return _CODECS.get(protocols[0])
    headers = request.headers
    if "smithy-rpc-v2-cbor" in protocols and (
        headers.get("smithy-protocol") == "rpc-v2-cbor" or PATH.match(request.path)
    ):
        return _CODECS["smithy-rpc-v2-cbor"]
    if "json" in protocols and headers.get("x-amz-target"):
        return _CODECS["json"]
    if "query" in protocols and action_of(request) is not None:
        return _CODECS["query"]
    return None
