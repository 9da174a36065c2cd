"""The clone adapter against real PostgreSQL: a running node copied file by file between
pg_backup_start and pg_backup_stop while it keeps committing, recovered into a server of its own that
has every row committed before the copy ended, and that shares nothing with the source afterwards."""

from __future__ import annotations

import threading
from pathlib import Path

from kura.engines.postgres import backup, clone
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


def _count(node: PgNode) -> int:
    return int(str(node.execute("SELECT count(*) FROM t")[0][0]))


def test_online_copy_of_a_committing_node_recovers_independent(make_node: NodeFactory) -> None:  # noqa: F811
    src, _ = started(make_node)
    src.execute("CREATE TABLE t (id serial PRIMARY KEY, pad text)")
    src.execute("INSERT INTO t (pad) SELECT repeat('x', 200) FROM generate_series(1, 20000)")
    stop = threading.Event()

    def write() -> None:  # commits all along the copy: recovery must make the copy consistent
        with src.connect() as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO t (pad) VALUES ('during')")

    writer = threading.Thread(target=write)
    writer.start()
    dst = make_node()
    try:
        made = clone.online_copy(src, dst.datadir, dst.datadir / backup.RESTORE_WAL)
    finally:
        stop.set()
        writer.join()
    assert made.stats.files > 100 and made.stats.bytes > 4_000_000
    assert sum(made.stats.by_method.values()) == made.stats.files
    assert not list((dst.datadir / "pg_replslot").iterdir())  # the copying session's slot is not cloned
    assert (dst.datadir / "backup_label").exists() and (dst.datadir / backup.RESTORE_WAL / made.last_segment
                                                        ).exists()
    at_copy = _count(src)
    backup.prepare_recovery(dst.datadir, None, dst.run_as)
    dst.configure(config(free_port()))
    dst.start(timeout=60)
    backup.wait_promoted(dst, 60)
    backup.finish_recovery(dst.datadir)
    assert 20000 < _count(dst) <= at_copy  # every commit before the copy's end; nothing after it
    assert not dst.execute("SELECT slot_name FROM pg_replication_slots")

    # independent: writes on either side stay there
    before_src, before_dst = _count(src), _count(dst)
    dst.execute("INSERT INTO t (pad) VALUES ('clone only')")
    src.execute("INSERT INTO t (pad) VALUES ('source only')")
    assert (_count(src), _count(dst)) == (before_src + 1, before_dst + 1)
    assert dst.execute("SELECT count(*) FROM t WHERE pad = 'source only'") == [(0,)]
    assert src.execute("SELECT count(*) FROM t WHERE pad = 'clone only'") == [(0,)]
    assert not src.execute("SELECT slot_name FROM pg_replication_slots")  # the temporary slot is gone


def test_copy_file_says_how(tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.write_bytes(b"x" * 100_000)
    src.chmod(0o600)
    method = clone.copy_file(src, tmp_path / "b")
    assert method in (clone.REFLINK, clone.KERNEL, clone.PLAIN)
    assert (tmp_path / "b").read_bytes() == src.read_bytes()
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o600
