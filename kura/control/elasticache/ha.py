"""Failover of a replication group: the pure ranking, and the executor that moves roles and endpoints.

The group reconciler observes every member each HA cycle (`Member`), keeps the ids of the replicas
whose replication link was up while the primary lived (`status.in_sync`), and when the primary is dead
calls `elect`: the in-sync replica that is running now with the highest replication offset. A replica
whose link was down may miss acknowledged writes, so it is never promoted automatically.

Endpoint addresses move by re-binding: the new holder adds the address to its `bind` (CONFIG SET bind
works live in Redis 7); a live old holder first drops it and its connections on that address are
killed, so clients reconnect to the new holder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kura.control.elasticache import common, members, nodes
from kura.engines.redis.types import RedisState
from kura.env import Env
from kura.store.types import Resource

SYNC_TIMEOUT = 2.0  # planned failover: how long to wait for the candidate to catch up


@dataclass(frozen=True, slots=True)
class Member:
    res: Resource
    node: nodes.ClusterNode | None
    status: nodes.RedisStatus | None

    @property
    def id(self) -> str:
        return self.res.id

    @property
    def alive(self) -> bool:
        return self.status is not None and nodes.alive(self.status)

    @property
    def gone(self) -> bool:
        """The process is gone (or a zombie): dead for sure, no need to wait for PING timeouts."""
        return self.status is None or self.status.state is RedisState.STOPPED

    @property
    def address(self) -> str:
        return str(self.res.status.get("address") or "")

    @property
    def port(self) -> int:
        return int(self.res.status.get("port") or common.REDIS_PORT)


def elect(candidates: list[Member], in_sync: list[str], recent: float | None = None) -> Member | None:
    """The replica to promote: in sync before the failure, running, most advanced; ties by id.

    `in_sync` is what the last HA cycle saw; with `recent`, a replica whose own link to the dead primary
    was up until at most `recent` seconds ago counts too (it may have joined after that cycle, and a
    write acknowledged by WAIT may live only there)."""
    def eligible(m: Member) -> bool:
        if m.id in in_sync:
            return True
        down = m.status.link_down_seconds if m.status is not None else None
        return recent is not None and down is not None and down <= recent

    ranked = sorted((m for m in candidates if m.alive and eligible(m)),
                    key=lambda m: (-(m.status.offset or 0) if m.status else 0, m.id))
    return ranked[0] if ranked else None


def reader_for(group: Resource, found: list[Member], primary: str) -> str:
    """Who should carry the reader endpoint: where it is if that still fits, else the first live replica,
    else the primary."""
    current = group.status.get("reader_on")
    replicas = [m.id for m in found if m.alive and m.id != primary]
    if current in replicas:
        return str(current)
    return replicas[0] if replicas else primary


def rebind(env: Env, group: Resource, member: Member, *, drop: list[str]) -> None:
    """Make `member` bind what `group` (its new status) says; kill its connections on dropped addresses."""
    if member.node is None or not member.alive:
        return
    binds = members.binds_for(group, member.id, member.address)
    member.node.set_bind(binds)
    for address in drop:
        if address not in binds:
            member.node.command("CLIENT", "KILL", "LADDR", f"{address}:{member.port}", "SKIPME", "yes")


def endpoint_addresses(group: Resource) -> list[str]:
    return [str((group.status.get(k) or {}).get("address")) for k in ("primary_endpoint", "reader_endpoint")
            if group.status.get(k)]


def wait_caught_up(primary: Member, candidate: Member, timeout: float = SYNC_TIMEOUT) -> bool:
    """Planned failover: with writes paused on the primary, wait for the candidate to reach its offset."""
    if primary.node is None or candidate.node is None:
        return False
    target = primary.node.status().offset or 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (candidate.node.status().offset or 0) >= target:
            return True
        time.sleep(0.02)
    return False


def pause_writes(primary: Member, millis: int) -> None:
    if primary.node is not None and primary.alive:
        primary.node.command("CLIENT", "PAUSE", str(millis), "WRITE")


def unpause(member: Member) -> None:
    if member.node is not None and member.alive:
        member.node.command("CLIENT", "UNPAUSE")
