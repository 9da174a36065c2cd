"""The handler contract: one function per AWS operation, registered by (service, operation).

A handler takes the request context and the parsed, validated input (a dict shaped like the
operation's botocore input shape) and returns a dict shaped like its output shape. It raises
AwsError for anything the client did wrong. Handlers never start processes: reconcilers do.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kura.env import Env
from kura.store.types import Store


@dataclass(frozen=True, slots=True)
class Ctx:
    env: Env
    service: str  # botocore service name: "secretsmanager", "kms", "ec2", "rds", …
    operation: str  # "CreateSecret"
    region: str
    request_id: str
    access_key: str = ""
    anonymous: bool = False  # an unsigned call AWS allows (SNS's SubscribeURL / UnsubscribeURL links)

    @property
    def store(self) -> Store:
        return self.env.store

    @property
    def account(self) -> str:
        return self.env.account

    def now(self) -> float:
        return self.env.clock.now()

    def arn(self, resource: str, service: str | None = None) -> str:
        return f"arn:aws:{service or self.service}:{self.region}:{self.account}:{resource}"


Handler = Callable[[Ctx, dict[str, Any]], dict[str, Any]]

_HANDLERS: dict[tuple[str, str], Handler] = {}


def operation(service: str, name: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler of `service:name` (botocore service and operation names)."""

    def register(fn: Handler) -> Handler:
        key = (service, name)
        if key in _HANDLERS and _HANDLERS[key] is not fn:
            raise RuntimeError(f"two handlers for {service}:{name}")
        _HANDLERS[key] = fn
        return fn

    return register


def lookup(service: str, name: str) -> Handler | None:
    return _HANDLERS.get((service, name))


def implemented() -> list[tuple[str, str]]:
    return sorted(_HANDLERS)


def load_all() -> None:
    """Import every service package so that their handlers register."""
    import kura.services as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix="kura.services."):
        importlib.import_module(info.name)
