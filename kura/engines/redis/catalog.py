"""Which Redis engines this machine has, and ElastiCache-style version matching over them.

ElastiCache engine versions name a major and minor ("7.2", "7.1", "6.2"); a request for a version of
an installed major runs the newest installed one of that major and says so (Debian ships 7.0 when
seed 000 asks for 7.2). Another major fails clearly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from kura.engines.redis.errors import EngineNotInstalled
from kura.engines.redis.nodetypes import maxmemory_for
from kura.engines.redis.parameters import describe_config
from kura.engines.redis.types import RedisEngine

__all__ = ["EngineNotInstalled", "describe_config", "discover", "maxmemory_for", "probe", "resolve",
           "version_key"]

_VERSION_OUT = re.compile(r"\bv=(\d+)\.(\d+)\.(\d+)")
_REQUESTED = re.compile(r"^(\d+)(?:\.(\d+|x))?(?:\.(\d+))?$")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def probe(server: Path) -> RedisEngine | None:
    """The engine of `server` per `redis-server --version`, or None when it does not work."""
    try:
        out = subprocess.run([str(server), "--version"], capture_output=True, text=True, timeout=10,
                             check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}).stdout
    except OSError:
        return None
    m = _VERSION_OUT.search(out)
    if m is None:
        return None
    cli = server.with_name("redis-cli")
    return RedisEngine(version=".".join(m.groups()), major=int(m.group(1)), server=server,
                       cli=cli if os.access(cli, os.X_OK) else None)


def discover(extra: Iterable[Path] = ()) -> list[RedisEngine]:
    """redis-server on PATH and in /usr/bin (and `extra`), each binary once, newest first."""
    candidates = [Path(p) for p in (shutil.which("redis-server"),) if p]
    candidates += [Path("/usr/bin/redis-server"), Path("/usr/local/bin/redis-server"), *extra]
    seen: set[Path] = set()
    found = []
    for path in candidates:
        if not path.is_file():
            continue
        real = path.resolve()
        if real in seen:
            continue
        seen.add(real)
        engine = probe(path)
        if engine is not None:
            found.append(engine)
    return sorted(found, key=lambda e: version_key(e.version), reverse=True)


def resolve(engines: list[RedisEngine], requested: str | None) -> tuple[RedisEngine, str | None]:
    """The engine to run for an ElastiCache EngineVersion, and a note when it is not the one asked."""
    if not engines:
        raise EngineNotInstalled("No Redis engine is installed on this host (install redis-server).")
    newest = sorted(engines, key=lambda e: version_key(e.version), reverse=True)
    if not requested:
        return newest[0], None
    m = _REQUESTED.match(requested.strip())
    if m is None:
        raise EngineNotInstalled(f"Invalid Redis engine version {requested!r}.")
    same = [e for e in newest if e.major == int(m.group(1))]
    if not same:
        have = ", ".join(sorted({e.version for e in newest}, key=version_key))
        raise EngineNotInstalled(f"Redis {requested} is not installed on this host (installed: {have}).")
    chosen = same[0]
    asked = [int(g) for g in m.groups() if g is not None and g != "x"]
    if version_key(chosen.version)[: len(asked)] == tuple(asked):
        return chosen, None
    return chosen, f"Requested Redis {requested}; running {chosen.version}"
