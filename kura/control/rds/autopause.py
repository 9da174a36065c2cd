"""Serverless v2 auto-pause: a member of a cluster whose MinCapacity is 0 pauses after
SecondsUntilAutoPause without a client connection, and the first client resumes it.

Pausing: the member is marked paused in its status (its reconciler then leaves it alone, the backups
idle), the router table is published with the cluster's endpoints flagged `wake` and without the
paused member as a target (new clients are held, not refused), then its postmaster stops (fast
shutdown): its memory is freed and its capacity is 0. A writer does not pause while a reader of its
cluster runs (the readers stream from it), as Aurora keeps a writer up for its readers.

Resuming: the router sends the endpoint's name to Kura's wake socket the moment it holds a client;
the waker thread starts the paused members of that cluster (writer first), marks them running at the
cluster's lowest running capacity and publishes the table, and the held client goes through.
Only the cluster's endpoints (cluster, reader, custom) wake a paused member: a client of a paused
member's own instance endpoint is refused (that address belongs to the postmaster itself).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from typing import Any

from kura.control import steps
from kura.control.rds import events, routing
from kura.control.rds.nodes import node_for
from kura.env import Env
from kura.net.router.table import WAKE_SOCKET
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE
from kura.store.types import Resource

log = logging.getLogger("kura.control.rds.autopause")

# For tests and demonstrations only: pause sooner than the SecondsUntilAutoPause asked (≥ 300 on AWS).
SOONER = os.environ.get("KURA_SERVERLESS_AUTO_PAUSE_SECONDS")

_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock(region: str, cluster: str) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault((region, cluster), threading.Lock())


def pause_after(cluster: Resource) -> float | None:
    """Seconds without a client before a member pauses; None when the cluster does not auto-pause."""
    config = cluster.spec.get("ServerlessV2ScalingConfiguration") or {}
    if config.get("MinCapacity") is None or float(config["MinCapacity"]) != 0:
        return None
    seconds = float(config.get("SecondsUntilAutoPause") or 300)
    return min(seconds, float(SOONER)) if SOONER else seconds


def may_pause(cluster: Resource, member: Resource, members: list[Resource]) -> bool:
    """A reader may always pause; the writer only once none of its readers runs."""
    if member.id != cluster.spec.get("writer"):
        return True
    return all(routing.paused(m) for m in members if m.id != member.id)


def _mark(env: Env, member: Resource, paused: bool, capacity: float) -> Resource:
    def change(status: dict[str, Any]) -> dict[str, Any]:
        status["serverless"] = {**(status.get("serverless") or {}), "paused": paused, "capacity": capacity}
        return status

    return steps.patch_status(env.store, member, change) or member


def pause(env: Env, cluster: Resource, member: Resource, idle: float) -> None:
    with _lock(cluster.region, cluster.id):
        current = env.store.get(KIND_INSTANCE, member.region, member.id)
        if current is None or routing.paused(current):
            return
        current = _mark(env, current, True, 0.0)
        routing.publish(env)  # clients are held from now on
        node = node_for(env, current)
        if node is not None:
            node.stop()
    events.event(env, member, f"The DB instance is paused after {idle:.0f} seconds without a connection "
                 "(Serverless v2 auto-pause)", "serverless")
    log.info('kind=rds.db-instance id=%s outcome="paused after %.0f s idle"', member.id, idle)


def resume(env: Env, region: str, cluster_id: str) -> list[str]:
    """Start the paused members of a cluster, writer first; returns their identifiers."""
    cluster = env.store.get(KIND_CLUSTER, region, cluster_id)
    if cluster is None:
        return []
    config = cluster.spec.get("ServerlessV2ScalingConfiguration") or {}
    capacity = max(float(config.get("MinCapacity") or 0), 0.5)
    resumed = []
    with _lock(region, cluster_id):
        members = [m for m in env.store.list(KIND_INSTANCE, region)
                   if m.spec.get("DBClusterIdentifier") == cluster_id and routing.paused(m)]
        members.sort(key=lambda m: m.id != cluster.spec.get("writer"))
        for member in members:
            node = node_for(env, member)
            if node is None:
                continue
            node.start()
            _mark(env, member, False, capacity)
            resumed.append(member.id)
        if resumed:
            routing.publish(env)
    for ident in resumed:
        found = env.store.get(KIND_INSTANCE, region, ident)
        if found is not None:
            events.event(env, found, "The DB instance is resumed: a client connected", "serverless")
    return resumed


def _cluster_of(endpoint: str) -> tuple[str, str] | None:
    """rds-cluster/<region>/<cluster>[/reader | /custom/<name>] → (region, cluster)."""
    parts = endpoint.split("/")
    return (parts[1], parts[2]) if len(parts) >= 3 and parts[0] == "rds-cluster" else None


class Waker:
    """Kura's end of the router's wake-ups: a datagram socket and the thread that reads it."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.path = routing.control(env).dir / WAKE_SOCKET
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.thread = threading.Thread(target=self._run, name="kura-serverless-waker", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return  # closed
            found = _cluster_of(data.decode(errors="replace"))
            if found is None:
                continue
            try:
                resume(self.env, *found)
            except Exception:
                log.exception("resuming the paused members of DB cluster %s failed", found[1])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=2)
        self.path.unlink(missing_ok=True)
