"""The router's event loop: one listening socket per endpoint, byte-for-byte forwarding (TLS passes
through untouched: PostgreSQL negotiates it inside the stream), connections held while an endpoint
has no reachable target, and per-endpoint connection counts written to `stats.json` every second.

Forwarding uses asyncio protocols (no per-read coroutine) with back-pressure both ways: a side whose
peer cannot keep up stops being read until the peer's buffer drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import os
import socket
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path

from kura.net.router.steer import Steering
from kura.net.router.table import WAKE_SOCKET, Address, Endpoint, Table

log = logging.getLogger("kura.router")

RETRY = 0.05  # seconds between attempts while a connection is held
CONNECT_TIMEOUT = 1.0


@dataclass
class Counts:
    active: int = 0  # forwarded by this worker right now (steered ones are counted by the kernel)
    total: int = 0
    held: int = 0  # waiting for a target right now
    held_total: int = 0
    dropped: int = 0  # gave up after the hold time
    retried: int = 0  # a target went away before answering: the client was tried again


class _Pipe(asyncio.Protocol):
    """The common half of both sides: a transport, TCP_NODELAY, and back-pressure toward `peer`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # back-pressure: our transport's buffer is full, so stop reading the peer
    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume_reading()


class _Upstream(_Pipe):
    """The connection to a target. Until it sends its first byte it has not *answered*: if it goes away
    before that (a frozen postmaster's backlog reset when it is fenced, one killed right after accept),
    the client is not closed but tried on the next target with what it sent so far (`failed`)."""

    def __init__(self, client: _Client) -> None:
        super().__init__()
        self.client = client
        self.answered = False
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self.answered:
            self.answered = True
            self.client.sent = None  # nothing will be replayed from now on
        if self.peer is not None:
            self.peer.write(data)

    def eof_received(self) -> bool:
        if self.answered and self.peer is not None and self.peer.can_write_eof():
            self.peer.write_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered and not self.client.closed.done():
            if not self.failed.done():
                self.failed.set_result(None)
            return
        if self.peer is not None:
            self.peer.close()
        if not self.client.closed.done():
            self.client.closed.set_result(None)


class _Client(_Pipe):
    """The accepted connection. What it sends is kept (`sent`) until the upstream answers."""

    def __init__(self, router: Router, addr: Address) -> None:
        super().__init__()
        self.router, self.addr = router, addr
        self.upstream: _Upstream | None = None
        self.sent: list[bytes] | None = []
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(self.router.connect(self.addr, self))

    def attach(self, upstream: _Upstream) -> None:
        assert upstream.transport is not None and self.transport is not None
        self.upstream, self.peer, upstream.peer = upstream, upstream.transport, self.transport
        for chunk in self.sent or ():
            upstream.transport.write(chunk)

    def detach(self) -> None:
        self.upstream, self.peer = None, None
        if self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.sent is not None:
            self.sent.append(data)
        if self.peer is not None:
            self.peer.write(data)

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.can_write_eof():
            self.peer.write_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()
        if not self.closed.done():
            self.closed.set_result(None)


def _same(pipe: _Upstream) -> _Upstream:
    return pipe


@dataclass
class _Listener:
    endpoint: Endpoint
    server: asyncio.Server
    rotation: itertools.count[int] = field(default_factory=itertools.count)


class Router:
    def __init__(self, stats_path: Path | None = None, steering: Steering | None = None) -> None:
        self.table = Table()
        self.listeners: dict[Address, _Listener] = {}
        self.counts: dict[str, Counts] = {}
        self.stats_path = stats_path
        self.problems: list[str] = []  # binds that failed at the last apply (retried by the caller)
        self.steering = steering
        self.unsteered: set[Address] = set()  # endpoints to steer once their target listens (retried)
        self.taking: set[asyncio.Task[object]] = set()

    async def apply(self, table: Table) -> list[str]:
        """Make the listening sockets match `table`; open connections are left alone. Problems (an
        address that cannot be bound) are returned, not raised: the rest of the table still applies."""
        problems = []
        wanted = table.by_listen()
        for addr in list(self.listeners):
            if addr not in wanted:
                self.listeners.pop(addr).server.close()
        for addr, endpoint in wanted.items():
            self.counts.setdefault(endpoint.name, Counts())
            found = self.listeners.get(addr)
            if found is not None:
                found.endpoint = endpoint
                continue
            try:
                server = await asyncio.get_running_loop().create_server(
                    functools.partial(_Client, self, addr), addr[0], addr[1], reuse_address=True,
                    reuse_port=True, backlog=1024)
            except OSError as exc:
                problems.append(f"{endpoint.name}: cannot listen on {addr[0]}:{addr[1]}: {exc}")
                continue
            self.listeners[addr] = _Listener(endpoint, server)
        self.table = table
        self.problems = problems
        self.steer()
        self.save_stats()  # at once: Kura waits for the new table to be in force
        return problems

    def steer(self) -> None:
        """Kernel steering to match the table: a writer endpoint (`first`) whose listener the router
        holds (the fallback) is steered to its first target's own listening socket; an endpoint whose
        target changed or went is released first, its queued connections taken over by the router."""
        if self.steering is None:
            return
        wanted = {addr: listener.endpoint.targets[0] for addr, listener in self.listeners.items()
                  if listener.endpoint.balance == "first" and listener.endpoint.targets}
        for addr in list(self.steering.steered):
            if wanted.get(addr) != self.steering.target(addr):
                self.release(addr)
        self.unsteered = set()
        for addr, target in wanted.items():
            if self.steering.target(addr) == target:
                continue
            if self.steering.steer(addr, target, functools.partial(self._watch, addr)) is None:
                self.unsteered.add(addr)
            else:
                log.info("endpoint %s:%d steered to the socket of %s:%d", *addr, *target)

    def _watch(self, addr: Address, pidfd: int) -> None:
        asyncio.get_running_loop().add_reader(pidfd, self._owner_exited, addr)

    def _owner_exited(self, addr: Address) -> None:
        log.info("the process listening for %s:%d exited: the router takes its queued connections", *addr)
        self.release(addr)
        self.unsteered.add(addr)  # the same target may listen again (a restart in place)

    def release(self, addr: Address) -> None:
        assert self.steering is not None
        found = self.steering.steered.get(addr)
        if found is None:
            return
        asyncio.get_running_loop().remove_reader(found.pidfd)
        _, queued = self.steering.release(addr)
        loop = asyncio.get_running_loop()
        for conn in queued:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = functools.partial(_Client, self, addr)
            task = loop.create_task(loop.connect_accepted_socket(client, conn))
            self.taking.add(task)  # a reference until done: the loop keeps only weak ones
            task.add_done_callback(self.taking.discard)
        if queued:
            log.info("endpoint %s:%d: %d queued connections taken over", *addr, len(queued))

    def targets(self, addr: Address) -> tuple[Endpoint | None, list[Address]]:
        found = self.listeners.get(addr)
        if found is None:
            return None, []
        targets = list(found.endpoint.targets)
        if found.endpoint.balance == "spread" and targets:
            shift = next(found.rotation) % len(targets)
            targets = targets[shift:] + targets[:shift]
        return found.endpoint, targets

    async def connect(self, addr: Address, client: _Client) -> None:
        """Find a target for a new client: at once when one answers, else retry until the hold time. A
        target that goes away before answering counts as not answering."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.table.hold_seconds
        endpoint, targets = self.targets(addr)
        counts = self.counts.setdefault(endpoint.name if endpoint else "?", Counts())
        held = False
        try:
            while not client.closed.done():
                for target in targets:
                    if await self._serve_through(client, target, counts):
                        return
                    if client.closed.done():
                        return
                if not held:
                    held = True
                    counts.held += 1
                    counts.held_total += 1
                    if endpoint is not None and endpoint.wake:
                        self.wake(endpoint.name)
                if loop.time() > deadline:
                    counts.dropped += 1
                    log.warning("endpoint %s: no target answered in %.0f s; connection closed",
                                endpoint.name if endpoint else addr, self.table.hold_seconds)
                    break
                await asyncio.sleep(RETRY)
                endpoint, targets = self.targets(addr)  # a reload may have brought one
        finally:
            if held:
                counts.held -= 1
            if client.transport is not None and not client.transport.is_closing() and client.peer is None:
                client.transport.close()

    async def _serve_through(self, client: _Client, target: Address, counts: Counts) -> bool:
        """Forward `client` to `target` until either side closes (True), or False when the target could
        not be reached or went away before answering (the client stays open for the next try)."""
        loop = asyncio.get_running_loop()
        upstream = _Upstream(client)
        try:
            await asyncio.wait_for(loop.create_connection(functools.partial(_same, upstream), *target),
                                   CONNECT_TIMEOUT)
        except (TimeoutError, OSError):
            return False
        if client.closed.done():
            if upstream.transport is not None:
                upstream.transport.close()
            return True
        if upstream.failed.done() or upstream.transport is None or upstream.transport.is_closing():
            counts.retried += 1  # gone before we could even use it (uvloop reports that early)
            return False
        client.attach(upstream)
        counts.active += 1
        counts.total += 1
        try:
            await asyncio.wait([client.closed, upstream.failed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            counts.active -= 1
        if client.closed.done():
            return True
        client.detach()
        counts.total -= 1
        counts.retried += 1
        return False

    def wake(self, name: str) -> None:
        """Tell Kura a client waits on `name` (a datagram, never blocking: a Kura that is down misses it
        and finds the held connection in the stats when it starts)."""
        if self.stats_path is None:
            return
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(name.encode(), str(self.stats_path.with_name(WAKE_SOCKET)))

    def snapshot(self) -> dict[str, object]:
        endpoints = {name: dict(vars(c)) for name, c in self.counts.items()}
        if self.steering is not None:
            for addr, listener in self.listeners.items():
                counts = endpoints.setdefault(listener.endpoint.name, {})
                counts["steered"] = self.steering.count(addr)  # handed to the target by the kernel
                counts["total"] = counts.get("total", 0) + counts["steered"]
        return {"pid": os.getpid(), "time": time.time(), "serial": self.table.serial,
                "listening": [list(a) for a in self.listeners], "problems": self.problems,
                "steered": [list(a) for a in (self.steering.steered if self.steering else ())],
                "endpoints": endpoints}

    def save_stats(self) -> None:
        if self.stats_path is None:
            return
        tmp = self.stats_path.with_name(f".{self.stats_path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(self.snapshot()))
            os.replace(tmp, self.stats_path)

    async def write_stats(self, every: float = 1.0) -> None:
        while True:
            self.save_stats()
            await asyncio.sleep(every)

    def close(self) -> None:
        if self.steering is not None:
            for found in self.steering.steered.values():
                asyncio.get_running_loop().remove_reader(found.pidfd)
            self.steering.close()
        for listener in self.listeners.values():
            listener.server.close()
        self.listeners.clear()
