"""The cache-cluster steps. Every step is idempotent (a crash re-runs it) and checkpointed by steps.apply."""

from __future__ import annotations

import base64
import dataclasses
import shutil
from collections.abc import Callable

from kura.control import steps
from kura.control.elasticache import common, members, nodes, snapshot
from kura.control.types import PermanentError, TemporaryError
from kura.engines.redis import catalog
from kura.engines.redis.errors import EngineNotInstalled
from kura.env import Env
from kura.net import addresses, tls
from kura.services.elasticache.records import KIND_SNAPSHOT
from kura.store.types import Resource

Ctx = steps.StepContext


def mark(state: str) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        ctx.status["state"] = state
    return run


def engine(ctx: Ctx) -> None:
    requested = ctx.res.spec.get("EngineVersion")
    try:
        found, note = catalog.resolve(nodes.engines(refresh=True), requested)
    except (EngineNotInstalled, ValueError) as exc:
        raise PermanentError(str(exc)) from exc
    ctx.status["engine_version"] = found.version
    if note:
        common.event(ctx.env, ctx.res, note, "notification")


def endpoint(ctx: Ctx) -> None:
    port = int(ctx.res.spec.get("Port") or common.REDIS_PORT)
    found = addresses.allocate(ctx.env.store, common.arn_of(ctx.env, ctx.res), port)
    ctx.status.update(address=found.address, port=found.port)


def certificate(ctx: Ctx) -> None:
    env, res = ctx.env, ctx.res
    group = common.group_of(env, res)
    owners = [res] + ([group] if group is not None else [])
    if not any(o.spec.get("TransitEncryptionEnabled") for o in owners):
        ctx.status["tls"] = None
        return
    ca = tls.ensure_ca(env.settings.paths)
    sans = [str(res.status["address"])]
    if group is not None:
        sans += [str((group.status.get(k) or {}).get("address"))
                 for k in ("primary_endpoint", "reader_endpoint") if group.status.get(k)]
    user = nodes.run_as()
    cert, key = tls.issue(ca, common.arn_of(env, res), sans, nodes.layout(env, res.region, res.id).tls,
                          owner_ids=(user.uid, user.gid) if user else None)
    ctx.status["tls"] = {"cert": str(cert), "key": str(key), "ca": str(ca.cert_path)}


APPLIED_KEYS = ("CacheNodeType", "CacheParameterGroupName", "SecurityGroupIds", "Port", "EngineVersion",
                "TransitEncryptionEnabled")
RESTART_FIELDS = frozenset({"port", "tls_cert", "tls_key", "tls_ca"})


def applied_of(ctx: Ctx, values: dict[str, str]) -> dict[str, object]:
    return {**{k: ctx.res.spec.get(k) for k in APPLIED_KEYS}, "settings": values}


def configure(ctx: Ctx) -> None:
    render(ctx)


def render(ctx: Ctx) -> list[str]:
    """Render redis.conf from the spec and the group's decision; on a running node Redis takes what it
    can live (the adapter's configure) and the names needing a restart are returned."""
    node = _node(ctx)
    where = members.placement(ctx.env, ctx.res)
    values = common.settings_for(ctx.env, ctx.res)
    pending = node.configure(common.config_for(ctx.env, ctx.res, binds=where.binds,
                                               replicaof=where.replicaof, values=values))
    ctx.status["applied"] = applied_of(ctx, values)
    ctx.status["parameter_apply_status"] = "in-sync"
    ctx.status["role"] = where.role
    return pending


def apply_live(ctx: Ctx) -> None:
    """Modify: the new redis.conf, applied live where Redis can; a new port or TLS restarts the node;
    parameters Redis only reads at start wait for a reboot (pending-reboot)."""
    pending = render(ctx)
    if RESTART_FIELDS & set(pending):
        restart(ctx)
    elif pending:
        ctx.status["parameter_apply_status"] = "pending-reboot"


def engine_version(ctx: Ctx) -> None:
    """A new EngineVersion (same major, as the API allows): Kura keeps running the installed Redis of that
    major; it is recorded in status.applied (by apply) and said in an event."""
    requested = ctx.res.spec.get("EngineVersion")
    if (ctx.res.status.get("applied") or {}).get("EngineVersion") == requested:
        return
    try:
        found, _ = catalog.resolve(nodes.engines(), str(requested) if requested else None)
    except (EngineNotInstalled, ValueError) as exc:
        raise PermanentError(str(exc)) from exc
    running = str(ctx.res.status.get("engine_version") or found.version)
    common.event(ctx.env, ctx.res, f"Engine version {requested} applied: this node runs the installed "
                 f"Redis {running}", "configuration change")


def auth_owner(env: Env, res: Resource) -> Resource:
    """Who carries the AuthToken of a cache cluster: its replication group, else the cluster itself."""
    return common.group_of(env, res) or res


def auth_seq(env: Env, res: Resource) -> int:
    """The AuthToken change a cache cluster's node should carry out (its owner's spec.auth_token_seq)."""
    return int(auth_owner(env, res).spec.get("auth_token_seq") or 0)


def _unseal(env: Env, owner: Resource, sealed: object) -> str:
    blob = base64.b64decode(str(sealed))
    return env.master_key.unseal(blob, aad=common.arn_of(env, owner).encode()).decode()


def auth(ctx: Ctx) -> None:
    """Carry out the owner's AuthToken (and its last AuthTokenUpdateStrategy) on the node:
    SET → only the new token, ROTATE → the new one and the previous one, DELETE → no AUTH. The new
    token is requirepass (and masterauth) in redis.conf; during a ROTATE the previous one is added to
    the default user with ACL SETUSER after every start, since redis.conf holds one password."""
    env, res = ctx.env, ctx.res
    owner = auth_owner(env, res)
    token = common.auth_token(env, res)
    node = _node(ctx)
    cfg = node.config()
    if cfg.requirepass != token or cfg.masterauth != token:
        node.configure(dataclasses.replace(cfg, requirepass=token, masterauth=token))
    previous_sealed = owner.spec.get("auth_token_previous_sealed")
    rotating = owner.spec.get("auth_token_strategy") == "ROTATE" and previous_sealed and token
    if nodes.alive(node.status()):
        if token is None:
            node.command("ACL", "SETUSER", "default", "on", "nopass")
        else:
            keep = [f">{_unseal(env, owner, previous_sealed)}"] if rotating else []
            node.command("ACL", "SETUSER", "default", "on", "resetpass", f">{token}", *keep)
    ctx.status["auth_token_seq"] = int(owner.spec.get("auth_token_seq") or 0)


def restore(ctx: Ctx) -> None:
    name = ctx.res.spec.get("SnapshotName")
    if not name or _node(ctx).status().pid is not None:
        return  # a crash after the start: the data set is there already
    snap = ctx.env.store.get(KIND_SNAPSHOT, ctx.res.region, str(name))
    if snap is None or snap.status.get("state") != "available":
        raise PermanentError(f"snapshot {name} is not available")
    where = nodes.layout(ctx.env, ctx.res.region, ctx.res.id)
    rdb = snapshot.plain_rdb(ctx.env, snap, where.base / "restore")
    try:
        _node(ctx).restore(rdb)
    finally:
        shutil.rmtree(rdb.parent, ignore_errors=True)


def start(ctx: Ctx) -> None:
    _node(ctx).start()


def restart(ctx: Ctx) -> None:
    node = _node(ctx)
    node.stop()
    node.start()


def final_snapshot(ctx: Ctx) -> None:
    name = ctx.res.spec.get("final_snapshot")
    node = nodes.node_for(ctx.env, ctx.res)
    if not name or node is None or not nodes.alive(node.status()):
        return
    spec = {"SnapshotName": name, "SnapshotSource": "manual", "CacheClusterId": ctx.res.id,
            **{k: ctx.res.spec.get(k) for k in ("CacheNodeType", "EngineVersion", "KmsKeyId")}}
    fields = snapshot.take(ctx.env, ctx.res, node, str(name), ctx.res.spec.get("KmsKeyId"))
    if ctx.env.store.get(KIND_SNAPSHOT, ctx.res.region, str(name)) is None:
        ctx.env.store.create(KIND_SNAPSHOT, ctx.res.region, str(name), spec, fields)


def stop(ctx: Ctx) -> None:
    node = nodes.node_for(ctx.env, ctx.res)
    if node is not None:
        node.stop()


def remove(ctx: Ctx) -> None:
    node = nodes.node_for(ctx.env, ctx.res)
    if node is not None:
        node.remove()
    shutil.rmtree(nodes.layout(ctx.env, ctx.res.region, ctx.res.id).base, ignore_errors=True)


def release(ctx: Ctx) -> None:
    addresses.release(ctx.env.store, common.arn_of(ctx.env, ctx.res))


def _node(ctx: Ctx) -> nodes.ClusterNode:
    node = nodes.node_for(ctx.env, ctx.res)
    if node is None:
        raise TemporaryError(f"Redis {ctx.res.status.get('engine_version')} is not installed", 5.0)
    return node


def plan(op: str) -> list[steps.Step]:
    table: dict[str, list[tuple[str, Callable[[Ctx], None]]]] = {
        "create": [("mark", mark("creating")), ("engine", engine), ("endpoint", endpoint),
                   ("certificate", certificate), ("configure", configure), ("restore", restore),
                   ("start", start), ("auth", auth)],
        "delete": [("mark", mark("deleting")), ("final-snapshot", final_snapshot), ("stop", stop),
                   ("remove", remove), ("release", release)],
        "reboot": [("mark", mark("rebooting cache cluster nodes")), ("configure", configure),
                   ("restart", restart), ("auth", auth)],
        "modify": [("mark", mark("modifying")), ("certificate", certificate),
                   ("engine-version", engine_version), ("apply", apply_live), ("auth", auth)],
        "recover": [("configure", configure), ("start", start), ("auth", auth)],
    }
    return [steps.Step(name, run) for name, run in table[op]]


