"""ElastiCache cache clusters on real Redis through a real `kura up` and boto3: create → available →
redis-py at the node endpoint, AUTH + TLS with `kura ca-bundle`, parameter changes live, reboot,
adoption across a Kura restart, a dead server restarted, delete.

The helpers here (catalogue, waiting, stopping leftover redis-servers) are shared by the other
test_elasticache_lifecycle_* modules and tests/e2e/test_seed000_elasticache.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from kura.control.elasticache import catalog_publisher, nodes
from kura.services.elasticache.records import CATALOG_KEY
from kura.store.sqlite import SqliteStore
from tests.kura_fixture import KuraServer, free_port

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no redis-server installed")
TOKEN = "an-auth-token-of-16+chars"


def wait_for(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = cond()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def ensure_catalogue(server: KuraServer) -> None:
    """`catalog:redis` as the control plane publishes it at start (written here while kura/server.py
    does not call kura.control.elasticache.catalog_publisher.start yet)."""
    store = SqliteStore(server.home / "state.db")
    try:
        if not store.get_value(CATALOG_KEY):
            catalog_publisher.publish(store)
    finally:
        store.close()


def redis_pids(home: Path) -> dict[str, int]:
    out = {}
    for pidfile in home.glob("data/elasticache/*/*/data/redis.pid"):
        with contextlib.suppress(ValueError, OSError):
            out[pidfile.parents[1].name] = int(pidfile.read_text().split()[0])
    return out


def stop_redis(home: Path) -> None:
    """Stop the redis-servers a test left running, each by its own pid."""
    for pid in redis_pids(home).values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda p=pid: not alive(p), 15, f"redis-server {pid} to stop")  # type: ignore[misc]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def make_server(home: Path) -> KuraServer:
    home.mkdir(parents=True, exist_ok=True)
    return KuraServer(home=home, port=free_port(), env_extra={"KURA_ELASTICACHE_POLL_SECONDS": "0.5"})


@contextlib.contextmanager
def running(home: Path) -> Iterator[KuraServer]:
    """A started Kura with the Redis catalogue published; stopped afterwards, with its redis-servers."""
    server = make_server(home)
    server.start()
    try:
        ensure_catalogue(server)
        yield server
    finally:
        server.stop()
        stop_redis(server.home)


@pytest.fixture(scope="module")
def ec_kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("elasticache") / "home") as server:
        yield server


def describe(server: KuraServer, ident: str) -> dict[str, Any]:
    ec = server.client("elasticache")
    return dict(ec.describe_cache_clusters(CacheClusterId=ident, ShowCacheNodeInfo=True)["CacheClusters"][0])


def wait_status(server: KuraServer, ident: str, status: str, timeout: float = 30) -> dict[str, Any]:
    return dict(wait_for(lambda: (lambda c: c if c["CacheClusterStatus"] == status else None)(
        describe(server, ident)), timeout, f"{ident} to be {status}"))


def endpoint(cluster: dict[str, Any]) -> tuple[str, int]:
    ep = cluster["CacheNodes"][0]["Endpoint"]
    return str(ep["Address"]), int(ep["Port"])


def delete(server: KuraServer, ident: str) -> None:
    ec = server.client("elasticache")
    ec.delete_cache_cluster(CacheClusterId=ident)
    wait_for(lambda: not [c for c in ec.describe_cache_clusters()["CacheClusters"]
                          if c["CacheClusterId"] == ident], 30, f"{ident} to be deleted")


def test_create_is_available_quickly_and_serves(ec_kura: KuraServer) -> None:
    ec = ec_kura.client("elasticache")
    started = time.monotonic()
    ec.create_cache_cluster(CacheClusterId="plain", Engine="redis", EngineVersion="7.2",
                            CacheNodeType="cache.t3.micro", NumCacheNodes=1)
    cluster = wait_status(ec_kura, "plain", "available", 20)
    assert time.monotonic() - started < 10
    host, port = endpoint(cluster)
    assert port == 6379 and host.startswith("127.")
    conn = redis.Redis(host=host, port=port)
    assert conn.ping() and conn.set("k", "v") and conn.get("k") == b"v"
    assert int(str(conn.config_get("maxmemory")["maxmemory"])) > 0  # from the node type
    assert conn.info("server")["redis_version"] == nodes.engines()[0].version
    delete(ec_kura, "plain")
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host=host, port=port, socket_connect_timeout=1).ping()


def test_auth_and_tls_with_the_kura_ca(ec_kura: KuraServer, tmp_path: Path) -> None:
    ec = ec_kura.client("elasticache")
    ec.create_cache_cluster(CacheClusterId="secure", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1, TransitEncryptionEnabled=True, AuthToken=TOKEN)
    host, port = endpoint(wait_status(ec_kura, "secure", "available"))
    bundle = tmp_path / "kura-ca.pem"
    bundle.write_text(subprocess.run([sys.executable, "-m", "kura", "ca-bundle", "--home", str(ec_kura.home)],
                                     capture_output=True, text=True, check=True).stdout)
    conn = redis.Redis(host=host, port=port, password=TOKEN, ssl=True, ssl_ca_certs=str(bundle),
                       ssl_check_hostname=True)
    assert conn.set("secret", "1") and conn.get("secret") == b"1"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=host, port=port, password="wrong-token-0123456", ssl=True,
                    ssl_ca_certs=str(bundle)).ping()
    with pytest.raises(redis.ConnectionError):  # TLS only, as ElastiCache with transit encryption
        redis.Redis(host=host, port=port, password=TOKEN, socket_timeout=2).ping()
    delete(ec_kura, "secure")


def test_parameters_live_reboot_and_restart_of_a_dead_server(ec_kura: KuraServer) -> None:
    ec = ec_kura.client("elasticache")
    ec.create_cache_parameter_group(CacheParameterGroupName="live", CacheParameterGroupFamily="redis7",
                                    Description="live changes")
    ec.create_cache_cluster(CacheClusterId="params", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1, CacheParameterGroupName="live")
    host, port = endpoint(wait_status(ec_kura, "params", "available"))
    conn = redis.Redis(host=host, port=port)
    ec.modify_cache_parameter_group(CacheParameterGroupName="live", ParameterNameValues=[
        {"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"}])
    wait_for(lambda: conn.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru", 15,
             "maxmemory-policy applied live")
    wait_status(ec_kura, "params", "available")  # the change recorded: a reboot is accepted again
    pid = redis_pids(ec_kura.home)["params"]
    ec.reboot_cache_cluster(CacheClusterId="params", CacheNodeIdsToReboot=["0001"])
    wait_for(lambda: redis_pids(ec_kura.home).get("params") not in (None, pid), 20, "a new redis-server")
    wait_status(ec_kura, "params", "available")
    assert conn.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    os.kill(redis_pids(ec_kura.home)["params"], signal.SIGKILL)
    wait_for(lambda: _pings(host, port), 15, "the dead server to be restarted")
    delete(ec_kura, "params")
    ec.delete_cache_parameter_group(CacheParameterGroupName="live")


def _pings(host: str, port: int) -> bool:
    try:
        return bool(redis.Redis(host=host, port=port, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def test_kura_restart_adopts_running_servers(tmp_path: Path) -> None:
    server = make_server(tmp_path / "home")
    server.start()
    try:
        ensure_catalogue(server)
        server.client("elasticache").create_cache_cluster(
            CacheClusterId="kept", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
        host, port = endpoint(wait_status(server, "kept", "available"))
        redis.Redis(host=host, port=port).set("survives", "yes")
        pid = redis_pids(server.home)["kept"]
        server.kill9()
        assert alive(pid)  # the data plane outlives Kura
        server.start()
        time.sleep(2)  # a few polls of the restarted control plane
        assert redis_pids(server.home)["kept"] == pid
        assert describe(server, "kept")["CacheClusterStatus"] == "available"
        assert redis.Redis(host=host, port=port).get("survives") == b"yes"
    finally:
        server.stop()
        stop_redis(server.home)
