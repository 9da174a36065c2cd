"""The HA monitor's eyes: one look at a Multi-AZ instance's primary and standby per pass.

The primary is dead when its postmaster is gone (at once), or when it has been stopped (SIGSTOP),
unresponsive or hung for DEAD_AFTER seconds. The probe asks the primary, over its private socket, how
its standbys stream (pg_stat_replication): that one query both proves the primary answers and tells
whether the standby is synchronous. It runs in a thread with a deadline: a hung server must not hang
the monitor (the thread ends when the server is fenced). An Aurora cluster's monitor
(cluster_monitor.py) looks at its writer the same way, its readers being the streams.

Pure decisions on what is seen are plan.py's; what is done, ha_steps.py's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kura.control.rds import nodes
from kura.engines.postgres import ha as pg_ha
from kura.engines.postgres import pgproc
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.types import NodeState
from kura.env import Env
from kura.store.types import Resource

DEAD_AFTER = float(os.environ.get("KURA_HA_DEAD_AFTER", "1.0"))
PROBE_TIMEOUT = 1.0
PACE = float(os.environ.get("KURA_HA_PACE", "0.5"))  # seconds between looks at a Multi-AZ instance
CAUGHT_UP_BYTES = 16 * 1024 * 1024  # a standby this close is made synchronous
GONE = "its postmaster is gone"  # what a look says of a primary whose postmaster died (dead at once)

_lock = threading.Lock()
_bad_since: dict[tuple[str, str], float] = {}  # (region, id) → when the primary first failed a look
_lost_since: dict[tuple[str, str], float] = {}  # … when the standby was first seen not streaming
_inflight: dict[tuple[str, str], threading.Thread] = {}


@dataclass(frozen=True, slots=True)
class Seen:
    primary_dead: bool
    why: str  # what the look found wrong with the primary ("" when it answers)
    standby_running: bool  # the standby member's postmaster lives
    standby: pg_ha.Standby | None  # as the primary sees it (None: not connected, or not asked)
    standby_lost: bool = False  # not running, or not connected to the answering primary, for a while
    streams: Mapping[str, pg_ha.Standby] = field(default_factory=dict)  # every standby, by application


def standby_member(res: Resource) -> str | None:
    found = (res.status.get("ha") or {}).get("standby")
    return str(found) if found else None


def _ask(key: tuple[str, str], node: PgNode) -> tuple[bool, dict[str, pg_ha.Standby]]:
    """(answered, its standbys) — within PROBE_TIMEOUT, else (False, {})."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["streams"] = pg_ha.standbys(node)
            result["ok"] = True
        except Exception as exc:  # any failure to answer is what is being measured
            result["error"] = exc

    with _lock:
        busy = _inflight.get(key)
        if busy is not None and busy.is_alive():
            return False, {}  # the last probe still hangs
        thread = threading.Thread(target=run, name="kura-ha-probe", daemon=True)
        _inflight[key] = thread
    thread.start()
    thread.join(PROBE_TIMEOUT)
    return "ok" in result, dict(result.get("streams") or {})


def look(env: Env, res: Resource) -> Seen:
    key = (res.region, res.id)
    node = nodes.node_for(env, res)
    member = standby_member(res)
    other = nodes.member_node(env, res, member) if member else None
    standby_running = other is not None and nodes.liveness(other) is NodeState.RUNNING
    why = ""
    streams: dict[str, pg_ha.Standby] = {}
    pf = pgproc.read_pidfile(node.datadir) if node is not None else None
    if node is None or pf is None or not pgproc.is_live_postmaster(pf):
        why = GONE
    elif pgproc.proc_state(pf.pid) in ("T", "t"):
        why = "its postmaster is stopped"
    else:
        answered, streams = _ask(key, node)
        if not answered:
            why = f"it did not answer within {PROBE_TIMEOUT:g} s"
    standby = streams.get(pg_ha.application(member)) if member else None
    now = time.monotonic()
    with _lock:
        if not why:
            _bad_since.pop(key, None)
            lost = False
            if member is not None and (not standby_running or standby is None):
                since = _lost_since.setdefault(key, now)  # not connected: lost after a grace period
                lost = not standby_running or now - since >= DEAD_AFTER
            else:
                _lost_since.pop(key, None)
            return Seen(False, "", standby_running, standby, lost, streams)
        since = _bad_since.setdefault(key, now)
    dead = why == GONE or now - since >= DEAD_AFTER
    return Seen(dead, why, standby_running, standby)


def forget(res: Resource) -> None:
    with _lock:
        _bad_since.pop((res.region, res.id), None)
        _lost_since.pop((res.region, res.id), None)
