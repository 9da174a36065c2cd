"""Redis catalog, node types, parameter mapping and redis.conf rendering (pure parts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kura.engines.redis.catalog import EngineNotInstalled, resolve
from kura.engines.redis.nodetypes import maxmemory_for, node_memory
from kura.engines.redis.parameters import to_parameters
from kura.engines.redis.render import quote, render_conf
from kura.engines.redis.types import RedisConfig, RedisEngine

GIB = 1024**3
E7 = RedisEngine("7.0.15", 7, Path("/usr/bin/redis-server"), None)
E6 = RedisEngine("6.2.14", 6, Path("/opt/r6/redis-server"), None)


def test_resolve_same_major_runs_installed_with_a_note() -> None:
    assert resolve([E6, E7], "7.2") == (E7, "Requested Redis 7.2; running 7.0.15")
    assert resolve([E6, E7], "7.0") == (E7, None)
    assert resolve([E6, E7], "7.0.15") == (E7, None)
    assert resolve([E6, E7], None) == (E7, None)
    assert resolve([E6, E7], "6.x") == (E6, None)


def test_resolve_other_major_fails_clearly() -> None:
    with pytest.raises(EngineNotInstalled, match=r"Redis 5.0.6 is not installed.*7\.0\.15"):
        resolve([E6, E7], "5.0.6")
    with pytest.raises(EngineNotInstalled, match="No Redis engine"):
        resolve([], "7.2")


def test_node_types() -> None:
    assert node_memory("cache.t3.micro") == GIB // 2
    assert abs(node_memory("cache.r6g.xlarge") - 2 * node_memory("cache.r6g.large")) <= 1
    assert node_memory("cache.m6g.large") < node_memory("cache.r6g.large")
    assert maxmemory_for("cache.r6g.24xlarge", host_bytes=64 * GIB) == 4 * GIB
    assert maxmemory_for("cache.t3.micro", host_bytes=64 * GIB) == GIB // 2
    with pytest.raises(ValueError, match="unknown cache node type"):
        node_memory("cache.x9.huge")


def test_to_parameters_modifiability_and_types() -> None:
    params = {p["name"]: p for p in to_parameters(
        {"maxmemory-policy": "noeviction", "timeout": "0", "port": "6379", "requirepass": "s3cret",
         "appendonly": "no", "databases": "16", "dir": "/x", "save": ""}, 7)}
    assert "requirepass" not in params and "dir" not in params and "port" not in params
    policy = params["maxmemory-policy"]
    assert policy["is_modifiable"] and policy["change_type"] == "immediate"
    assert "allkeys-lru" in params["maxmemory-policy"]["allowed_values"]
    assert params["timeout"]["data_type"] == "integer"
    assert params["appendonly"] == {**params["appendonly"], "data_type": "boolean", "is_modifiable": False}
    assert params["databases"]["change_type"] == "requires-reboot"


def test_render_tls_auth_replica(tmp_path: Path) -> None:
    cfg = RedisConfig("127.0.0.5", 6379, {"maxmemory-policy": "allkeys-lru", "port": "1"},
                      requirepass='pa ss"word', tls_cert=Path("/c"), tls_key=Path("/k"), tls_ca=Path("/a"),
                      replicaof=("127.0.0.6", 6379), masterauth="m")
    text = render_conf(cfg, tmp_path)
    lines = text.splitlines()
    assert "port 0" in lines and "tls-port 6379" in lines and "tls-replication yes" in lines
    assert "port 1" not in lines  # Kura's directives win over user settings
    assert 'requirepass "pa ss\\"word"' in lines
    assert "replicaof 127.0.0.6 6379" in lines and 'save ""' in lines and "protected-mode no" in lines
    assert "maxmemory-policy allkeys-lru" in lines
    assert quote("") == '""'
