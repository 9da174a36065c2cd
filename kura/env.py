"""What a running Kura gives its handlers and reconcilers alike."""

from __future__ import annotations

from dataclasses import dataclass

from kura.clock import Clock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.store.types import Store


@dataclass(frozen=True, slots=True)
class Env:
    store: Store
    clock: Clock
    settings: Settings
    account: str
    master_key: MasterKey
