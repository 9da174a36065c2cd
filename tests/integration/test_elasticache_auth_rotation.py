"""AuthToken changes, PrimaryClusterId and EngineVersion changes carried out on real Redis, through boto3
against a real `kura up`: ROTATE (old and new token accepted), SET (only the new one), DELETE, a group's
primary moved to the member asked for, and a same-major EngineVersion recorded with an event.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from kura.control.elasticache import nodes
from tests.integration.test_elasticache_lifecycle import (
    delete,
    endpoint,
    ensure_catalogue,
    make_server,
    stop_redis,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no redis-server installed")
OLD = "the-first-auth-token-0001"
NEW = "the-second-auth-token-0002"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    kura = make_server(tmp_path_factory.mktemp("ec-auth") / "home")
    kura.start()
    try:
        ensure_catalogue(kura)
        yield kura
    finally:
        kura.stop()
        stop_redis(kura.home)


@pytest.fixture(scope="module")
def bundle(server: KuraServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "kura-ca.pem"
    path.write_text(subprocess.run([sys.executable, "-m", "kura", "ca-bundle", "--home", str(server.home)],
                                   capture_output=True, text=True, check=True).stdout)
    return str(path)


def accepts(host: str, port: int, token: str | None, ca: str) -> bool:
    """A new TLS connection with `token` (None: no AUTH) is let in."""
    conn = redis.Redis(host=host, port=port, password=token, ssl=True, ssl_ca_certs=ca,
                       socket_timeout=3, socket_connect_timeout=3)
    try:
        return bool(conn.ping())
    except (redis.AuthenticationError, redis.ResponseError):
        return False
    finally:
        conn.close()


def describe_group(server: KuraServer, name: str) -> dict[str, Any]:
    ec = server.client("elasticache")
    return dict(ec.describe_replication_groups(ReplicationGroupId=name)["ReplicationGroups"][0])


def roles(group: dict[str, Any]) -> dict[str, str]:
    found = group["NodeGroups"][0]["NodeGroupMembers"]
    return {str(m["CacheClusterId"]): str(m["CurrentRole"]) for m in found}


def test_rotate_then_set_then_delete_on_a_cache_cluster(server: KuraServer, bundle: str) -> None:
    ec = server.client("elasticache")
    ec.create_cache_cluster(CacheClusterId="rot", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1, TransitEncryptionEnabled=True, AuthToken=OLD)
    host, port = endpoint(wait_status(server, "rot", "available"))
    assert accepts(host, port, OLD, bundle) and not accepts(host, port, NEW, bundle)

    ec.modify_cache_cluster(CacheClusterId="rot", AuthToken=NEW, AuthTokenUpdateStrategy="ROTATE",
                            ApplyImmediately=True)
    wait_status(server, "rot", "available")
    assert accepts(host, port, OLD, bundle) and accepts(host, port, NEW, bundle)

    ec.reboot_cache_cluster(CacheClusterId="rot", CacheNodeIdsToReboot=["0001"])
    wait_for(lambda: describe_cluster_status(server, "rot") == "available", 30, "rot rebooted")
    assert accepts(host, port, OLD, bundle) and accepts(host, port, NEW, bundle)  # across a restart
    conn = redis.Redis(host=host, port=port, password=OLD, ssl=True, ssl_ca_certs=bundle)
    assert conn.set("kept", "1")  # a client of the old token keeps working (no persistence: after reboot)
    conn.close()

    ec.modify_cache_cluster(CacheClusterId="rot", AuthToken=NEW, AuthTokenUpdateStrategy="SET",
                            ApplyImmediately=True)
    wait_status(server, "rot", "available")
    assert accepts(host, port, NEW, bundle) and not accepts(host, port, OLD, bundle)
    conn = redis.Redis(host=host, port=port, password=NEW, ssl=True, ssl_ca_certs=bundle)
    assert conn.get("kept") == b"1"
    conn.close()
    conf = next(server.home.glob("data/elasticache/*/rot/data/redis.conf")).read_text()
    assert NEW in conf and OLD not in conf  # the token survives restarts

    ec.modify_cache_cluster(CacheClusterId="rot", AuthTokenUpdateStrategy="DELETE", ApplyImmediately=True)
    cluster = wait_status(server, "rot", "available")
    assert cluster["AuthTokenEnabled"] is False
    assert accepts(host, port, None, bundle)
    delete(server, "rot")


def describe_cluster_status(server: KuraServer, ident: str) -> str:
    ec = server.client("elasticache")
    return str(ec.describe_cache_clusters(CacheClusterId=ident)["CacheClusters"][0]["CacheClusterStatus"])


def test_engine_version_of_the_same_major_is_recorded(server: KuraServer) -> None:
    ec = server.client("elasticache")
    running = nodes.engines()[0]
    ec.create_cache_cluster(CacheClusterId="ver", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1)
    wait_status(server, "ver", "available")
    asked = f"{running.major}.0" if not running.version.startswith(f"{running.major}.0.") \
        else f"{running.major}.0.{int(running.version.split('.')[2]) + 1}"
    ec.modify_cache_cluster(CacheClusterId="ver", EngineVersion=asked, ApplyImmediately=True)
    cluster = wait_status(server, "ver", "available")
    assert cluster["EngineVersion"] == running.version
    events = ec.describe_events(SourceIdentifier="ver", SourceType="cache-cluster")["Events"]
    assert any(f"runs the installed Redis {running.version}" in e["Message"] for e in events)
    delete(server, "ver")


def test_group_rotation_and_primary_cluster_id(server: KuraServer, bundle: str) -> None:
    ec = server.client("elasticache")
    name = "moving"
    ec.create_replication_group(ReplicationGroupId=name, ReplicationGroupDescription="primary change",
                                Engine="redis", CacheNodeType="cache.t3.micro", NumCacheClusters=2,
                                AutomaticFailoverEnabled=True, TransitEncryptionEnabled=True, AuthToken=OLD)
    try:
        group = wait_for(lambda: (lambda g: g if g["Status"] == "available" else None)(
            describe_group(server, name)), 40, f"{name} available")
        assert roles(group) == {f"{name}-001": "primary", f"{name}-002": "replica"}
        ep = group["NodeGroups"][0]["PrimaryEndpoint"]
        host, port = str(ep["Address"]), int(ep["Port"])

        ec.modify_replication_group(ReplicationGroupId=name, AuthToken=NEW, AuthTokenUpdateStrategy="ROTATE",
                                    ApplyImmediately=True)
        wait_for(lambda: describe_group(server, name)["Status"] == "available", 30, f"{name} rotated")
        for member in (f"{name}-001", f"{name}-002"):
            mhost, mport = endpoint(wait_status(server, member, "available"))
            assert accepts(mhost, mport, OLD, bundle) and accepts(mhost, mport, NEW, bundle)

        primary = redis.Redis(host=host, port=port, password=NEW, ssl=True, ssl_ca_certs=bundle)
        primary.set("before", "1")
        assert primary.wait(1, 5000) == 1  # the replica (masterauth = the new token) keeps up
        primary.close()

        ec.modify_replication_group(ReplicationGroupId=name, PrimaryClusterId=f"{name}-002",
                                    ApplyImmediately=True)
        group = wait_for(lambda: (lambda g: g if g["Status"] == "available"
                                  and roles(g)[f"{name}-002"] == "primary" else None)(
            describe_group(server, name)), 30, f"{name}-002 primary")
        assert roles(group)[f"{name}-001"] == "replica"

        def now_primary() -> bool:
            conn = redis.Redis(host=host, port=port, password=NEW, ssl=True, ssl_ca_certs=bundle,
                               socket_timeout=2)
            try:
                return conn.info("replication")["role"] == "master" and conn.get("before") == b"1" \
                    and int(conn.info("replication")["connected_slaves"]) == 1
            except redis.RedisError:
                return False
            finally:
                conn.close()

        wait_for(now_primary, 15, "the primary endpoint on -002 with -001 replicating")
        host2, port2 = endpoint(wait_status(server, f"{name}-002", "available"))
        conn = redis.Redis(host=host2, port=port2, password=NEW, ssl=True, ssl_ca_certs=bundle)
        assert conn.info("replication")["role"] == "master"
        conn.close()
    finally:
        ec.delete_replication_group(ReplicationGroupId=name)
        wait_for(lambda: not [g for g in ec.describe_replication_groups()["ReplicationGroups"]
                              if g["ReplicationGroupId"] == name], 40, f"{name} deleted")
