"""The store interface. SQLite implements it on one machine; a networked store can replace it."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


class StoreError(Exception):
    """Root of store errors."""


class AlreadyExists(StoreError):
    pass


class VersionConflict(StoreError):
    """Someone else changed the resource since it was read: re-read and decide again."""


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str  # e.g. "secretsmanager.secret", "rds.db-instance"
    region: str
    id: str
    spec: dict[str, Any]  # desired state, written by the API plane
    status: dict[str, Any]  # observed state, written by the control plane
    version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Event:
    region: str
    source_type: str  # AWS SourceType, e.g. "db-instance", "cache-cluster"
    source_id: str
    message: str
    categories: tuple[str, ...] = ()
    time: float = 0.0
    seq: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


ChangeListener = Callable[[str, str, str], None]  # (kind, region, id)


class Store(Protocol):
    def get(self, kind: str, region: str, id: str) -> Resource | None: ...

    def list(self, kind: str, region: str | None = None) -> list[Resource]: ...

    def create(
        self, kind: str, region: str, id: str, spec: dict[str, Any], status: dict[str, Any] | None = None
    ) -> Resource:
        """Insert a new resource; AlreadyExists if (kind, region, id) is taken."""

    def update(
        self, res: Resource, *, spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None
    ) -> Resource:
        """Replace spec and/or status if `res.version` is still current, else VersionConflict."""

    def delete(self, res: Resource) -> None:
        """Remove the resource if `res.version` is still current, else VersionConflict."""

    def add_event(self, event: Event) -> Event: ...

    def events(
        self,
        region: str,
        *,
        since: float = 0.0,
        until: float | None = None,
        source_type: str | None = None,
        source_id: str | None = None,
    ) -> builtins.list[Event]: ...

    def get_value(self, key: str) -> Any | None:
        """Small installation-wide values (account id, default resources seeded, …)."""

    def set_value(self, key: str, value: Any) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes atomically; nested calls join the outer transaction."""

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener` after each committed change of a resource (in the writer's thread)."""

    def close(self) -> None: ...

