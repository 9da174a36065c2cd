"""ElastiCache slow log delivery to CloudWatch Logs (LogDeliveryConfigurations `slow-log` →
`cloudwatch-logs`, on a cache cluster or on the replication group of its members).

Every second each such node's `SLOWLOG GET` is read and the entries newer than the last one delivered
go to the configured log group, one stream per node (`<CacheClusterId>-<CacheNodeId>-slow-log`), in
ElastiCache's JSON or text format: the command's name and how many arguments it had, never their
values. The last delivered entry id and the server's run_id are committed with the events, so a Kura
restart repeats nothing and a redis-server restart (a new run_id, its slow log empty) starts over.
Entries that `slowlog-max-len` pushed out between two reads are lost, as ElastiCache documents.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis

from kura.control.elasticache import nodes
from kura.control.periodic import Periodic
from kura.env import Env
from kura.metrics import logstore
from kura.services.elasticache import log_delivery
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP
from kura.store.types import Resource

log = logging.getLogger("kura.control.elasticache.slow_log")

POLL_EVERY = 1.0
FETCH = 128  # entries read per node and pass (slowlog-max-len is 128 by default)
NODE_ID = "0001"  # a Redis cache cluster has one node
NEW_CLUSTER = 600.0  # a cluster this young delivers its slow log from its creation
ENABLED_SLACK_MS = 2000
KEY_PREFIX = "elasticache-slow-log/"
CLIENT_NAME = "kura-slow-log"


@dataclass(frozen=True, slots=True)
class Source:
    cluster: Resource
    group: str
    log_format: str

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.cluster.region}/{self.cluster.id}"


def sources(env: Env) -> list[Source]:
    """The cache clusters whose slow log goes to CloudWatch Logs (a member's is its group's setting)."""
    groups = {(g.region, g.id): g for g in env.store.list(KIND_REPLICATION_GROUP)}
    out = []
    for cluster in env.store.list(KIND_CACHE_CLUSTER):
        if cluster.spec.get("desired") == "deleted" or not cluster.status.get("address"):
            continue
        group_id = cluster.spec.get("ReplicationGroupId")
        owner = groups.get((cluster.region, str(group_id))) if group_id else cluster
        found = log_delivery.slow_log_group(owner.spec.get("LogDeliveryConfigurations")) if owner else None
        if found is not None:
            out.append(Source(cluster, *found))
    return out


def command(args: list[str]) -> str:
    """ElastiCache's redacted command: its name, and how many arguments it had."""
    if not args:
        return ""
    more = len(args) - 1
    return f"{args[0]} ... ({more} more arguments)" if more else str(args[0])


def message(cluster: str, entry: list[Any], log_format: str) -> str:
    ident, at, duration, args = int(entry[0]), int(entry[1]), int(entry[2]), list(entry[3])
    address = str(entry[4]) if len(entry) > 4 else ""
    name = str(entry[5]) if len(entry) > 5 else ""
    if log_format == "json":
        return json.dumps({"CacheClusterId": cluster, "CacheNodeId": NODE_ID, "Id": ident, "Timestamp": at,
                           "Duration (us)": duration, "Command": command(args), "ClientAddress": address,
                           "ClientName": name})
    return ",".join([cluster, NODE_ID, str(at), str(duration), command(args), address, name])


class Poller(Periodic):
    name, every = "kura-elasticache-slow-log", POLL_EVERY

    def __init__(self, env: Env) -> None:
        super().__init__(env)
        self.store = logstore.for_home(env.settings.home)

    def once(self) -> int:
        """One read of every delivering node; returns how many entries were delivered."""
        found = sources(self.env)
        delivered = sum(self._deliver(source) for source in found)
        live = {s.key for s in found}
        for key in self.store.cursors(KEY_PREFIX):
            if key not in live:
                self.store.drop_cursor(key)  # delivery disabled or cluster gone
        return delivered

    def _read(self, cluster: Resource) -> tuple[str, list[list[Any]]] | None:
        node = nodes.node_for(self.env, cluster)
        if node is None:
            return None
        try:
            with node.client() as conn:
                conn.client_setname(CLIENT_NAME)
                conn.response_callbacks.pop("SLOWLOG GET", None)  # the raw entries: arguments apart
                entries = conn.execute_command("SLOWLOG", "GET", FETCH)
                run_id = str(conn.info("server")["run_id"])
        except (redis.RedisError, OSError) as exc:
            log.debug("kind=elasticache.cache-cluster id=%s slow log not read: %s", cluster.id, exc)
            return None
        own = [e for e in entries if len(e) > 5 and e[5] == CLIENT_NAME]  # this reader's own commands
        return run_id, sorted((e for e in entries if e not in own), key=lambda e: int(e[0]))

    def _deliver(self, source: Source) -> int:
        read = self._read(source.cluster)
        if read is None:
            return 0
        run_id, entries = read
        now_ms = int(self.env.clock.now() * 1000)
        cursor = self.store.cursor(source.key)
        if cursor is None:
            created = float(source.cluster.spec.get("CacheClusterCreateTime") or source.cluster.created_at)
            young = now_ms / 1000 - created < NEW_CLUSTER
            cursor = {"run_id": run_id, "id": -1,
                      "since": (int(created) - 1) * 1000 if young else now_ms - ENABLED_SLACK_MS}
        elif cursor.get("run_id") != run_id:
            cursor = {"run_id": run_id, "id": -1, "since": 0}  # restarted: a new slow log
        fresh = [e for e in entries if int(e[0]) > int(cursor["id"])]
        events = [(int(e[1]) * 1000, message(source.cluster.id, e, source.log_format)) for e in fresh
                  if int(e[1]) * 1000 >= int(cursor["since"])]
        moved = {**cursor, "id": max([int(cursor["id"]), *(int(e[0]) for e in fresh)])}
        if moved == self.store.cursor(source.key):
            return 0
        group = self.store.ensure_group(source.cluster.region, source.group, now_ms)
        stream = self.store.ensure_stream(group.id, f"{source.cluster.id}-{NODE_ID}-slow-log", now_ms)
        self.store.put(group.id, stream.id, events, now_ms, cursor=(source.key, moved))
        return len(events)
