"""The state store: resources with optimistic versioning, events, operation checkpoints."""

from kura.store.types import AlreadyExists, Event, Resource, Store, StoreError, VersionConflict

__all__ = ["AlreadyExists", "Event", "Resource", "Store", "StoreError", "VersionConflict"]
