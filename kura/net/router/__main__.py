"""`python -m kura.net.router --dir DIR [--workers N] [--max-workers M]`: the router process.

DIR holds table.json (read at start, on SIGHUP, and whenever its mtime changes), router.pid, and one
stats-<pid>.json per worker. When more than one worker may run (M > 1; by default one a core), the
parent forks N workers that all listen on every endpoint address (SO_REUSEPORT: the kernel spreads
connections over them), relays SIGHUP/SIGTERM, replaces a worker that dies, and starts or stops
workers with the load (`scaling.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from kura.net.router import scaling
from kura.net.router import table as tables
from kura.net.router.proxy import Router
from kura.net.router.steer import Steering

log = logging.getLogger("kura.router")
POLL = 0.5
RETRY_BIND = 0.05  # while an address cannot be bound


async def _serve(directory: Path, supervised: bool = False, steer: bool = True) -> None:
    path = directory / "table.json"
    router = Router(directory / f"stats-{os.getpid()}.json", Steering.open() if steer else None)
    loop = asyncio.get_running_loop()
    reload = asyncio.Event()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    stats = loop.create_task(router.write_stats())
    seen = -1.0
    parent = os.getppid()
    while not stop.is_set():
        if supervised and os.getppid() != parent:
            log.warning("the router's supervisor is gone; this worker stops")
            break
        mtime = path.stat().st_mtime if path.exists() else 0.0
        retry = bool(router.problems)  # an address still held by someone else: try to bind it again
        if router.unsteered and not (reload.is_set() or mtime != seen or retry):
            router.steer()  # a target that was not listening yet may be now
        if reload.is_set() or mtime != seen or retry:
            reload.clear()
            seen = mtime
            problems = await router.apply(tables.load(path))
            if not retry or not problems:
                for problem in problems:
                    log.warning("%s", problem)
                log.info("table %d loaded: %d endpoints", router.table.serial, len(router.table.endpoints))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_either(reload, stop), RETRY_BIND if router.problems else POLL)
    log.info("stopping")
    stats.cancel()
    router.close()
    (directory / f"stats-{os.getpid()}.json").unlink(missing_ok=True)


async def _either(a: asyncio.Event, b: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _run_worker(directory: Path, supervised: bool = False, steer: bool = True) -> None:
    """One worker; a `supervised` one stops when its supervisor dies (kill -9 of the router must not
    leave workers listening with nobody to replace them). One worker steers: the kernel needs one
    program, and the listening sockets it takes over are drained by one process only."""
    try:
        import uvloop

        uvloop.run(_serve(directory, supervised, steer))
    except ImportError:
        asyncio.run(_serve(directory, supervised, steer))


def _idle(directory: Path, pid: int) -> bool:
    """No connection is open in this worker (its stats say so)."""
    try:
        doc = json.loads((directory / f"stats-{pid}.json").read_text())
    except (OSError, ValueError):
        return False
    return all(not c.get("active") and not c.get("held") for c in doc.get("endpoints", {}).values())


def _supervise(directory: Path, policy: scaling.Policy) -> None:
    children: dict[int, int] = {}  # pid -> worker index (0 steers)
    retiring: set[int] = set()  # stopped for want of load: not replaced
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            _run_worker(directory, supervised=True, steer=index == 0)
            os._exit(0)
        children[pid] = index

    def relay(signum: int, frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if stopping else signum)

    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, relay)
    for index in range(policy.minimum):
        spawn(index)
    scaler = scaling.Scaler(policy)
    last = time.monotonic()
    used = {pid: scaling.cpu_seconds(pid) or 0.0 for pid in children}
    while children:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            if pid in children:
                slot = children.pop(pid)
                (directory / f"stats-{pid}.json").unlink(missing_ok=True)
                if not stopping and pid not in retiring:
                    log.warning("router worker %d exited; starting another", pid)
                    time.sleep(0.1)
                    spawn(slot)
                retiring.discard(pid)
            continue
        time.sleep(0.1)
        now = time.monotonic()
        if stopping or now - last < 1.0:
            continue
        now_used = {p: scaling.cpu_seconds(p) for p in children}
        busy = [((u or 0.0) - used.get(p, u or 0.0)) / (now - last) for p, u in now_used.items()]
        used, last = {p: u or 0.0 for p, u in now_used.items()}, now
        serving = [p for p in children if p not in retiring]
        step = scaler.decide(now, len(serving), sum(busy) / len(busy) if busy else 0.0)
        if step > 0:
            spawn(max(children.values()) + 1)
            log.info("router workers busy: %d now", len(serving) + 1)
        elif step < 0:
            idle = [p for p in sorted(serving, key=children.__getitem__, reverse=True)
                    if children[p] != 0 and _idle(directory, p)]
            if idle:
                retiring.add(idle[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(idle[0], signal.SIGTERM)
                log.info("router workers idle: %d now", len(serving) - 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kura-router")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=1, help="workers at least")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="workers at most, as load asks (KURA_ROUTER_MAX_WORKERS, else one a core)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "router.pid").write_text(f"{os.getpid()}\n")
    policy = scaling.Policy.from_env(max(1, args.workers), args.max_workers)
    if policy.maximum <= 1:
        _run_worker(args.dir)
    else:
        _supervise(args.dir, policy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
