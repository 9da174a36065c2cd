"""redis.conf from a RedisConfig (pure): Kura's fixed directives, then the user's settings.

Kura owns the directives that place and protect the server (network, files, TLS, AUTH, replication);
a user setting never overrides them. RDB snapshots are off by default (`save ""`): ElastiCache takes
snapshots explicitly, and an automatic BGSAVE would fork under every write burst.
"""

from __future__ import annotations

from pathlib import Path

from kura.engines.redis.types import RedisConfig

CONF = "redis.conf"
PIDFILE = "redis.pid"
LOGFILE = "redis.log"
DUMP = "dump.rdb"
TLS_NAMES = ("tls_server.crt", "tls_server.key", "tls_ca.crt")

# Directives that render_conf() writes itself; users cannot set them through `settings`.
OWNED = frozenset({
    "bind", "port", "tls-port", "dir", "dbfilename", "pidfile", "logfile", "daemonize", "protected-mode",
    "requirepass", "masterauth", "replicaof", "slaveof", "tls-cert-file", "tls-key-file",
    "tls-ca-cert-file", "tls-replication", "tls-auth-clients", "unixsocket", "supervised", "include",
    "always-show-logo", "set-proc-title",
})
# Replicas sync without waiting 5 s for company (Redis's diskless default): a replacement replica after
# a failover should be in sync as soon as possible.
DEFAULTS = {"save": '""', "appendonly": "no", "repl-diskless-sync-delay": "0"}


def quote(value: str) -> str:
    """A redis.conf argument: double-quoted with escapes (sdssplitargs), so spaces and quotes survive."""
    if value == "":
        return '""'
    if all(c.isalnum() or c in "-_.:/,@+*" for c in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _setting(name: str, value: str) -> str:
    # `save` takes several arguments ("3600 1 300 100"); an empty one disables RDB snapshots.
    if name == "save":
        return "save " + (value if value.strip() not in ("", '""') else '""')
    return f"{name} {quote(value)}"


def render_conf(config: RedisConfig, datadir: Path) -> str:
    lines = [
        "# Written by Kura on every configure(); edits here are lost.",
        "daemonize no",  # Kura detaches it itself (its own session), so it outlives Kura
        "supervised no",
        "protected-mode no",  # bound to its own loopback address; AUTH is requirepass
        f"bind {config.bind}",
        f"dir {quote(str(datadir))}",
        f"dbfilename {DUMP}",
        f"pidfile {quote(str(datadir / PIDFILE))}",
        f"logfile {quote(str(datadir / LOGFILE))}",
        "always-show-logo no",
    ]
    if config.tls:
        # Like ElastiCache with TransitEncryptionEnabled: TLS only, clients need no certificate.
        lines += ["port 0", f"tls-port {config.port}",
                  f"tls-cert-file {quote(str(datadir / TLS_NAMES[0]))}",
                  f"tls-key-file {quote(str(datadir / TLS_NAMES[1]))}",
                  "tls-auth-clients no"]
        if config.tls_ca is not None:  # Redis needs a CA to verify the primary in TLS replication
            lines += [f"tls-ca-cert-file {quote(str(datadir / TLS_NAMES[2]))}", "tls-replication yes"]
    else:
        lines.append(f"port {config.port}")
    if config.requirepass:
        lines.append(f"requirepass {quote(config.requirepass)}")
    if config.masterauth:
        lines.append(f"masterauth {quote(config.masterauth)}")
    if config.replicaof is not None:
        lines.append(f"replicaof {config.replicaof[0]} {config.replicaof[1]}")
    for name, value in {**DEFAULTS, **config.settings}.items():
        if name.lower() not in OWNED:
            lines.append(_setting(name.lower(), value))
    return "\n".join(lines) + "\n"
