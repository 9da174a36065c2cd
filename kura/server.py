"""The Kura process: API plane and control plane in one foreground process per home.

Database processes are separate and outlive it; a new `kura up` adopts them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import uvicorn

from kura.api.app import App
from kura.api.credentials import load_or_create
from kura.api.gateway import Gateway
from kura.clock import SystemClock
from kura.config import Paths, Settings
from kura.control import cwlogs
from kura.control import registry as control_registry
from kura.control.elasticache import catalog_publisher as ec_catalog
from kura.control.elasticache import cluster as ec_cluster
from kura.control.rds import autopause, catalog_publisher, insights, serverless
from kura.control.rds import backups as rds_backups
from kura.control.rds import instance as rds_instance
from kura.control.rds import routing as rds_routing
from kura.control.runtime import Runtime
from kura.crypto import MasterKey
from kura.env import Env
from kura.metrics import collector as metrics_collector
from kura.services import registry
from kura.store.sqlite import SqliteStore

log = logging.getLogger("kura")

# Called on shutdown after `kura down --all`: each stops the data-plane processes of one engine kind.
STOP_ALL_HOOKS: list[Callable[[Env], None]] = []


class AlreadyRunning(Exception):
    pass


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after shutdown, which would kill us before our own cleanup
    (runtime stop, store close); here a signal only asks the server to exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def request_exit(signum: int, frame: object) -> None:
            self.should_exit = True

        previous = {sig: signal.signal(sig, request_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def acquire_lock(paths: Paths) -> IO[str]:
    """Hold an exclusive lock on the home for the process lifetime (freed by the kernel on kill -9)."""
    handle = open(paths.home / "kura.lock", "a+")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise AlreadyRunning(read_runtime(paths).get("endpoint", "")) from exc
    return handle


def read_runtime(paths: Paths) -> dict[str, object]:
    try:
        return dict(json.loads(paths.runtime.read_text()))
    except (OSError, ValueError):
        return {}


def is_running(paths: Paths) -> bool:
    """True when some process holds the home's lock."""
    lock = paths.home / "kura.lock"
    if not lock.exists():
        return False
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def build_env(settings: Settings) -> tuple[Env, Gateway]:
    paths = settings.paths
    creds = load_or_create(paths.credentials)
    store = SqliteStore(paths.state_db)
    env = Env(store=store, clock=SystemClock(), settings=settings, account=creds.account_id,
              master_key=MasterKey.load(paths.master_key))
    registry.load_all()
    return env, Gateway(env, creds, settings.auth)


def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT. Raises AlreadyRunning if this home is served already."""
    paths = settings.paths
    paths.ensure()
    lock = acquire_lock(paths)
    env, gateway = build_env(settings)
    control_registry.load_all()
    catalog_publisher.start(env)  # before serving: CreateDBInstance checks versions against it
    ec_catalog.start(env)
    hooks: tuple[Callable[[Env], None], ...] = (rds_instance.stop_all, rds_backups.stop_all,
                                                rds_routing.stop_all, ec_cluster.stop_all)
    for hook in hooks:
        if hook not in STOP_ALL_HOOKS:
            STOP_ALL_HOOKS.append(hook)
    _publish_routes(env)
    runtime = Runtime(env, control_registry.all_reconcilers())
    runtime.start()
    insights.start(env)
    cwlogs.start(env)
    collector = metrics_collector.start(env)
    waker = autopause.Waker(env)
    config = uvicorn.Config(App(gateway), host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    server = _Server(config)
    _write_runtime(paths, settings)
    log.info("kura serving endpoint=%s home=%s pid=%d", settings.endpoint_url, paths.home, os.getpid())
    try:
        server.run()
    finally:
        waker.close()
        insights.stop(env)
        cwlogs.stop(env)
        collector.stop()
        runtime.stop(timeout=10)
        if _stop_all_requested(paths):
            for hook in STOP_ALL_HOOKS:
                hook(env)
        serverless.release(env)
        env.store.close()
        paths.runtime.unlink(missing_ok=True)
        lock.close()
        log.info("kura stopped home=%s", paths.home)
    if not server.started:
        raise SystemExit(f"could not listen on {settings.host}:{settings.port}")


def _publish_routes(env: Env) -> None:
    """The router outlives Kura; a new Kura makes sure it runs with the table the store says."""
    try:
        rds_routing.publish(env)
    except Exception:  # the HA passes try again; serving the API must not wait for the router
        log.exception("could not start the endpoint router")


def _write_runtime(paths: Paths, settings: Settings) -> None:
    info = {"pid": os.getpid(), "host": settings.host, "port": settings.port,
            "endpoint": settings.endpoint_url, "started_at": time.time()}
    tmp = paths.runtime.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(paths.runtime)


def stop_all_marker(paths: Paths) -> Path:
    return paths.home / "stop-all.request"


def _stop_all_requested(paths: Paths) -> bool:
    marker = stop_all_marker(paths)
    if marker.exists():
        marker.unlink()
        return True
    return False
