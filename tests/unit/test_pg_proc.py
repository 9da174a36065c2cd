"""Postmaster liveness helpers: pid files, /proc states, zombies."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kura.engines.postgres import pgproc
from kura.engines.postgres.scram import scram_verifier


def test_reads_a_postmaster_pid_file(tmp_path: Path) -> None:
    now = int(time.time())
    (tmp_path / "postmaster.pid").write_text(
        f"{os.getpid()}\n{tmp_path}\n{now}\n5432\n/run/kura/x\n127.0.0.5\n  5432001     32768\nready   \n")
    pf = pgproc.read_pidfile(tmp_path)
    assert pf is not None
    assert (pf.pid, pf.port, pf.socket_dir, pf.listen, pf.status) == \
        (os.getpid(), 5432, "/run/kura/x", "127.0.0.5", "ready")
    assert pgproc.read_pidfile(tmp_path / "nothing") is None


def test_a_zombie_is_dead_and_its_lock_files_are_stale(tmp_path: Path) -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while pgproc.proc_state(pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pgproc.proc_state(pid) == "Z"
        os.kill(pid, 0)  # what `kill -0` would say: "alive"
        assert not pgproc.alive(pid)
        (tmp_path / "postmaster.pid").write_text(f"{pid}\n{tmp_path}\n{int(time.time())}\n5432\n")
        sock = tmp_path / "sock"
        sock.mkdir()
        (sock / ".s.PGSQL.5432.lock").write_text(f"{pid}\n{tmp_path}\n{int(time.time())}\n5432\n")
        (sock / ".s.PGSQL.5432").write_text("")
        removed = pgproc.remove_stale_locks(tmp_path, [sock])
        assert len(removed) == 2 and not any(sock.iterdir())
    finally:
        os.waitpid(pid, 0)
    assert pgproc.proc_state(pid) is None


def test_a_reused_pid_is_not_our_postmaster(tmp_path: Path) -> None:
    # Our own process is alive but did not start at the time the pid file claims.
    pf = pgproc.PidFile(os.getpid(), str(tmp_path), int(time.time()) - 3600, 5432, None, None, "ready")
    assert pgproc.alive(os.getpid()) and not pgproc.is_live_postmaster(pf)
    started = pgproc.start_epoch(os.getpid())
    assert started is not None
    assert pgproc.is_live_postmaster(pgproc.PidFile(os.getpid(), "", int(started), None, None, None, None))


def test_scram_verifier_format() -> None:
    v = scram_verifier("secret-password", salt=b"0123456789abcdef")
    assert v.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert v == scram_verifier("secret-password", salt=b"0123456789abcdef")
    assert v != scram_verifier("secret-password")
