"""ElastiCache's presentation of Redis parameters, from the real server's `CONFIG GET *`.

A throwaway redis-server (no TCP port: a unix socket in a temp directory) answers CONFIG GET once per
engine; the values are its defaults. Modifiability follows ElastiCache's default.redis7 group: the
names below are what customers may change; placement, files, secrets, TLS and persistence belong to
the service. Kura-managed directives (paths, secrets) are left out altogether.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TypedDict

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kura.engines import osuser
from kura.engines.redis.errors import StartError
from kura.engines.redis.render import OWNED
from kura.engines.redis.types import RedisEngine


class CacheParameter(TypedDict):
    name: str
    value: str
    data_type: str  # "string" | "integer" | "boolean"
    allowed_values: str
    is_modifiable: bool
    change_type: str  # "immediate" | "requires-reboot"
    description: str
    minimum_engine_version: str


_MODIFIABLE = frozenset({
    "activedefrag", "active-defrag-cycle-max", "active-defrag-cycle-min", "active-defrag-ignore-bytes",
    "active-defrag-max-scan-fields", "active-defrag-threshold-lower", "active-defrag-threshold-upper",
    "activerehashing", "appendfsync", "busy-reply-threshold", "lua-time-limit", "close-on-replica-write",
    "databases", "hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries",
    "hash-max-ziplist-value", "hll-sparse-max-bytes", "lazyfree-lazy-eviction", "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del", "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush", "lfu-decay-time",
    "lfu-log-factor", "list-compress-depth", "list-max-listpack-size", "list-max-ziplist-size",
    "maxmemory-policy", "maxmemory-samples", "min-replicas-max-lag", "min-replicas-to-write",
    "notify-keyspace-events", "proto-max-bulk-len", "repl-backlog-size", "repl-backlog-ttl",
    "replica-lazy-flush", "set-max-intset-entries", "slowlog-log-slower-than", "slowlog-max-len",
    "stream-node-max-bytes", "stream-node-max-entries", "tcp-keepalive", "timeout",
    "zset-max-listpack-entries", "zset-max-listpack-value", "zset-max-ziplist-entries",
    "zset-max-ziplist-value", "latency-tracking", "acllog-max-len", "client-query-buffer-limit",
    "lua-replicate-commands",
})
_REBOOT = frozenset({"databases"})  # modifiable, but Redis reads it only at start
_HIDDEN = OWNED | {"aclfile", "unixsocketperm", "masteruser", "dbfilename", "appenddirname",
                   "appendfilename", "syslog-ident", "syslog-facility", "syslog-enabled"}
_ALLOWED = {
    "maxmemory-policy": "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,"
                        "allkeys-random,volatile-ttl,noeviction",
    "appendfsync": "always,everysec,no",
}
_DESCRIPTIONS = {
    "maxmemory-policy": "Eviction policy when maxmemory is reached.",
    "maxmemory-samples": "Keys sampled per eviction in the approximated LRU/LFU/TTL algorithms.",
    "maxmemory": "Memory limit for the data set, set by Kura from the cache node type.",
    "timeout": "Close a client connection idle for this many seconds (0 disables).",
    "tcp-keepalive": "Seconds between TCP keepalive probes to clients.",
    "notify-keyspace-events": "Which keyspace events are published to Pub/Sub clients.",
    "databases": "Number of logical databases.",
    "appendonly": "Append-only file persistence, managed by the service.",
    "save": "RDB snapshot points, managed by the service (snapshots are taken explicitly).",
    "slowlog-log-slower-than": "Commands slower than this many microseconds go to the slow log.",
    "slowlog-max-len": "Length of the slow log.",
    "activedefrag": "Active defragmentation of memory.",
    "repl-backlog-size": "Size of the replication backlog buffer.",
}


def _data_type(value: str) -> str:
    if value in ("yes", "no"):
        return "boolean"
    if value.lstrip("-").isdigit():
        return "integer"
    return "string"


def to_parameters(raw: dict[str, str], major: int) -> list[CacheParameter]:
    """ElastiCache parameter dicts from CONFIG GET * (pure), sorted by name."""
    out: list[CacheParameter] = []
    for name in sorted(raw):
        if name in _HIDDEN:
            continue
        value = raw[name]
        dtype = _data_type(value)
        allowed = _ALLOWED.get(name, {"boolean": "yes,no", "integer": "0-"}.get(dtype, ""))
        out.append(CacheParameter(
            name=name, value=value, data_type=dtype, allowed_values=allowed,
            is_modifiable=name in _MODIFIABLE,
            change_type="requires-reboot" if name in _REBOOT or name not in _MODIFIABLE else "immediate",
            description=_DESCRIPTIONS.get(name, f"Redis configuration directive {name}."),
            minimum_engine_version=f"{major}.0.0"))
    return out


def describe_config(engine: RedisEngine) -> list[CacheParameter]:
    """The engine's parameters with their defaults (cached per engine binary and version)."""
    return list(_describe(engine.server, engine.version, engine.major))


@functools.lru_cache(maxsize=8)
def _describe(server: Path, version: str, major: int) -> tuple[CacheParameter, ...]:
    return tuple(to_parameters(config_get_all(server), major))


def config_get_all(server: Path, timeout: float = 10.0) -> dict[str, str]:
    """CONFIG GET * from a throwaway redis-server of `server` (run as the engine user when root)."""
    run_as = osuser.engine_user()
    tmp = Path(tempfile.mkdtemp(prefix="kura-redis-probe-"))
    try:
        osuser.private_dir(tmp, run_as)
        sock = tmp / "redis.sock"
        cmd = [str(server), "--port", "0", "--unixsocket", str(sock), "--dir", str(tmp), "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
        kwargs = run_as.popen_kwargs() if run_as else {}
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=osuser.BASE_ENV, cwd=tmp, **kwargs)
        try:
            return _query(child, sock, timeout)
        finally:
            child.terminate()
            child.wait(timeout)  # we started it: reap it
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _query(child: subprocess.Popen[bytes], sock: Path, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    conn = redis.Redis(unix_socket_path=str(sock), decode_responses=True, socket_timeout=timeout,
                       retry=Retry(NoBackoff(), 0))
    try:
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise StartError(f"the probe redis-server exited with status {child.returncode}")
            try:
                raw = conn.config_get("*")
                return {str(k): str(v) for k, v in raw.items()}
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.005)
        raise StartError("the probe redis-server did not answer in time")
    finally:
        conn.close()
