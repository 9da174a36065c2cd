"""Endpoint addresses: one loopback address per endpoint on Linux, so every one keeps its usual port.

On Linux the whole of 127.0.0.0/8 is local without configuring anything, so an instance asking for
5432 gets 5432 on an address of its own. Elsewhere (macOS configures only 127.0.0.1) every endpoint
shares 127.0.0.1 and gets a port of its own.

What is allocated lives in the store's kv values, so it survives restarts and every process of the
installation sees it:
    net:allocations  {owner: {"address": str, "port": int, "requested": int}}
    net:base         index of this installation's first candidate address (chosen at random once)

Addresses are handed out from 127.10.0.0 onwards (clear of 127.0.0.1 and Debian's 127.0.1.1) and
from a random block per installation, so Kura homes and test runs sharing a host rarely even try the
same addresses; a bind probe still skips any (address, port) something on the host already holds.
"""

from __future__ import annotations

import enum
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from kura.store.types import Store

ALLOCATIONS_KEY = "net:allocations"
BASE_KEY = "net:base"
SHARED_ADDRESS = "127.0.0.1"

# Candidates are 127.A.B.C with A in 10..254 and C in 1..254 (no .0 or .255 host parts).
_FIRST_A = 10
_LAST_A = 254
_HOSTS_PER_BLOCK = 254
_BLOCKS = (_LAST_A - _FIRST_A + 1) * 256
_SPACE = _BLOCKS * _HOSTS_PER_BLOCK
# How many addresses to try for the requested port before deciding something holds it host-wide
# (e.g. a server on 0.0.0.0:5432) and falling back to a port the kernel picks.
MAX_PROBES = 256

_LOCK = threading.Lock()


class AddressMode(enum.Enum):
    PER_ENDPOINT = "per-endpoint"  # Linux: an address of its own, the requested port
    SHARED = "shared"  # elsewhere: 127.0.0.1, a port of its own


def default_mode() -> AddressMode:
    return AddressMode.PER_ENDPOINT if sys.platform.startswith("linux") else AddressMode.SHARED


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    port: int


class AllocationError(RuntimeError):
    """No address/port could be found (the loopback space is exhausted or bind always fails)."""


def is_free(address: str, port: int) -> bool:
    """Whether a server could listen on (address, port) now.

    SO_REUSEADDR as PostgreSQL, Redis and asyncio set it: connections in TIME_WAIT do not count,
    listeners do (including one on the wildcard address).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def candidate(index: int) -> str:
    """The index-th candidate address (wrapping around the space)."""
    index %= _SPACE
    block, host = divmod(index, _HOSTS_PER_BLOCK)
    a, b = divmod(block, 256)
    return f"127.{_FIRST_A + a}.{b}.{host + 1}"


def allocations(store: Store) -> dict[str, Endpoint]:
    raw: dict[str, Any] = store.get_value(ALLOCATIONS_KEY) or {}
    return {owner: Endpoint(str(v["address"]), int(v["port"])) for owner, v in raw.items()}


def lookup(store: Store, owner: str) -> Endpoint | None:
    return allocations(store).get(owner)


def allocate(store: Store, owner: str, port: int, *, mode: AddressMode | None = None) -> Endpoint:
    """The endpoint of `owner`: the same on every call, unique across owners, free when first chosen.

    Asking again with another port (ModifyDBInstance --db-port-number) moves the endpoint to that
    port, keeping its address when it can. Port 0 asks for any free port.
    """
    mode = mode or default_mode()
    with store.transaction(), _LOCK:  # the lock inside the transaction: no lock-order inversion
        table: dict[str, Any] = dict(store.get_value(ALLOCATIONS_KEY) or {})
        current = table.get(owner)
        if current is not None and int(current["requested"]) == port:
            return Endpoint(str(current["address"]), int(current["port"]))
        others = {k: v for k, v in table.items() if k != owner}
        prefer = str(current["address"]) if current is not None else None
        if mode is AddressMode.PER_ENDPOINT:
            found = _pick_address(store, {str(v["address"]) for v in others.values()}, port, prefer)
        else:
            found = _pick_port({int(v["port"]) for v in others.values()}, port)
        table[owner] = {"address": found.address, "port": found.port, "requested": port}
        store.set_value(ALLOCATIONS_KEY, table)
        return found


def release(store: Store, owner: str) -> Endpoint | None:
    """Forget `owner`'s endpoint (its address may go to the next owner); return what it was."""
    with store.transaction(), _LOCK:
        table: dict[str, Any] = dict(store.get_value(ALLOCATIONS_KEY) or {})
        gone = table.pop(owner, None)
        if gone is None:
            return None
        store.set_value(ALLOCATIONS_KEY, table)
        return Endpoint(str(gone["address"]), int(gone["port"]))


def _base(store: Store) -> int:
    base = store.get_value(BASE_KEY)
    if not isinstance(base, int):
        # A random block, so two installations on one host start far apart (not crypto: no secrecy).
        base = random.randrange(_BLOCKS) * _HOSTS_PER_BLOCK
        store.set_value(BASE_KEY, base)
    return base


def _pick_address(store: Store, taken: set[str], port: int, prefer: str | None) -> Endpoint:
    """An address no other owner has, free for `port` (0: any port the kernel finds free there)."""
    if prefer is not None and prefer not in taken and (not port or is_free(prefer, port)):
        return Endpoint(prefer, port or _free_port(prefer))
    base = _base(store)
    probes = 0
    first_unused: str | None = None
    for i in range(_SPACE):
        address = candidate(base + i)
        if address in taken:
            continue
        first_unused = first_unused or address
        if not port:
            break
        if is_free(address, port):
            return Endpoint(address, port)
        probes += 1
        if probes >= MAX_PROBES:
            break
    if first_unused is None:
        raise AllocationError("every loopback address Kura uses is allocated")
    # The port is held host-wide (or any will do): an address of our own, a port the kernel finds free.
    return Endpoint(first_unused, _free_port(first_unused))


def _pick_port(taken: set[int], port: int) -> Endpoint:
    if port and port not in taken and is_free(SHARED_ADDRESS, port):
        return Endpoint(SHARED_ADDRESS, port)
    for _ in range(100):
        found = _free_port(SHARED_ADDRESS)
        if found not in taken:
            return Endpoint(SHARED_ADDRESS, found)
    raise AllocationError(f"no free port on {SHARED_ADDRESS}")


def wait_listening(address: str, port: int, timeout: float = 10.0, *, interval: float = 0.05) -> bool:
    """Poll until something accepts TCP connections on (address, port); False after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=min(1.0, max(timeout, 0.05))):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
