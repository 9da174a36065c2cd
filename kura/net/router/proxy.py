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

from kura.net.router.table import Address, Endpoint, Table

log = logging.getLogger("kura.router")

RETRY = 0.05  # seconds between attempts while a connection is held
CONNECT_TIMEOUT = 1.0


@dataclass
class Counts:
    active: int = 0
    total: int = 0
    held: int = 0  # waiting for a target right now
    held_total: int = 0
    dropped: int = 0  # gave up after the hold time


class _Pipe(asyncio.Protocol):
    """One side of a forwarded connection; `peer` is the other side's transport."""

    def __init__(self, on_close: asyncio.Future[None] | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.pending: list[bytes] = []  # what arrived before the peer existed
        self.closed = asyncio.get_running_loop().create_future() if on_close is None else on_close

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.pending.append(data)
        else:
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

    # back-pressure: our transport's buffer is full, so stop reading the peer
    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume_reading()


def _same(pipe: _Pipe) -> _Pipe:
    return pipe


def _join(a: _Pipe, b: _Pipe) -> None:
    assert a.transport is not None and b.transport is not None
    a.peer, b.peer = b.transport, a.transport
    for side, other in ((a, b), (b, a)):
        for chunk in side.pending:
            other.transport.write(chunk)  # type: ignore[union-attr]
        side.pending.clear()


@dataclass
class _Listener:
    endpoint: Endpoint
    server: asyncio.Server
    rotation: itertools.count[int] = field(default_factory=itertools.count)


class Router:
    def __init__(self, stats_path: Path | None = None) -> None:
        self.table = Table()
        self.listeners: dict[Address, _Listener] = {}
        self.counts: dict[str, Counts] = {}
        self.stats_path = stats_path

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
        return problems

    def targets(self, addr: Address) -> tuple[Endpoint | None, list[Address]]:
        found = self.listeners.get(addr)
        if found is None:
            return None, []
        targets = list(found.endpoint.targets)
        if found.endpoint.balance == "spread" and targets:
            shift = next(found.rotation) % len(targets)
            targets = targets[shift:] + targets[:shift]
        return found.endpoint, targets

    async def connect(self, addr: Address, client: _Pipe) -> None:
        """Find a target for a new client: at once when one answers, else retry until the hold time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.table.hold_seconds
        endpoint, targets = self.targets(addr)
        counts = self.counts.setdefault(endpoint.name if endpoint else "?", Counts())
        held = False
        try:
            while not client.closed.done():
                for target in targets:
                    upstream = _Pipe(client.closed)
                    try:
                        await asyncio.wait_for(loop.create_connection(functools.partial(_same, upstream),
                                                                      *target), CONNECT_TIMEOUT)
                    except (TimeoutError, OSError):
                        continue
                    counts.active += 1
                    counts.total += 1
                    _join(client, upstream)
                    with contextlib.suppress(Exception):
                        await client.closed
                    counts.active -= 1
                    return
                if not held:
                    held = True
                    counts.held += 1
                    counts.held_total += 1
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

    def snapshot(self) -> dict[str, object]:
        return {"pid": os.getpid(), "time": time.time(),
                "endpoints": {name: vars(c) for name, c in self.counts.items()}}

    async def write_stats(self, every: float = 1.0) -> None:
        if self.stats_path is None:
            return
        while True:
            tmp = self.stats_path.with_name(f".{self.stats_path.name}.{os.getpid()}.tmp")
            with contextlib.suppress(OSError):
                tmp.write_text(json.dumps(self.snapshot()))
                os.replace(tmp, self.stats_path)
            await asyncio.sleep(every)

    def close(self) -> None:
        for listener in self.listeners.values():
            listener.server.close()
        self.listeners.clear()


class _Client(_Pipe):
    def __init__(self, router: Router, addr: Address) -> None:
        super().__init__()
        self.router, self.addr = router, addr

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(self.router.connect(self.addr, self))
