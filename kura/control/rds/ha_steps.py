"""Multi-AZ steps: members and the routed endpoint, the synchronous standby, failover and switchover.

A Multi-AZ instance has two members ("1" and "2", see nodes.py), each listening on a loopback address
of its own; the endpoint address belongs to the router, which forwards to the primary. Failover is
two-phase: the old primary is fenced (no process of it survives) before the standby is promoted, and
only a standby that was synchronous (`ha.in_sync`: every acknowledged commit is on its disk) is
promoted. `ha.in_sync` is cleared *before* synchronous replication is switched off (DEGRADE), so a
failure in between can never promote a standby that misses acknowledged commits.

    status.ha = {"members": {"1": {"address", "port"}, "2": {…}}, "primary": "1", "standby": "2" | None,
                 "sync": bool (synchronous_standby_names names the standby), "in_sync": bool,
                 "standby_values": digest of the parameters the standby was configured with,
                 "failovers": int}
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from kura.control import steps
from kura.control.rds import events, nodes, plan, routing, settings
from kura.control.rds.ha import CAUGHT_UP_BYTES
from kura.control.types import TemporaryError
from kura.engines.postgres import ha as pg_ha
from kura.engines.postgres import replication
from kura.engines.postgres.errors import StartError
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.types import NodeState
from kura.net import addresses
from kura.store.types import Resource

if TYPE_CHECKING:
    from kura.control.rds.actions import Work

MEMBER_PORT = 5432
SYNC_WAIT = 60.0  # a standby that is not caught up by then: try again later
FAILOVER_STARTED = "Multi-AZ instance failover started"
FAILOVER_DONE = "Multi-AZ instance failover completed"


def _event(work: Work, res: Resource, message: str, *categories: str, **extra: Any) -> None:
    events.event(work.env, res, message, *categories, **extra)


def ha_of(res: Resource) -> dict[str, Any]:
    return dict(res.status.get("ha") or {})


def wants_standby(res: Resource) -> bool:
    return plan.wants_standby(res.spec, res.status)


def owner(work: Work, res: Resource, member: str) -> str:
    """Who a member's address is allocated to."""
    return f"{events.arn_of(work.env, res)}#member-{member}"


def _config(work: Work, res: Resource, member: str, *, readable: bool) -> Any:
    """The rendered configuration of `member` with what the primary runs (status.applied)."""
    values = dict((res.status.get("applied") or {}).get("parameters") or {})
    address, port = routing.listen_address(res, member)
    files = res.status["tls"]
    return settings.render(values, address=address, port=port,
                           tls=(Path(files["cert"]), Path(files["key"]), Path(files["ca"])),
                           fenced=bool(res.status.get("fenced")) and readable, readable=readable)


def _with_status(res: Resource, **fields: Any) -> Resource:
    return dataclasses.replace(res, status={**res.status, **fields})


def _member_node(work: Work, res: Resource, member: str) -> PgNode:
    node = nodes.member_node(work.env, res, member)
    if node is None:
        raise TemporaryError(f"DB instance {res.id}: its engine is not installed", 5.0)
    return node


# -- members and the routed endpoint -------------------------------------------------------------

def members(work: Work, ctx: steps.StepContext) -> None:
    """Both members get addresses of their own (kept for the instance's life)."""
    res = ctx.res
    if not wants_standby(res):
        return
    ha = ha_of(res)
    found = dict(ha.get("members") or {})
    for member in nodes.MEMBERS:
        got = addresses.allocate(work.env.store, owner(work, res, member), MEMBER_PORT)
        found[member] = {"address": got.address, "port": got.port}
    ha.update(members=found, primary=str(ha.get("primary") or "1"))
    ctx.status["ha"] = ha
    if res.status.get("state") in (None, "creating"):
        ctx.status["routed"] = True  # nothing listens yet: the postmaster starts on its own address


def hold(work: Work, ctx: steps.StepContext) -> None:
    """Before the primary goes away on purpose (or is fenced): the router holds new connections instead
    of handing them to a postmaster that is shutting down."""
    res = ctx.res
    if not res.status.get("routed"):
        return
    ha = {**ha_of(res), "holding": True}
    routing.publish(work.env, pending=_with_status(res, ha=ha))
    ctx.status["ha"] = ha


def route(work: Work, ctx: steps.StepContext) -> None:
    """Publish the table (the endpoint forwards to the primary, holding no more) and wait until the
    router listens."""
    res = ctx.res
    if not res.status.get("routed"):
        return
    ha = {**ha_of(res), "holding": False}
    routing.publish(work.env, pending=_with_status(res, ha=ha))
    ctx.status["ha"] = ha
    if not routing.wait_listening(work.env, res):
        raise TemporaryError(f"the router does not listen on the endpoint of {res.id} yet", 1.0)


def move_endpoint(work: Work, ctx: steps.StepContext) -> None:
    """A running single-AZ primary listens on the endpoint itself: restart it on its member address
    while the router takes the endpoint (connections meanwhile are held by the router)."""
    res = ctx.res
    if res.status.get("routed") or not wants_standby(res):
        return
    moved = _with_status(res, routed=True)
    node = work.node(res)
    node.configure(_config(work, moved, nodes.primary_member(res), readable=True))
    node.stop()
    routing.publish(work.env, pending=moved)
    if not routing.wait_listening(work.env, moved):
        raise TemporaryError(f"the router does not listen on the endpoint of {res.id} yet", 1.0)
    try:
        node.start()
    except StartError as exc:
        raise TemporaryError(f"DB instance {res.id} did not start on its member address: {exc}", 2.0) from exc
    ctx.status["routed"] = True


# -- the standby ---------------------------------------------------------------------------------

def standby(work: Work, ctx: steps.StepContext) -> None:
    """The standby member runs, streams from the primary through its slot, and has the primary's
    parameters: kept when it is a standby already (restarted if it died or its parameters changed),
    rewound when it was a primary (after a failover), else copied afresh."""
    res = ctx.res
    if not wants_standby(res):
        return
    primary = work.node(res)
    member = nodes.other_member(nodes.primary_member(res))
    target = _member_node(work, res, member)
    how = _prepare(target, primary, member)
    target.configure(_config(work, res, member, readable=False))
    try:
        target.restart()
    except StartError:
        if how == "copied":
            raise
        how = pg_ha.rebuild(target, primary, pg_ha.application(member), fresh=True)
        target.configure(_config(work, res, member, readable=False))
        target.start()
    # slots the member had as a primary would hold its WAL forever: a standby serves no one
    with contextlib.suppress(psycopg.Error):
        target.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                       "WHERE NOT active")
    if how != "kept":
        _event(work, res, f"The standby DB instance was {how} from the primary and is streaming",
               "availability")
    ha = ha_of(res)
    ha.update(standby=member, sync=bool(ha.get("sync")), in_sync=bool(ha.get("in_sync")),
              standby_values=plan.values_digest(res.status))
    ctx.status["ha"] = ha


def _prepare(target: PgNode, primary: PgNode, member: str) -> str:
    if target.exists() and replication.is_standby(target):
        slot = pg_ha.application(member)
        replication.ensure_slot(primary, slot)
        target.stop()
        replication.follow(target, replication.source_conninfo(primary, slot), slot)
        return "kept"
    return pg_ha.rebuild(target, primary, pg_ha.application(member))


def sync(work: Work, ctx: steps.StepContext) -> None:
    """Once the standby streams and is caught up, commits wait for it (RPO 0)."""
    res = ctx.res
    ha = ha_of(res)
    member = ha.get("standby")
    if not wants_standby(res) or not member:
        return
    primary = work.node(res)
    deadline = time.monotonic() + SYNC_WAIT
    found = pg_ha.standby_of(primary, str(member))
    while found is None or found.state != "streaming" or not 0 <= found.behind_bytes <= CAUGHT_UP_BYTES:
        if time.monotonic() > deadline:
            raise TemporaryError(f"the standby of {res.id} is not caught up yet ({found})", 2.0)
        time.sleep(0.05)
        found = pg_ha.standby_of(primary, str(member))
    pg_ha.set_sync(primary, str(member))
    while not (found is not None and found.sync):
        if time.monotonic() > deadline:
            raise TemporaryError(f"the standby of {res.id} did not become synchronous ({found})", 2.0)
        time.sleep(0.02)
        found = pg_ha.standby_of(primary, str(member))
    if not ha.get("in_sync"):
        _event(work, res, "Multi-AZ: the standby DB instance is synchronous; commits wait for it",
               "availability")
    ha.update(sync=True, in_sync=True)
    ctx.status["ha"] = ha


def unsync_mark(work: Work, ctx: steps.StepContext) -> None:
    """First of two: from now on the standby may miss commits, so it may not be promoted."""
    ha = ha_of(ctx.res)
    if ha.get("in_sync") and work.plan.op is plan.Op.DEGRADE:
        _event(work, ctx.res, "The standby DB instance is not available: the primary goes on accepting "
               "writes without synchronous replication while a new standby is made ready",
               "availability", "failure")
    ha["in_sync"] = False
    ctx.status["ha"] = ha


def unsync(work: Work, ctx: steps.StepContext) -> None:
    res = ctx.res
    node = work.node(res)
    if nodes.liveness(node) is NodeState.RUNNING:
        pg_ha.set_sync(node, None)
    ha = ha_of(res)
    ha["sync"] = False
    ctx.status["ha"] = ha


def drop_standby(work: Work, ctx: steps.StepContext) -> None:
    """Multi-AZ turned off (or the instance deleted): the standby member and its slot go."""
    res = ctx.res
    ha = ha_of(res)
    member = ha.get("standby") or (nodes.other_member(nodes.primary_member(res)) if ha else None)
    if not member:
        return
    target = nodes.member_node(work.env, res, str(member))
    if target is not None:
        target.discard(nodes.trash_dir(work.env))
        nodes.empty_trash_soon(work.env)
    primary = nodes.node_for(work.env, res)
    if primary is not None and nodes.liveness(primary) is NodeState.RUNNING:
        replication.drop_slot(primary, pg_ha.application(str(member)))
    if work.plan.op is not plan.Op.DELETE:
        addresses.release(work.env.store, owner(work, res, str(member)))
        members = dict(ha.get("members") or {})
        members.pop(str(member), None)
        ha["members"] = members
    ha.update(standby=None, sync=False, in_sync=False)
    ctx.status["ha"] = ha


def stop_standby(work: Work, ctx: steps.StepContext) -> None:
    member = ha_of(ctx.res).get("standby")
    target = nodes.member_node(work.env, ctx.res, str(member)) if member else None
    if target is not None:
        target.stop()


# -- failover and switchover ---------------------------------------------------------------------

def fence(work: Work, ctx: steps.StepContext) -> None:
    """Failover, phase one: nothing of the old primary survives, so it can never acknowledge a write.
    (Also the first step of restarting a primary in place: a stopped or hung one is killed first.)"""
    res = ctx.res
    if work.plan.op is plan.Op.FAILOVER and not ctx.data.get("announced"):
        _event(work, res, FAILOVER_STARTED, "failover", reason=work.plan.reason)
        ctx.data["announced"] = True
    node = nodes.node_for(work.env, res)
    if node is not None:
        pg_ha.fence(node)


def switch_check(work: Work, ctx: steps.StepContext) -> None:
    """A planned failover (reboot --force-failover) needs a synchronous standby."""
    res = ctx.res
    ha = ha_of(res)
    if not (ha.get("standby") and ha.get("in_sync")):
        raise TemporaryError(f"DB instance {res.id}: the standby is not synchronous yet; the failover "
                             "waits for it", 2.0)
    if not ctx.data.get("announced"):
        _event(work, res, FAILOVER_STARTED, "failover", reason="reboot with failover requested")
        ctx.data["announced"] = True


def caught_up(work: Work, ctx: steps.StepContext) -> None:
    """The old primary is shut down cleanly (its walsender sent everything): the standby has replayed
    up to its shutdown checkpoint."""
    res = ctx.res
    old = work.node(res)
    target = pg_ha.last_checkpoint(old)
    member = str(ha_of(res).get("standby"))
    node = _member_node(work, res, member)
    deadline = time.monotonic() + 30
    while target is not None:
        got = pg_ha.replayed(node)
        if got is not None and got >= target:
            return
        if time.monotonic() > deadline:
            raise TemporaryError(f"the standby of {res.id} did not replay the primary's last WAL", 1.0)
        time.sleep(0.02)


def promote(work: Work, ctx: steps.StepContext) -> None:
    """Failover, phase two: the standby becomes the primary (idempotent: a promoted one is left)."""
    res = ctx.res
    ha = ha_of(res)
    new = str(ha.get("standby") or "")
    if not new or new == nodes.primary_member(res):
        return  # done before a crash: the checkpoint already says so
    node = _member_node(work, res, new)
    if replication.is_standby(node):
        pg_ha.promote(node)
    moved = _with_status(res, ha={**ha, "primary": new})
    node.configure(_config(work, moved, new, readable=True))
    old = nodes.primary_member(res)
    ha.update(primary=new, standby=old, sync=False, in_sync=False,
              failovers=int(ha.get("failovers") or 0) + 1)
    ctx.status.update(ha=ha, log_dir=str(nodes.layout(work.env, res.region, res.id, new).log))


def failover_done(work: Work, ctx: steps.StepContext) -> None:
    _event(work, ctx.res, FAILOVER_DONE, "failover")
