"""Where a cache cluster lives on disk, which redis-server runs it, and the RedisNode that drives it.

    $KURA_HOME/data/elasticache/<region>/<id>/data   the node's directory (redis.conf, dump.rdb, log)
                                             tls    the endpoint certificate and key
    $KURA_HOME/data/elasticache-snapshots/<region>/<name>.rdb   snapshots (sealed when at-rest encrypted)

Everything that touches the Redis adapter's module layout is imported here, so that adapting to it is
one file.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from kura.engines import osuser
from kura.engines.osuser import OsUser
from kura.engines.redis import catalog
from kura.engines.redis.node import RedisNode
from kura.engines.redis.types import RedisEngine, RedisState, RedisStatus
from kura.env import Env
from kura.store.types import Resource

__all__ = ["ClusterNode", "Layout", "RedisNode", "RedisStatus", "alive", "engine_for", "engines", "layout",
           "node_for", "run_as", "snapshot_path"]

_lock = threading.Lock()
_engines: list[RedisEngine] | None = None
_user: tuple[OsUser | None] | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    base: Path
    data: Path
    tls: Path


def layout(env: Env, region: str, ident: str) -> Layout:
    base = env.settings.paths.data / "elasticache" / region / ident
    return Layout(base, base / "data", base / "tls")


def snapshot_path(env: Env, region: str, name: str) -> Path:
    return env.settings.paths.data / "elasticache-snapshots" / region / f"{name}.rdb"


def engines(refresh: bool = False) -> list[RedisEngine]:
    """The installed redis-servers, newest first (discovered once per process, or again on refresh)."""
    global _engines
    with _lock:
        if _engines is None or refresh:
            _engines = catalog.discover()
        return list(_engines)


def engine_for(version: str) -> RedisEngine | None:
    """The engine of exactly `version`, else the newest of its major."""
    for fresh in (False, True):
        found = engines(refresh=fresh)
        exact = [e for e in found if e.version == version]
        same = [e for e in found if str(e.major) == version.split(".")[0]]
        if exact or same:
            return (exact or same)[0]
    return None


class ClusterNode(RedisNode):
    """A RedisNode whose `bind` may also carry its replication group's endpoint addresses after its own:
    Kura talks to the node at its own (first) address."""

    def client(self, timeout: float = 2.0) -> redis.Redis:
        conn = super().client(timeout)
        kwargs = conn.connection_pool.connection_kwargs
        host = kwargs.get("host")
        if isinstance(host, str) and " " in host.strip():
            kwargs["host"] = host.split()[0]
        return conn

    def command(self, *args: str) -> Any:
        with self.client() as conn:
            return conn.execute_command(*args)

    def set_bind(self, binds: list[str]) -> None:
        """Listen on exactly `binds` now (CONFIG SET bind, live in Redis 7) and from the next start."""
        wanted = " ".join(binds)
        if self.config().bind == wanted:
            return
        self.command("CONFIG", "SET", "bind", wanted)
        self.configure(dataclasses.replace(self.config(), bind=wanted))


def run_as() -> OsUser | None:
    global _user
    with _lock:
        if _user is None:
            _user = (osuser.engine_user(),)
        return _user[0]


def node_for(env: Env, res: Resource) -> ClusterNode | None:
    """The node of a cluster whose engine is known (None before the create chose one)."""
    version = res.status.get("engine_version")
    engine = engine_for(str(version)) if version else None
    if engine is None:
        return None
    return ClusterNode(engine, layout(env, res.region, res.id).data, run_as=run_as())


def alive(status: RedisStatus) -> bool:
    return status.state is RedisState.RUNNING
