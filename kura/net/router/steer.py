"""Kernel steering (BPF sk_lookup): a new connection to a writer endpoint is handed by the kernel to the
primary postmaster's own listening socket, so no process copies its bytes and the endpoint costs what a
direct connection costs.

The router keeps a duplicate of that listening socket (pidfd_getfd). Whenever the endpoint stops
pointing at it — the postmaster died (its pidfd says so at once), or Kura held or moved the endpoint —
steering stops first, then the connections already queued on the socket are taken by the router
(accepted, held, forwarded to the next primary) instead of being reset with it, and only then is the
duplicate closed, so that the address is free for the next postmaster. With steering off or not
allowed (no CAP_BPF / ptrace rights, another kernel), the router forwards every connection itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from kura.net.router import bpf

log = logging.getLogger("kura.router")

Address = tuple[str, int]
SLOTS = 4096  # endpoints one router can steer
_PASS = 1  # SK_PASS: the kernel's own lookup goes on (the router's listener takes the connection)


def _program(endpoints: int, sockets: int, counters: int) -> bytes:
    """endpoint (local address, port) -> slot -> listening socket: assign it and count the connection."""
    a = bpf.Asm()
    (a.op(0xbf, 6, 1)                         # r6 = ctx (struct bpf_sk_lookup)
     .op(0x61, 2, 6, 40).op(0x63, 10, 2, -8)  # key.addr = ctx->local_ip4 (network order)
     .op(0x61, 2, 6, 60).op(0x63, 10, 2, -4)  # key.port = ctx->local_port (host order)
     .ld_map(1, endpoints).op(0xbf, 2, 10).op(0x07, 2, imm=-8)
     .op(0x85, imm=1)                         # map_lookup_elem -> &slot
     .op(0x15, 0, 0, "pass")
     .op(0x61, 2, 0, 0).op(0x63, 10, 2, -12)  # stack[-12] = slot
     .ld_map(1, sockets).op(0xbf, 2, 10).op(0x07, 2, imm=-12)
     .op(0x85, imm=1)                         # map_lookup_elem -> socket (a reference)
     .op(0x15, 0, 0, "pass")
     .op(0xbf, 7, 0)
     .op(0xbf, 1, 6).op(0xbf, 2, 7).op(0xb7, 3, imm=0)
     .op(0x85, imm=124)                       # sk_assign(ctx, socket, 0)
     .op(0xbf, 8, 0)
     .op(0xbf, 1, 7).op(0x85, imm=86)         # sk_release(socket)
     .op(0x55, 8, 0, "pass")                  # not assigned (another program did): not ours to count
     .ld_map(1, counters).op(0xbf, 2, 10).op(0x07, 2, imm=-12)
     .op(0x85, imm=1)                         # map_lookup_elem -> &count
     .op(0x15, 0, 0, "pass")
     .op(0xb7, 1, imm=1).op(0xdb, 0, 1)       # atomic count += 1
     .label("pass").op(0xb7, 0, imm=_PASS).op(0x95))
    return a.code()


def _key(addr: Address) -> bytes:
    return socket.inet_aton(addr[0]) + struct.pack("=I", addr[1])


def _slot_key(slot: int) -> bytes:
    return struct.pack("=I", slot)


def _proc_address(addr: Address) -> str:
    """An address as /proc/net/tcp writes it."""
    return f"{struct.unpack('=I', socket.inet_aton(addr[0]))[0]:08X}:{addr[1]:04X}"


def _tcp_sockets() -> list[list[str]]:
    """/proc/net/tcp rows: [slot, local, remote, state, ..., inode at 9]."""
    with contextlib.suppress(OSError), open("/proc/net/tcp") as table:
        return [fields for line in list(table)[1:] if len(fields := line.split()) > 9]
    return []


def established(addrs: list[Address]) -> dict[Address, int]:
    """How many connections are open to each address (the accepting side, whoever accepted it)."""
    wanted = {_proc_address(a): a for a in addrs}
    out: dict[Address, int] = {}
    for fields in _tcp_sockets():
        addr = wanted.get(fields[1])
        if addr is not None and fields[3] == "01":
            out[addr] = out.get(addr, 0) + 1
    return out


def listener_of(target: Address) -> tuple[int, int] | None:
    """(pid, fd) of a process listening on `target` (IPv4 TCP), from /proc; None when nobody is."""
    want = _proc_address(target)
    inode = next((f[9] for f in _tcp_sockets() if f[1] == want and f[3] == "0A"), None)
    if inode is None:
        return None
    link = f"socket:[{inode}]"
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) == link:
                        return int(entry.name), int(fd.name)
    return None


@dataclass
class Steered:
    target: Address
    slot: int
    pidfd: int
    sock: socket.socket


class Steering:
    """One router worker's program, maps and the listening sockets it steers to."""

    def __init__(self) -> None:
        self.endpoints = bpf.map_create(bpf.MAP_HASH, 8, 4, SLOTS)
        self.sockets = bpf.map_create(bpf.MAP_SOCKMAP, 4, 8, SLOTS)
        self.counters = bpf.map_create(bpf.MAP_ARRAY, 4, 8, SLOTS)
        prog = bpf.prog_load(bpf.PROG_SK_LOOKUP, bpf.ATTACH_SK_LOOKUP,
                             _program(self.endpoints, self.sockets, self.counters), b"kura_steer")
        try:
            self.link = bpf.link_netns(prog, bpf.ATTACH_SK_LOOKUP)  # holds the program from now on
        finally:
            os.close(prog)
        self.steered: dict[Address, Steered] = {}
        self.slots: dict[Address, int] = {}  # kept per endpoint, so its count survives re-steering

    @classmethod
    def open(cls) -> Steering | None:
        if os.environ.get("KURA_ROUTER_STEER", "on") == "off":
            return None
        try:
            return cls()
        except (OSError, AttributeError) as exc:
            log.info("kernel steering unavailable (%s): the router forwards every connection", exc)
            return None

    def slot(self, listen: Address) -> int:
        found = self.slots.get(listen)
        if found is None:
            found = self.slots[listen] = len(self.slots)
        return found

    def target(self, listen: Address) -> Address | None:
        found = self.steered.get(listen)
        return found.target if found else None

    def steer(self, listen: Address, target: Address, on_exit: Callable[[int], None]) -> Steered | None:
        """Steer new connections for `listen` to the socket listening on `target`; None when nothing
        listens there or it cannot be taken (the router forwards meanwhile). `on_exit(pidfd)` is to be
        registered for the owner's exit."""
        if len(self.slots) >= SLOTS and listen not in self.slots:
            return None
        owner = listener_of(target)
        if owner is None:
            return None
        pid, fd = owner
        pidfd = -1
        try:
            pidfd = bpf.pidfd_open(pid)
            sock = socket.socket(fileno=bpf.pidfd_getfd(pidfd, fd))
        except OSError as exc:
            if pidfd >= 0:
                os.close(pidfd)
            log.info("cannot take the listening socket of %s:%d (%s): forwarding instead", *target, exc)
            return None
        slot = self.slot(listen)
        try:
            bpf.map_update(self.sockets, _slot_key(slot), struct.pack("=Q", sock.fileno()))
            bpf.map_update(self.endpoints, _key(listen), _slot_key(slot))
        except OSError as exc:
            sock.close()
            os.close(pidfd)
            log.warning("steering %s:%d failed (%s): forwarding instead", *listen, exc)
            return None
        steered = self.steered[listen] = Steered(target, slot, pidfd, sock)
        on_exit(pidfd)
        return steered

    def release(self, listen: Address, take: bool = True) -> tuple[Steered | None, list[socket.socket]]:
        """Stop steering `listen`; with `take`, the connections queued on its socket are accepted and
        returned before the duplicate is closed. The caller stops watching the returned pidfd."""
        found = self.steered.pop(listen, None)
        if found is None:
            return None, []
        with contextlib.suppress(OSError):
            bpf.map_delete(self.endpoints, _key(listen))
        with contextlib.suppress(OSError):
            bpf.map_delete(self.sockets, _slot_key(found.slot))
        queued = []
        if take:
            # The duplicate shares its file status with the postmaster's socket: non-blocking only for
            # this drain (a postmaster that is still alive and loses a race to it logs EAGAIN, goes on).
            found.sock.setblocking(False)
            while True:
                try:
                    conn, _ = found.sock.accept()
                except OSError:  # BlockingIOError: the queue is empty
                    break
                queued.append(conn)
            found.sock.setblocking(True)
        found.sock.close()
        os.close(found.pidfd)
        return found, queued

    def count(self, listen: Address) -> int:
        slot = self.slots.get(listen)
        if slot is None:
            return 0
        with contextlib.suppress(OSError):
            return int(struct.unpack("=Q", bpf.map_lookup(self.counters, _slot_key(slot), 8))[0])
        return 0

    def close(self) -> None:
        for listen in list(self.steered):
            self.release(listen, take=False)  # the postmasters keep their sockets and queues
        for fd in (self.link, self.endpoints, self.sockets, self.counters):
            with contextlib.suppress(OSError):
                os.close(fd)
