"""The Redis adapter against the real redis-server (Debian's 7.0)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.backoff import NoBackoff
from redis.retry import Retry

from kura.engines import osuser
from kura.engines.redis import proc
from kura.engines.redis.catalog import describe_config, discover, resolve
from kura.engines.redis.errors import InvalidSettings
from kura.engines.redis.node import RedisNode
from kura.engines.redis.types import RedisConfig, RedisEngine, RedisState

NodeFactory = Callable[..., tuple[RedisNode, RedisConfig]]


NO_RETRY = Retry(NoBackoff(), 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def engine() -> RedisEngine:
    engines = discover()
    if not engines:
        pytest.skip("redis-server is not installed")
    return engines[0]


@pytest.fixture(scope="session")
def run_as() -> osuser.OsUser | None:
    return osuser.engine_user()


@pytest.fixture
def root() -> Iterator[Path]:
    # Our own temp root (not pytest's 0700 one) so the engine user can reach it.
    path = Path(tempfile.mkdtemp(prefix="kura-redistest-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_node(engine: RedisEngine, run_as: osuser.OsUser | None, root: Path) -> Iterator[NodeFactory]:
    made: list[RedisNode] = []

    def make(name: str, **kw: object) -> tuple[RedisNode, RedisConfig]:
        node = RedisNode(engine, root / name, run_as=run_as)
        cfg = RedisConfig("127.0.0.1", free_port(), {"maxmemory": "64mb"}, **kw)  # type: ignore[arg-type]
        made.append(node)
        return node, cfg

    yield make
    for node in made:
        node.remove()


def test_discover_and_resolve(engine: RedisEngine) -> None:
    assert engine.major == int(engine.version.split(".")[0]) and engine.server.is_file()
    chosen, note = resolve(discover(), f"{engine.major}.99")
    assert chosen == engine and note == f"Requested Redis {engine.major}.99; running {engine.version}"


def test_describe_config_shape(engine: RedisEngine) -> None:
    params = {p["name"]: p for p in describe_config(engine)}
    assert params["maxmemory-policy"]["value"] == "noeviction" and params["maxmemory-policy"]["is_modifiable"]
    assert params["timeout"]["data_type"] == "integer" and not params["appendonly"]["is_modifiable"]
    assert "requirepass" not in params and "dir" not in params
    assert set(params["timeout"]) == {"name", "value", "data_type", "allowed_values", "is_modifiable",
                                      "change_type", "description", "minimum_engine_version"}


def test_lifecycle_leaves_no_process(make_node: NodeFactory, run_as: osuser.OsUser | None) -> None:
    node, cfg = make_node("a")
    assert not node.exists() and node.status().state is RedisState.STOPPED
    assert node.configure(cfg) == []
    node.start()
    node.start()  # idempotent
    st = node.status()
    assert st.state is RedisState.RUNNING and st.role == "master" and st.pid is not None
    assert os.stat(f"/proc/{st.pid}").st_uid == (run_as.uid if run_as else os.getuid())
    assert (node.datadir.stat().st_mode & 0o777) == 0o700
    with node.client() as c:
        c.set("k", "v")
        assert c.get("k") == "v"
    node.stop()
    assert not proc.alive(st.pid) and node.status().state is RedisState.STOPPED


def test_auth_required(make_node: NodeFactory) -> None:
    node, cfg = make_node("auth", requirepass="correct horse battery")
    node.configure(cfg)
    node.start()
    with redis.Redis(host=cfg.bind, port=cfg.port, retry=NO_RETRY) as anon, \
            pytest.raises(redis.AuthenticationError):
        anon.ping()
    with redis.Redis(host=cfg.bind, port=cfg.port, password="wrong", retry=NO_RETRY) as bad, \
            pytest.raises(redis.AuthenticationError):
        bad.ping()
    assert node.client().ping()


def _self_signed(dest: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kura-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, pem = dest / "server.crt", dest / "server.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    return crt, pem


def test_tls_only(make_node: NodeFactory, tmp_path: Path) -> None:
    crt, key = _self_signed(tmp_path)
    node, cfg = make_node("tls", tls_cert=crt, tls_key=key, tls_ca=crt, requirepass="tok")
    node.configure(cfg)
    node.start()
    with redis.Redis(host="127.0.0.1", port=cfg.port, password="tok", ssl=True,
                     ssl_ca_certs=str(crt)) as c:
        assert c.ping() and c.set("t", "1")
    with redis.Redis(host="127.0.0.1", port=cfg.port, password="tok", socket_timeout=1,
                     retry=NO_RETRY) as plain, \
            pytest.raises(redis.ConnectionError):
        plain.ping()  # TLS only, like TransitEncryptionEnabled


def test_replication_wait_and_promote(make_node: NodeFactory) -> None:
    primary, pcfg = make_node("p", requirepass="pw")
    replica, rcfg = make_node("r", requirepass="pw", masterauth="pw", replicaof=None)
    primary.configure(pcfg)
    replica.configure(rcfg)
    primary.start()
    replica.start()
    replica.replicaof(pcfg.bind, pcfg.port)
    with primary.client() as p, replica.client() as r:
        p.set("x", "1")
        assert p.execute_command("WAIT", 1, 5000) == 1
        assert r.get("x") == "1"
        st = replica.status()
        assert st.role == "slave" and st.master_link_up and st.offset is not None
        replica.promote()
        assert replica.status().role == "master"
        r.set("y", "2")
    assert replica.config().replicaof is None


def test_snapshot_restore_keeps_every_key(make_node: NodeFactory, tmp_path: Path) -> None:
    src, scfg = make_node("s")
    src.configure(scfg)
    src.start()
    with src.client() as c:
        pipe = c.pipeline()
        for i in range(5000):
            pipe.set(f"key:{i}", f"value-{i}")
        pipe.hset("h", mapping={"a": "1", "b": "2"})
        pipe.execute()
    size = src.snapshot(tmp_path / "snap.rdb")
    assert size == (tmp_path / "snap.rdb").stat().st_size > 0
    dst, dcfg = make_node("d")
    dst.configure(dcfg)
    dst.restore(tmp_path / "snap.rdb")
    dst.start()
    with dst.client() as c:
        assert c.dbsize() == 5001 and c.get("key:4999") == "value-4999"
        assert c.hgetall("h") == {"a": "1", "b": "2"}


def test_config_set_live(make_node: NodeFactory) -> None:
    node, cfg = make_node("c")
    node.configure(cfg)
    node.start()
    assert node.config_set({"maxmemory-policy": "allkeys-lru", "databases": "4"}) == ["databases"]
    with node.client() as c:
        assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    with pytest.raises(InvalidSettings, match="maxmemory-policy"):
        node.config_set({"maxmemory-policy": "bogus"})
    assert node.config().settings["maxmemory-policy"] == "allkeys-lru"
    node.stop()
    node.start()  # the change survives a restart (it is in redis.conf)
    with node.client() as c:
        assert c.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
        assert c.config_get("databases")["databases"] == "4"


def test_adopted_after_restart_of_kura(make_node: NodeFactory, engine: RedisEngine,
                                       run_as: osuser.OsUser | None) -> None:
    node, cfg = make_node("adopt")
    node.configure(cfg)
    node.start()
    again = RedisNode(engine, node.datadir, run_as=run_as)  # a new Kura process: state from disk
    assert again.status().state is RedisState.RUNNING and again.client().ping()


def test_tls_replication(make_node: NodeFactory, tmp_path: Path) -> None:
    crt, key = _self_signed(tmp_path)
    tls = {"tls_cert": crt, "tls_key": key, "tls_ca": crt, "requirepass": "pw", "masterauth": "pw"}
    primary, pcfg = make_node("tp", **tls)
    replica, rcfg = make_node("tr", **tls)
    for node, cfg in ((primary, pcfg), (replica, rcfg)):
        node.configure(cfg)
        node.start()
    replica.replicaof(pcfg.bind, pcfg.port)
    with primary.client() as p, replica.client() as r:
        p.set("secure", "yes")
        assert p.execute_command("WAIT", 1, 5000) == 1 and r.get("secure") == "yes"


def test_killed_server_is_stopped_and_restarts(make_node: NodeFactory) -> None:
    node, cfg = make_node("kill")
    node.configure(cfg)
    node.start()
    pid = node.status().pid
    assert pid is not None
    os.kill(pid, 9)  # its parent is PID 1, which may never reap it: a zombie counts as dead
    assert wait_for(lambda: node.status().state is RedisState.STOPPED)
    node.start()
    assert node.status().state is RedisState.RUNNING and node.status().pid != pid


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_configure_running_node_applies_live(make_node: NodeFactory) -> None:
    node, cfg = make_node("live", requirepass="old")
    node.configure(cfg)
    node.start()
    new = RedisConfig(cfg.bind, cfg.port + 1 if cfg.port < 65535 else cfg.port - 1,
                      {"maxmemory": "32mb", "timeout": "30"}, requirepass="new")
    assert node.configure(new) == ["port"]  # the listener changes at the next restart
    with redis.Redis(host=cfg.bind, port=cfg.port, password="new", decode_responses=True) as c:
        assert c.config_get("timeout") == {"timeout": "30"}
        assert c.config_get("maxmemory") == {"maxmemory": str(32 * 1024 * 1024)}
    assert node.status().state is RedisState.RUNNING  # still reached on the old port until the restart
    node.stop()
    node.start()
    with node.client() as c:
        assert c.connection_pool.connection_kwargs["port"] == new.port and c.ping()
