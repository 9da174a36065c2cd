"""The endpoint router as its own process: forwarding, connections held (not refused) while an endpoint
has no target, table reloads that drop nothing, the hold timeout, counts, several workers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kura.net.router.control import RouterControl
from kura.net.router.table import Endpoint, Table
from tests.kura_fixture import free_port

HOST = "127.0.0.1"


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(self.server.prefix + data)  # type: ignore[attr-defined]


class Echo(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, prefix: bytes) -> None:
        super().__init__((HOST, free_port()), _Echo)
        self.prefix = prefix
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        return HOST, int(self.server_address[1])


@pytest.fixture
def echo() -> Iterator[list[Echo]]:
    servers = [Echo(b"A:"), Echo(b"B:")]
    yield servers
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def router(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RouterControl]:
    control = RouterControl(tmp_path / "router", workers=int(request.param))
    control.ensure()
    yield control
    control.stop()
    assert control.pid() is None


def ask(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    return sock.recv(65536)


def test_forwards_holds_reloads_and_counts(router: RouterControl, echo: list[Echo]) -> None:
    listen = (HOST, free_port())
    router.publish(Table((Endpoint("db", listen, (echo[0].address,)),)))
    time.sleep(0.7)  # mtime or SIGHUP: both reach every worker well within this
    with socket.create_connection(listen, timeout=5) as s:
        assert ask(s, b"hello") == b"A:hello"
        # the target changes: this connection stays where it is, new ones go to the new target
        router.publish(Table((Endpoint("db", listen, (echo[1].address,)),)))
        time.sleep(0.7)
        assert ask(s, b"again") == b"A:again"
        with socket.create_connection(listen, timeout=5) as t:
            assert ask(t, b"new") == b"B:new"
    # no target: a new connection is held, then served once a target appears
    router.publish(Table((Endpoint("db", listen, ()),)))
    time.sleep(0.7)
    with socket.create_connection(listen, timeout=5) as s:
        s.sendall(b"early")
        time.sleep(0.5)
        router.publish(Table((Endpoint("db", listen, (echo[0].address,)),)))
        assert s.recv(65536) == b"A:early"
    counts = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        counts = router.stats().get("db", {})
        if counts.get("total", 0) >= 3 and counts.get("held_total", 0) >= 1:
            break
        time.sleep(0.1)
    assert counts["total"] >= 3 and counts["held_total"] >= 1, counts


def test_a_refusing_target_is_skipped_and_the_hold_times_out(router: RouterControl, echo: list[Echo]) -> None:
    listen = (HOST, free_port())
    dead = (HOST, free_port())  # nothing listens there
    router.publish(Table((Endpoint("db", listen, (dead, echo[1].address)),)))
    time.sleep(0.7)
    with socket.create_connection(listen, timeout=5) as s:
        assert ask(s, b"x") == b"B:x"
    router.publish(Table((Endpoint("db", listen, (dead,)),), hold_seconds=0.5))
    time.sleep(0.7)
    started = time.monotonic()
    with socket.create_connection(listen, timeout=5) as s:
        s.sendall(b"y")
        assert s.recv(65536) == b""  # closed after the hold time, not refused at connect
    assert 0.4 < time.monotonic() - started < 4


def test_a_dead_worker_is_replaced(tmp_path: Path, echo: list[Echo]) -> None:
    control = RouterControl(tmp_path / "router", workers=2)
    control.ensure()
    try:
        listen = (HOST, free_port())
        control.publish(Table((Endpoint("db", listen, (echo[0].address,)),)))
        time.sleep(0.7)
        workers = [int(p.stem.split("-")[1]) for p in control.stats_files()]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            now = {int(p.stem.split("-")[1]) for p in control.stats_files()}
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.05)
        for _ in range(6):  # whichever worker the kernel picks answers
            with socket.create_connection(listen, timeout=5) as s:
                assert ask(s, b"z") == b"A:z"
    finally:
        control.stop()
        with contextlib.suppress(ProcessLookupError):
            for p in control.stats_files():
                os.kill(int(p.stem.split("-")[1]), signal.SIGKILL)


def test_an_upstream_gone_before_answering_is_retried_with_what_the_client_sent(
        router: RouterControl, echo: list[Echo]) -> None:
    """A frozen server (its kernel completes handshakes into the backlog, nobody answers) is fenced:
    the reset connection is not the client's failure — the router replays the client's bytes elsewhere.
    One that accepts and closes at once is retried the same way."""
    listen = (HOST, free_port())
    frozen = socket.socket()
    frozen.bind((HOST, 0))
    frozen.listen(16)  # never accept()ed: like a SIGSTOPped postmaster
    router.publish(Table((Endpoint("db", listen, (frozen.getsockname(),)),)))
    assert router.wait_listening(listen, 5)
    with socket.create_connection(listen, timeout=10) as s:
        s.sendall(b"startup")
        time.sleep(0.3)
        router.publish(Table((Endpoint("db", listen, (echo[1].address,)),)))
        time.sleep(0.3)
        frozen.close()  # fenced: the pending connection is reset
        assert s.recv(65536) == b"B:startup"
        assert ask(s, b"more") == b"B:more"
    closing = socket.socket()
    closing.bind((HOST, 0))
    closing.listen(16)

    def slam() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = closing.accept()
                conn.close()  # accepted, then gone without a byte

    threading.Thread(target=slam, daemon=True).start()
    router.publish(Table((Endpoint("db", listen, (closing.getsockname(), echo[0].address)),)))
    assert router.wait_applied(router.publish(
        Table((Endpoint("db", listen, (closing.getsockname(), echo[0].address)),))), 5)
    with socket.create_connection(listen, timeout=10) as s:
        assert ask(s, b"hello") == b"A:hello"
    closing.close()
    counts = router.stats()["db"]
    assert counts["retried"] >= 1 and counts["dropped"] == 0, counts


def test_after_the_answer_an_upstream_close_closes_the_client(router: RouterControl) -> None:
    listen = (HOST, free_port())
    server = socket.socket()
    server.bind((HOST, 0))
    server.listen(4)
    router.wait_applied(router.publish(Table((Endpoint("db", listen, (server.getsockname(),)),))), 5)
    with socket.create_connection(listen, timeout=10) as s:
        s.sendall(b"hi")
        conn, _ = server.accept()
        assert conn.recv(16) == b"hi"
        conn.sendall(b"answer")
        assert s.recv(16) == b"answer"
        conn.close()
        assert s.recv(16) == b""  # answered, then gone: the client sees it (no replay)
    server.close()


def test_a_held_address_is_bound_once_it_is_free(router: RouterControl, echo: list[Echo]) -> None:
    listen = (HOST, free_port())
    holder = socket.socket()
    holder.bind(listen)
    holder.listen(1)  # someone else (a postmaster being moved) still has the address
    router.publish(Table((Endpoint("db", listen, (echo[0].address,)),)))
    assert not router.wait_listening(listen, 0.5)
    holder.close()
    assert router.wait_listening(listen, 5)
    with socket.create_connection(listen, timeout=5) as s:
        assert ask(s, b"x") == b"A:x"


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    control = RouterControl(tmp_path / "router", workers=2)
    supervisor = control.ensure()
    workers = [int(p.stem.split("-")[1]) for p in control.stats_files()]
    assert len(workers) == 2
    os.kill(supervisor, signal.SIGKILL)

    def gone(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(gone(p) for p in workers):
        time.sleep(0.05)
    leftover = [p for p in workers if not gone(p)]
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert not leftover, "workers outlived their supervisor"
