"""Endpoint address allocation over a real SQLite store, with real bind probes on loopback."""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kura.net import addresses
from kura.net.addresses import AddressMode, Endpoint
from kura.store.sqlite import SqliteStore

PG = 5432


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "state.db")
    yield s
    s.close()


def listen_on(ep: Endpoint) -> socket.socket:
    """Hold (address, port) the way a server would (the endpoint was allocated by the test)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ep.address, ep.port))
    s.listen()
    return s


def test_candidates_stay_clear_of_the_usual_loopback_addresses() -> None:
    seen = {addresses.candidate(i) for i in range(0, 2000)}
    seen |= {addresses.candidate(i) for i in range(-1000, 0)}  # the wrap-around
    assert len(seen) == 3000
    for text in seen:
        ip = ipaddress.ip_address(text)
        assert ip in ipaddress.ip_network("127.0.0.0/8")
        assert ip >= ipaddress.ip_address("127.10.0.1")
        assert text.split(".")[3] not in ("0", "255")
    assert "127.0.0.1" not in seen and "127.0.1.1" not in seen


def test_allocation_is_stable_per_owner(store: SqliteStore) -> None:
    first = addresses.allocate(store, "db-a", PG)
    assert first.port == PG
    assert addresses.allocate(store, "db-a", PG) == first
    assert addresses.lookup(store, "db-a") == first
    # Stable even when the owner's own server now holds the port.
    with listen_on(first):
        assert addresses.allocate(store, "db-a", PG) == first


def test_allocation_survives_reopening_the_store(tmp_path: Path) -> None:
    s1 = SqliteStore(tmp_path / "state.db")
    ep = addresses.allocate(s1, "db-a", PG)
    s1.close()
    s2 = SqliteStore(tmp_path / "state.db")
    try:
        assert addresses.allocate(s2, "db-a", PG) == ep
    finally:
        s2.close()


def test_owners_get_distinct_addresses_with_the_same_port(store: SqliteStore) -> None:
    eps = [addresses.allocate(store, f"db-{i}", PG) for i in range(20)]
    eps.append(addresses.allocate(store, "cache-1", 6379))
    assert len({ep.address for ep in eps}) == len(eps)
    assert all(ep.port == PG for ep in eps[:-1]) and eps[-1].port == 6379
    assert addresses.allocations(store) == {**{f"db-{i}": eps[i] for i in range(20)}, "cache-1": eps[-1]}


def test_a_taken_address_is_skipped(store: SqliteStore) -> None:
    ep = addresses.allocate(store, "probe", PG)
    assert addresses.release(store, "probe") == ep
    # Something else (another Kura home, a test) now listens there: the next owner goes elsewhere.
    with listen_on(ep):
        other = addresses.allocate(store, "db-b", PG)
    assert other.address != ep.address and other.port == PG


def test_release_frees_the_address_for_the_next_owner(store: SqliteStore) -> None:
    ep = addresses.allocate(store, "db-a", PG)
    assert addresses.release(store, "db-a") == ep
    assert addresses.lookup(store, "db-a") is None
    assert addresses.release(store, "db-a") is None
    assert addresses.allocate(store, "db-b", PG) == ep


def test_a_new_port_keeps_the_address(store: SqliteStore) -> None:
    ep = addresses.allocate(store, "db-a", PG)
    moved = addresses.allocate(store, "db-a", 5433)
    assert moved == Endpoint(ep.address, 5433)
    assert addresses.allocate(store, "db-a", 5433) == moved


def test_a_port_held_everywhere_falls_back_to_a_free_port(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = random.randrange(10_000, 1_000_000)
    store.set_value(addresses.BASE_KEY, base)
    first, second = addresses.candidate(base), addresses.candidate(base + 1)
    monkeypatch.setattr(addresses, "MAX_PROBES", 2)
    with listen_on(Endpoint(first, PG)), listen_on(Endpoint(second, PG)):
        ep = addresses.allocate(store, "db-a", PG)
        assert ep.address == first and ep.port not in (0, PG)
        # Asking again for the same port keeps what was found, without probing anew.
        assert addresses.allocate(store, "db-a", PG) == ep


def test_concurrent_allocations_from_threads_and_stores(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "state.db") for _ in range(2)]  # two "processes"
    results: dict[str, Endpoint] = {}
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(5):
            owner = f"db-{n}-{i}"
            ep = addresses.allocate(stores[n % 2], owner, PG)
            with lock:
                results[owner] = ep

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(results) == 40
        assert len({ep.address for ep in results.values()}) == 40
        assert addresses.allocations(stores[0]) == results
    finally:
        for s in stores:
            s.close()


def test_port_zero_means_any_free_port(store: SqliteStore) -> None:
    ep = addresses.allocate(store, "db-a", 0)
    assert ep.port != 0 and ep.address.startswith("127.")
    assert addresses.allocate(store, "db-a", 0) == ep


def test_shared_mode_gives_ports_of_their_own_on_127_0_0_1(store: SqliteStore) -> None:
    # Port 0 (any) first, so that the test only ever probes ports the kernel handed out.
    a = addresses.allocate(store, "db-a", 0, mode=AddressMode.SHARED)
    assert a.address == "127.0.0.1" and a.port != 0
    # b asks for the port a holds: it is a's, so b gets another.
    b = addresses.allocate(store, "db-b", a.port, mode=AddressMode.SHARED)
    assert b.address == "127.0.0.1" and b.port not in (0, a.port)
    assert addresses.allocate(store, "db-b", a.port, mode=AddressMode.SHARED) == b
    assert addresses.release(store, "db-a") == a
    assert addresses.lookup(store, "db-b") == b


def test_wait_listening(store: SqliteStore) -> None:
    ep = addresses.allocate(store, "db-a", PG)
    assert not addresses.wait_listening(ep.address, ep.port, timeout=0.2)
    with listen_on(ep):
        assert addresses.wait_listening(ep.address, ep.port, timeout=2)
    assert not addresses.wait_listening(ep.address, ep.port, timeout=0.1)


def test_wait_listening_sees_a_server_that_starts_later(store: SqliteStore) -> None:
    ep = addresses.allocate(store, "db-a", PG)
    holder: list[socket.socket] = []
    timer = threading.Timer(0.3, lambda: holder.append(listen_on(ep)))
    timer.start()
    try:
        assert addresses.wait_listening(ep.address, ep.port, timeout=5)
    finally:
        timer.join()
        for s in holder:
            s.close()
