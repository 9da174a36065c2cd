"""The Redis adapter's contract, used by the control plane's ElastiCache reconcilers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RedisEngine:
    version: str  # "7.0.15"
    major: int
    server: Path  # redis-server
    cli: Path | None  # redis-cli beside it, when installed


@dataclass(frozen=True, slots=True)
class RedisConfig:
    """Everything rendered into the node's redis.conf (a full rewrite on every configure())."""

    bind: str
    port: int
    settings: dict[str, str]  # redis.conf directive → value (maxmemory, maxmemory-policy, appendonly…)
    requirepass: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    replicaof: tuple[str, int] | None = None
    masterauth: str | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None


class RedisState(enum.Enum):
    STOPPED = "stopped"
    RUNNING = "running"  # answers PING
    UNRESPONSIVE = "unresponsive"  # process alive (not a zombie) but not answering


@dataclass(frozen=True, slots=True)
class RedisStatus:
    state: RedisState
    pid: int | None
    role: str | None = None  # "master" | "slave", from INFO replication
    master_link_up: bool | None = None  # replicas only
    offset: int | None = None  # master_repl_offset (primary) or slave_repl_offset (replica)
    # Replicas: 0 while the link is up, else seconds since it went down (None while a sync is running
    # or the link never came up) — tells a replica that was in sync until its primary died.
    link_down_seconds: int | None = None
