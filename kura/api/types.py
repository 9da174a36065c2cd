"""Contracts of the API plane: the raw HTTP exchange and the protocol codec interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.model import OperationModel, ServiceModel


class Headers:
    """Case-insensitive, single-valued header map (AWS never relies on repeated request headers)."""

    __slots__ = ("_d",)

    def __init__(self, items: list[tuple[str, str]] | dict[str, str] | None = None) -> None:
        self._d: dict[str, tuple[str, str]] = {}
        pairs = items.items() if isinstance(items, dict) else (items or [])
        for k, v in pairs:
            self._d[k.lower()] = (k, v)

    def get(self, name: str, default: str | None = None) -> str | None:
        hit = self._d.get(name.lower())
        return hit[1] if hit else default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._d

    def __getitem__(self, name: str) -> str:
        return self._d[name.lower()][1]

    def __setitem__(self, name: str, value: str) -> None:
        self._d[name.lower()] = (name, value)

    def items(self) -> list[tuple[str, str]]:
        """Original-case names with values."""
        return list(self._d.values())

    def lower_items(self) -> list[tuple[str, str]]:
        return [(k, v[1]) for k, v in self._d.items()]


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str  # raw (still percent-encoded) path, without the query string
    query: list[tuple[str, str]]  # decoded query parameters in order
    raw_query: str  # the query string as sent, for SigV4
    headers: Headers
    body: bytes
    client_host: str = "127.0.0.1"


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ProtocolCodec(Protocol):
    """One per AWS protocol; generic over every service that uses it."""

    name: str

    def operation_name(self, request: HttpRequest, service: ServiceModel) -> str | None:
        """Which operation the request calls, or None if the request does not say."""

    def parse(self, request: HttpRequest, operation: OperationModel) -> dict[str, Any]:
        """Decode the request into a dict shaped like the operation's input shape.

        Raises AwsError (SerializationException / ValidationError / MalformedQueryString …) on
        undecodable input. Type checking against the shape is the validator's job.
        """

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        """Encode a handler's result, shaped like the operation's output shape, as AWS does."""

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: Any, request_id: str
    ) -> HttpResponse:
        """Encode an AwsError as the service's protocol does."""
