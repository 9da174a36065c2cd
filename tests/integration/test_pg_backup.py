"""The backup adapter against real PostgreSQL: pg_receivewal through the slot, a base backup sealed
chunk by chunk, and a restore to a point in time checked row by row."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from kura import sealed
from kura.engines.postgres import backup
from kura.engines.postgres.node import PgNode
from tests.integration.test_pg_node import (  # noqa: F401  (fixtures)
    NodeFactory,
    config,
    engine,
    free_port,
    installed,
    make_node,
    run_as,
    scratch_root,
    started,
    templates,
)

KEY = (os.urandom(32), b"wrapped")


def _rows(node: PgNode) -> list[int]:
    return [r[0] for r in node.execute("SELECT id FROM t ORDER BY id")]


def test_stream_base_backup_and_restore_to_a_time(make_node: NodeFactory, tmp_path: Path) -> None:  # noqa: F811
    src, _ = started(make_node)
    src.execute("SELECT pg_create_physical_replication_slot(%s, true)", (backup.SLOT,))
    stream = backup.Streamer(src.engine, src.datadir.parent / "wal-stream")
    stream.start(src.datadir)
    try:
        src.execute("CREATE TABLE t (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
        src.execute("INSERT INTO t (id) SELECT generate_series(1, 100)")
        base = tmp_path / "base.tar"
        with sealed.Writer(base, KEY, b"ctx") as out:
            info = backup.base_backup(src.engine, src.datadir, out.write)
        assert info.timeline == 1 and backup.lsn_int(info.end_lsn) >= backup.lsn_int(info.start_lsn)
        assert b"pg_control" not in base.read_bytes()  # sealed: no tar member names in the clear
        acked: dict[int, tuple[float, float]] = {}  # id → (before commit, acknowledged)
        with src.connect() as conn:
            conn.autocommit = True
            for i in range(101, 161):
                before = time.time()
                conn.execute("INSERT INTO t (id) VALUES (%s)", (i,))
                acked[i] = (before, time.time())
                time.sleep(0.02)
            conn.execute("SELECT pg_switch_wal()")
        target = acked[130][1] + 0.005
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and stream.pid() is not None:
            flushed = src.execute("SELECT flush_lsn FROM pg_stat_replication WHERE application_name = %s",
                                  (backup.APPLICATION,))
            current = src.execute("SELECT pg_current_wal_flush_lsn()")
            if flushed and str(flushed[0][0]) == str(current[0][0]):
                break
            time.sleep(0.05)
        assert stream.files(), "complete segments received"

        dst = make_node()
        backup.unpack(sealed.read(base, lambda _: KEY[0], b"ctx"), dst.datadir, dst.run_as)
        backup.verify(dst.engine, dst.datadir)
        staged = dst.datadir / backup.RESTORE_WAL
        staged.mkdir()
        for f in [*stream.files(), *( [stream.partial()] if stream.partial() else [])]:
            assert f is not None
            (staged / f.name.removesuffix(".partial")).write_bytes(f.read_bytes())
        when = dt.datetime.fromtimestamp(target, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        backup.prepare_recovery(dst.datadir, when, dst.run_as)
        dst.configure(config(free_port()))
        dst.start(timeout=60)
        backup.wait_promoted(dst, 60)
        backup.finish_recovery(dst.datadir)
        got = set(_rows(dst))
        assert set(range(1, 131)) <= got
        assert not {i for i, (before, _) in acked.items() if before > target} & got
        assert not dst.execute("SELECT pg_is_in_recovery()")[0][0]
        dst.execute("INSERT INTO t (id) VALUES (1000)")  # promoted: writable
        assert not (dst.datadir / backup.RESTORE_WAL).exists()
    finally:
        stream.stop()
