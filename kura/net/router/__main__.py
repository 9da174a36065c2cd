"""`python -m kura.net.router --dir DIR [--workers N]`: the router process.

DIR holds table.json (read at start, on SIGHUP, and whenever its mtime changes), router.pid, and one
stats-<pid>.json per worker. With N > 1 the parent forks N workers that all listen on every endpoint
address (SO_REUSEPORT: the kernel spreads connections over them), relays SIGHUP/SIGTERM and replaces a
worker that dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

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


def _supervise(directory: Path, workers: int) -> None:
    children: dict[int, int] = {}  # pid -> worker index (0 steers)
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
    for index in range(workers):
        spawn(index)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        slot = children.pop(pid)
        (directory / f"stats-{pid}.json").unlink(missing_ok=True)
        if not stopping:
            log.warning("router worker %d exited; starting another", pid)
            time.sleep(0.1)
            spawn(slot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kura-router")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "router.pid").write_text(f"{os.getpid()}\n")
    if args.workers <= 1:
        _run_worker(args.dir)
    else:
        _supervise(args.dir, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
