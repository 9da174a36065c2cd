"""What the ElastiCache reconcilers share: ARNs, events, status patches, AUTH tokens, redis.conf values."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from kura.control import steps
from kura.control.types import STATUS_OP
from kura.engines.redis import catalog
from kura.engines.redis.types import RedisConfig
from kura.env import Env
from kura.services.elasticache.records import (
    CATALOG_KEY,
    KIND_CACHE_CLUSTER,
    KIND_PARAMETER_GROUP,
    KIND_REPLICATION_GROUP,
    SOURCE_CLUSTER,
    SOURCE_REPLICATION_GROUP,
)
from kura.store.types import Event, Resource, Store

ARN_TYPE = {KIND_CACHE_CLUSTER: "cluster", KIND_REPLICATION_GROUP: "replicationgroup",
            "elasticache.snapshot": "snapshot"}
SOURCE = {KIND_CACHE_CLUSTER: SOURCE_CLUSTER, KIND_REPLICATION_GROUP: SOURCE_REPLICATION_GROUP,
          "elasticache.snapshot": "snapshot"}
REDIS_PORT = 6379


def arn(env: Env, kind: str, region: str, ident: str) -> str:
    return f"arn:aws:elasticache:{region}:{env.account}:{ARN_TYPE[kind]}:{ident}"


def arn_of(env: Env, res: Resource) -> str:
    return arn(env, res.kind, res.region, res.id)


def event(env: Env, res: Resource, message: str, *categories: str) -> None:
    env.store.add_event(Event(res.region, SOURCE[res.kind], res.id, message, categories,
                              extra={"arn": arn_of(env, res)}))


def patch(env: Env, res: Resource, fields: dict[str, Any], drop_op: bool = False) -> Resource:
    def change(status: dict[str, Any]) -> dict[str, Any] | None:
        if not drop_op and all(status.get(k) == v for k, v in fields.items()):
            return None
        status.update(fields)
        if drop_op:
            status.pop(STATUS_OP, None)
        return status

    return steps.patch_status(env.store, res, change) or res


def group_of(env: Env, res: Resource) -> Resource | None:
    """The replication group a cache cluster belongs to, if any."""
    name = res.spec.get("ReplicationGroupId")
    return env.store.get(KIND_REPLICATION_GROUP, res.region, str(name)) if name else None


def auth_token(env: Env, res: Resource) -> str | None:
    """The AUTH token of a cluster: its own, else its replication group's (sealed with each one's ARN)."""
    owners = [res]
    group = group_of(env, res) if res.kind == KIND_CACHE_CLUSTER else None
    if group is not None:
        owners.append(group)
    for owner in owners:
        sealed = owner.spec.get("auth_token_sealed")
        if sealed:
            blob = base64.b64decode(str(sealed))
            return env.master_key.unseal(blob, aad=arn_of(env, owner).encode()).decode()
    return None


def catalogue_parameters(store: Store) -> dict[str, dict[str, Any]]:
    entries: list[dict[str, Any]] = store.get_value(CATALOG_KEY) or []
    best = max(entries, key=lambda e: [int(p) for p in str(e["version"]).split(".")], default={})
    return {str(p["name"]): p for p in best.get("parameters", [])}


def parameters(env: Env, res: Resource) -> dict[str, str]:
    """The values of the cluster's parameter group that differ from Redis's defaults (user-set only)."""
    name = res.spec.get("CacheParameterGroupName")
    found = env.store.get(KIND_PARAMETER_GROUP, res.region, str(name)) if name else None
    values = dict((found.spec.get("Parameters") or {}) if found else {})
    known = catalogue_parameters(env.store)
    return {str(k): str(v) for k, v in values.items() if not known or k in known}


def immediate(env: Env, names: list[str]) -> list[str]:
    """Those of `names` Redis accepts live (CONFIG SET); the others wait for a reboot."""
    known = catalogue_parameters(env.store)
    return [n for n in names if (known.get(n) or {}).get("change_type", "immediate") == "immediate"]


def settings_for(env: Env, res: Resource) -> dict[str, str]:
    values = {"maxmemory": str(catalog.maxmemory_for(str(res.spec.get("CacheNodeType") or "")))}
    values.update(parameters(env, res))
    return values


def config_for(env: Env, res: Resource, *, binds: list[str], replicaof: tuple[str, int] | None,
               values: dict[str, str] | None = None) -> RedisConfig:
    token = auth_token(env, res)
    files = res.status.get("tls") or {}
    cert = files.get("cert")
    return RedisConfig(
        bind=" ".join(binds), port=int(res.status.get("port") or REDIS_PORT),
        settings=values if values is not None else settings_for(env, res), requirepass=token,
        tls_cert=Path(cert) if cert else None, tls_key=Path(files["key"]) if cert else None,
        tls_ca=Path(files["ca"]) if cert else None, replicaof=replicaof,
        masterauth=token)
