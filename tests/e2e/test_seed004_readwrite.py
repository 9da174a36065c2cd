"""Seed 004's read/write split, unchanged: a master DB instance and a read replica made with boto3, a real
PgBouncer with the seed's pool settings in front of both (`langpont_master` and `langpont_replica`), and
the seed's SQLAlchemy `DatabaseConfig` writing through the master URL and reading through the replica URL.

Only the hosts, ports, the listen address and the auth file are ours; `server_tls_sslmode = require` is
added because RDS for PostgreSQL 15+ (and Kura) default `rds.force_ssl` to 1, which the seed's ini would
need on RDS too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kura.control.rds import nodes
from kura.engines import osuser
from tests.integration.test_rds_lifecycle import connect, create, describe, running, wait_for, wait_status
from tests.kura_fixture import KuraServer, free_port, wait_port

sqlalchemy = pytest.importorskip("sqlalchemy")
from sqlalchemy import Column, DateTime, Integer, Text, create_engine, func, text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402
from sqlalchemy.orm import declarative_base, sessionmaker  # noqa: E402

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
pytestmark = [pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed"),
              pytest.mark.skipif(not os.path.exists(PGBOUNCER), reason="pgbouncer is not installed")]
APP_PASSWORD, READONLY_PASSWORD = "App-pass-1", "Readonly-pass-1"

Base = declarative_base()


class TranslationHistory(Base):  # type: ignore[misc,valid-type]
    __tablename__ = "translation_history"
    id = Column(Integer, primary_key=True)
    source_text = Column(Text, nullable=False)
    translated_text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), server_default=func.now())


# -- seed 004, "アプリケーション側Read/Write分離" (verbatim) ---------------------------------------------
class DatabaseConfig:
    def __init__(self):  # type: ignore[no-untyped-def]
        # マスター（書き込み用）
        self.master_url = os.getenv('DATABASE_MASTER_URL')
        self.master_engine = create_engine(
            self.master_url,
            pool_size=20,
            max_overflow=30,
            pool_recycle=3600,
            echo=False
        )

        # スレーブ（読み取り用）
        self.slave_url = os.getenv('DATABASE_SLAVE_URL')
        self.slave_engine = create_engine(
            self.slave_url,
            pool_size=20,
            max_overflow=30,
            pool_recycle=3600,
            echo=False
        )

    def get_read_session(self):  # type: ignore[no-untyped-def]
        """読み取り専用セッション"""
        Session = sessionmaker(bind=self.slave_engine)
        return Session()

    def get_write_session(self):  # type: ignore[no-untyped-def]
        """書き込み用セッション"""
        Session = sessionmaker(bind=self.master_engine)
        return Session()
# -----------------------------------------------------------------------------------------------------


def pgbouncer_ini(master: dict[str, Any], replica: dict[str, Any], port: int, where: Path) -> str:
    m, r = master["Endpoint"], replica["Endpoint"]
    return f"""\
[databases]
langpont_master = host={m['Address']} port={m['Port']} dbname=langpont user=langpont_app
langpont_replica = host={r['Address']} port={r['Port']} dbname=langpont user=langpont_readonly

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir = {where}
auth_type = scram-sha-256
auth_file = {where / 'userlist.txt'}
pidfile = {where / 'pgbouncer.pid'}
logfile = {where / 'pgbouncer.log'}
server_tls_sslmode = require

# 接続プール設定
pool_mode = transaction
max_client_conn = 300
default_pool_size = 25
min_pool_size = 5
reserve_pool_size = 5

# タイムアウト設定
server_reset_query = DISCARD ALL
server_check_delay = 30
query_timeout = 3600
query_wait_timeout = 120
"""


@pytest.fixture
def kura(tmp_path: Path) -> Iterator[KuraServer]:
    with running(tmp_path / "home") as server:
        yield server


def start_pgbouncer(where: Path, ini: str) -> subprocess.Popen[bytes]:
    """pgbouncer refuses to run as root: as root it runs as Kura's engine user, which gets search (never
    read) permission on the directories above `where` and owns `where`."""
    user = osuser.engine_user()
    where.mkdir(mode=0o700)
    (where / "pgbouncer.ini").write_text(ini)
    (where / "userlist.txt").write_text(f'"langpont_app" "{APP_PASSWORD}"\n'
                                        f'"langpont_readonly" "{READONLY_PASSWORD}"\n')
    kwargs: dict[str, Any] = {}
    if user is not None:
        osuser.grant_traverse(where, user)
        for path in (where, *where.iterdir()):
            os.chown(path, user.uid, user.gid)
        kwargs = user.popen_kwargs()
    return subprocess.Popen([PGBOUNCER, str(where / "pgbouncer.ini")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **kwargs)


def test_read_write_split_through_pgbouncer(kura: KuraServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rds = kura.client("rds")
    create(rds, "langpont-prod-db", DBName="langpont", BackupRetentionPeriod=1)
    master = wait_status(rds, "langpont-prod-db", "available", 60)
    with connect(master, dbname="langpont") as conn:
        conn.execute(f"CREATE ROLE langpont_app LOGIN PASSWORD '{APP_PASSWORD}'")
        conn.execute(f"CREATE ROLE langpont_readonly LOGIN PASSWORD '{READONLY_PASSWORD}'")
        conn.execute("GRANT CREATE, USAGE ON SCHEMA public TO langpont_app")
        conn.execute("GRANT USAGE ON SCHEMA public TO langpont_readonly")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="langpont-prod-replica-1",
                                        SourceDBInstanceIdentifier="langpont-prod-db",
                                        AvailabilityZone="ap-northeast-1c")
    replica = wait_status(rds, "langpont-prod-replica-1", "available", 90)
    port = free_port()
    bouncer = start_pgbouncer(tmp_path / "pgbouncer", pgbouncer_ini(master, replica, port,
                                                                     tmp_path / "pgbouncer"))
    try:
        wait_port("127.0.0.1", port, timeout=20)
        base = f"postgresql+psycopg://%s@127.0.0.1:{port}/%s"
        monkeypatch.setenv("DATABASE_MASTER_URL", base % (f"langpont_app:{APP_PASSWORD}", "langpont_master"))
        monkeypatch.setenv("DATABASE_SLAVE_URL",
                           base % (f"langpont_readonly:{READONLY_PASSWORD}", "langpont_replica"))
        db_config = DatabaseConfig()
        Base.metadata.create_all(db_config.master_engine)  # as langpont_app, through pgbouncer
        with db_config.master_engine.begin() as owner:
            owner.exec_driver_sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO langpont_readonly")

        # 書き込み（マスター使用）
        write_session = db_config.get_write_session()
        new_translation = TranslationHistory(source_text="こんにちは", translated_text="Hello")
        write_session.add(new_translation)
        write_session.commit()
        written = new_translation.id

        # 読み取り（レプリカ使用）
        def replicated() -> bool:
            read_session = db_config.get_read_session()
            try:
                return [t.translated_text for t in read_session.query(TranslationHistory).all()] == ["Hello"]
            except DBAPIError:  # the table itself may not have been replayed yet
                read_session.rollback()
                return False
            finally:
                read_session.close()

        wait_for(replicated, 30, "the row to reach the replica")
        read_session = db_config.get_read_session()
        assert read_session.execute(text("SELECT pg_is_in_recovery()")).scalar() is True  # the replica
        assert read_session.execute(text("SHOW transaction_read_only")).scalar() == "on"
        read_session.add(TranslationHistory(source_text="x", translated_text="y"))
        with pytest.raises(DBAPIError, match=r"read-only transaction|permission denied"):
            read_session.commit()
        read_session.close()
        write_session.close()
        with connect(describe(rds, "langpont-prod-db"), APP_PASSWORD, "langpont_app", "langpont") as conn:
            assert conn.execute("SELECT count(*) FROM translation_history WHERE id = %s",
                                (written,)).fetchone() == (1,)
        db_config.master_engine.dispose()
        db_config.slave_engine.dispose()
    finally:
        bouncer.send_signal(signal.SIGTERM)
        try:
            bouncer.wait(10)
        except subprocess.TimeoutExpired:
            bouncer.kill()
            bouncer.wait()
