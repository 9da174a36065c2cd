"""The endpoint router as its own process: forwarding, connections held (not refused) while an endpoint
has no target, table reloads that drop nothing, the hold timeout, counts, several workers — each with
kernel steering (as root) and with every byte forwarded (KURA_ROUTER_STEER=off) — and steering's own
guarantees: the target sees the client itself, and a target that dies leaves no queued connection
behind and its address free."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
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


def start_router(directory: Path, workers: int, steer: bool,
                 monkeypatch: pytest.MonkeyPatch) -> RouterControl:
    control = RouterControl(directory, workers=workers)
    with monkeypatch.context() as env:
        env.setenv("KURA_ROUTER_STEER", "on" if steer else "off")  # the router inherits it
        control.ensure()
    return control


@pytest.fixture(params=[(1, True), (2, True), (1, False)], ids=["1-worker", "2-workers", "forwarding"])
def router(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[RouterControl]:
    control = start_router(tmp_path / "router", *request.param, monkeypatch)
    yield control
    control.stop()
    assert control.pid() is None


@pytest.fixture
def forwarding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RouterControl]:
    control = start_router(tmp_path / "router", 1, False, monkeypatch)
    yield control
    control.stop()


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
    Steered, the connection waits in the frozen socket's queue and is taken from it the same way."""
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


def test_an_upstream_that_closes_before_answering_is_retried(forwarding: RouterControl,
                                                             echo: list[Echo]) -> None:
    """One that accepts and closes at once is retried too. Forwarding only: a steered connection that
    its target accepted belongs to the target."""
    router, listen = forwarding, (HOST, free_port())
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
    deadline = time.monotonic() + 3  # the stats are written every second
    while (counts := router.stats()["db"])["retried"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
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
    if len(workers) != 2:
        control.stop()
        raise AssertionError(f"2 workers expected, {len(workers)} running")
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


LISTENER = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("ready", flush=True)
conn, peer = s.accept()
conn.sendall(("peer %s:%d" % peer).encode())
time.sleep(60)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="kernel steering needs CAP_BPF and ptrace rights (root)")
def test_steering_hands_connections_to_the_target_and_takes_back_its_queue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo: list[Echo]) -> None:
    """The target's own socket gets the connection (it sees the client's address, not the router's);
    when the target process is killed, connections queued on its socket are served by the next target
    and its address is free at once for a new listener (a postmaster restarting in place)."""
    router = start_router(tmp_path / "router", 1, True, monkeypatch)
    port = free_port()
    target = subprocess.Popen([sys.executable, "-c", LISTENER, str(port)], stdout=subprocess.PIPE)
    try:
        assert target.stdout is not None and target.stdout.readline() == b"ready\n"
        listen = (HOST, free_port())
        router.wait_applied(router.publish(Table((Endpoint("db", listen, ((HOST, port),)),))), 5)
        deadline = time.monotonic() + 5
        while not any(doc.get("steered") for doc in map(_stats, router.stats_files())):
            assert time.monotonic() < deadline, "the endpoint was never steered"
            time.sleep(0.05)
        with socket.create_connection(listen, timeout=5) as s:
            assert s.recv(64) == f"peer {HOST}:{s.getsockname()[1]}".encode()  # no router in between
            queued = socket.create_connection(listen, timeout=5)  # never accepted by the target
            queued.sendall(b"waiting")
            target.kill()
            target.wait(5)
            router.publish(Table((Endpoint("db", listen, (echo[0].address,)),)))
            assert queued.recv(64) == b"A:waiting"  # taken over, replayed: not reset
            queued.close()
        again = socket.socket()
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((HOST, port))  # the dead target's address is free
        again.close()
        deadline = time.monotonic() + 3  # the stats are written every second
        while (counts := router.stats()["db"])["total"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert counts["steered"] == 2 and counts["total"] >= 3, counts
    finally:
        if target.poll() is None:
            target.kill()
            target.wait(5)
        router.stop()


def _stats(path: Path) -> dict[str, object]:
    with contextlib.suppress(OSError, ValueError):
        return dict(json.loads(path.read_text()))
    return {}


class _Sink(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while self.request.recv(1 << 20):
            pass


def test_workers_follow_the_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy worker gets company (up to KURA_ROUTER_MAX_WORKERS); once idle, the extra one stops."""
    for name, value in (("KURA_ROUTER_MAX_WORKERS", "2"), ("KURA_ROUTER_SCALE_UP", "0.4"),
                        ("KURA_ROUTER_SCALE_UP_SECONDS", "1"), ("KURA_ROUTER_SCALE_DOWN_SECONDS", "2")):
        monkeypatch.setenv(name, value)
    sink = socketserver.ThreadingTCPServer((HOST, free_port()), _Sink)
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    router = start_router(tmp_path / "router", 1, False, monkeypatch)
    stop = threading.Event()
    try:
        listen = (HOST, free_port())
        router.wait_applied(router.publish(Table((Endpoint("db", listen, (sink.server_address[:2],)),))), 5)
        assert len(router.stats_files()) == 1

        def blast() -> None:
            with socket.create_connection(listen, timeout=10) as s:
                chunk = b"x" * 65536
                while not stop.is_set():
                    s.sendall(chunk)

        loaders = [threading.Thread(target=blast, daemon=True) for _ in range(2)]
        for loader in loaders:
            loader.start()
        deadline = time.monotonic() + 20
        while len(router.stats_files()) < 2:
            assert time.monotonic() < deadline, "no second worker under load"
            time.sleep(0.1)
        stop.set()
        for loader in loaders:
            loader.join(10)
        deadline = time.monotonic() + 20
        while len(router.stats_files()) > 1:
            assert time.monotonic() < deadline, "the second worker outlived the load"
            time.sleep(0.1)
        with socket.create_connection(listen, timeout=5) as s:  # the remaining worker still serves
            s.sendall(b"still")
    finally:
        stop.set()
        router.stop()
        sink.shutdown()
        sink.server_close()
