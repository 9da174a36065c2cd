"""What a cache cluster should be inside its replication group: the addresses it binds, whom it follows.

The replication-group reconciler decides (status `primary`, `reader_on`, the endpoint addresses); the
cache-cluster reconciler renders that into redis.conf whenever it (re)starts a node, and the group
reconciler applies changes live (REPLICAOF, CONFIG SET bind) on failover.
"""

from __future__ import annotations

from dataclasses import dataclass

from kura.control.elasticache import common
from kura.control.types import TemporaryError
from kura.env import Env
from kura.services.elasticache.records import KIND_CACHE_CLUSTER
from kura.store.types import Resource


@dataclass(frozen=True, slots=True)
class Placement:
    binds: list[str]
    replicaof: tuple[str, int] | None
    role: str  # "primary" | "replica"


def primary_of(group: Resource) -> str:
    members = [str(m) for m in group.spec.get("members") or []]
    return str(group.status.get("primary") or (members[0] if members else ""))


def binds_for(group: Resource, member: str, own: str) -> list[str]:
    """The member's own address, plus the group's endpoint addresses it carries."""
    binds = [own]
    primary_ep = (group.status.get("primary_endpoint") or {}).get("address")
    reader_ep = (group.status.get("reader_endpoint") or {}).get("address")
    if member == primary_of(group) and primary_ep:
        binds.append(str(primary_ep))
    if member == group.status.get("reader_on") and reader_ep:
        binds.append(str(reader_ep))
    return binds


def placement(env: Env, res: Resource) -> Placement:
    """Where `res` (with its own address allocated) stands; TemporaryError until its group decided."""
    own = str(res.status["address"])
    group = common.group_of(env, res)
    if group is None:
        return Placement([own], None, "primary")
    if not group.status.get("primary_endpoint"):
        raise TemporaryError(f"waiting for replication group {group.id} to allocate its endpoints", 0.2)
    primary = primary_of(group)
    if primary == res.id:
        return Placement(binds_for(group, res.id, own), None, "primary")
    leader = env.store.get(KIND_CACHE_CLUSTER, res.region, primary)
    if leader is None or not leader.status.get("address"):
        raise TemporaryError(f"waiting for the primary {primary} of {group.id} to get its address", 0.2)
    target = (str(leader.status["address"]), int(leader.status.get("port") or common.REDIS_PORT))
    return Placement(binds_for(group, res.id, own), target, "replica")
