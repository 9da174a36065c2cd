"""The Multi-AZ decisions of the pure decider: what one look at primary and standby leads to."""

from __future__ import annotations

from typing import Any

import pytest

from kura.control.rds.ha import CAUGHT_UP_BYTES, Seen
from kura.control.rds.plan import Op, plan, values_digest
from kura.engines.postgres.ha import Standby
from kura.engines.postgres.types import NodeState
from tests.unit.test_rds_plan import seen, spec, status

STREAMING = Standby("streaming", True, 0)


def ha_status(**ha: Any) -> dict[str, Any]:
    base = status(routed=True)
    members = {"1": {"address": "127.0.0.2", "port": 5432}, "2": {"address": "127.0.0.3", "port": 5432}}
    return {**base, "ha": {"members": members, "primary": "1", "standby": "2", "sync": True, "in_sync": True,
                           "standby_values": values_digest(base), **ha}}


def look(primary_dead: bool = False, standby_running: bool = True, standby: Standby | None = STREAMING,
         lost: bool = False) -> Seen:
    return Seen(primary_dead, "postmaster is gone" if primary_dead else "", standby_running, standby, lost)


def decide(st: dict[str, Any], found: Seen, **spec_changes: Any) -> Op | None:
    chosen = plan(spec(MultiAZ=True, **spec_changes), st, seen(ha=found))
    return chosen.op if chosen else None


@pytest.mark.parametrize(("st", "found", "expected"), [
    (ha_status(), look(), None),  # settled: nothing to do
    (ha_status(), look(primary_dead=True), Op.FAILOVER),
    (ha_status(in_sync=False), look(primary_dead=True), Op.RECOVER),  # never promotes a lagging standby
    (ha_status(), look(primary_dead=True, standby_running=False), Op.RECOVER),
    (ha_status(standby=None), look(primary_dead=True), Op.RECOVER),
    (ha_status(), look(lost=True, standby_running=False, standby=None), Op.DEGRADE),  # before rebuilding
    (ha_status(sync=False, in_sync=False), look(standby_running=False, standby=None), Op.REBUILD_STANDBY),
    (ha_status(standby_values="other"), look(), Op.CONFIGURE_STANDBY),
    (ha_status(sync=False, in_sync=False), look(standby=Standby("streaming", False, 0)), Op.RESYNC),
    (ha_status(sync=False, in_sync=False),
     look(standby=Standby("streaming", False, CAUGHT_UP_BYTES + 1)), None),  # not caught up yet
    (ha_status(sync=False, in_sync=False), look(standby=Standby("catchup", False, 0)), None),
    (ha_status(sync=False, in_sync=False), look(standby=None), None),  # not connected (yet)
])
def test_multi_az_decisions(st: dict[str, Any], found: Seen, expected: Op | None) -> None:
    assert decide(st, found) is expected


def test_multi_az_turned_on_and_off() -> None:
    single = {**status(), "ha": {}}
    assert decide(single, look(standby=None)) is Op.ENABLE_MULTI_AZ
    off = plan(spec(MultiAZ=False), ha_status(), seen(ha=look()))
    assert off is not None and off.op is Op.DISABLE_MULTI_AZ
    assert plan(spec(MultiAZ=False), {**status(), "ha": {}}, seen(ha=look(standby=None))) is None


def test_failover_keeps_the_running_state_and_switchover_records_the_reboot() -> None:
    failover = plan(spec(MultiAZ=True), ha_status(), seen(ha=look(primary_dead=True)))
    assert failover is not None and failover.done == {"state": "available"}
    fenced = plan(spec(MultiAZ=True), {**ha_status(), "fenced": True, "state": "storage-full"},
                  seen(ha=look(primary_dead=True)))
    assert fenced is not None and fenced.op is Op.FAILOVER and fenced.done == {"state": "storage-full"}
    switch = plan(spec(MultiAZ=True, reboot_seq=1, force_failover=1), ha_status(), seen(ha=look()))
    assert switch is not None and switch.op is Op.SWITCHOVER and switch.done["reboot_seq"] == 1
    plain = plan(spec(MultiAZ=True, reboot_seq=1), ha_status(), seen(ha=look()))
    assert plain is not None and plain.op is Op.REBOOT
    alone = plan(spec(MultiAZ=True, reboot_seq=1, force_failover=1), ha_status(standby=None),
                 seen(ha=look(standby=None)))
    assert alone is not None and alone.op is not Op.SWITCHOVER


def test_read_replicas_never_want_a_standby() -> None:
    replica = {**status(role="replica"), "ha": {}}
    chosen = plan(spec(MultiAZ=True, ReadReplicaSourceDBInstanceIdentifier="src"), replica,
                  seen(ha=look(standby=None), source_alive=True))
    assert chosen is None


def test_checkpoints_deletes_and_stopped_instances_come_first() -> None:
    busy = {**ha_status(), "op": {"name": "modify", "step": 1, "step_name": "endpoint", "started_at": 0.0}}
    chosen = plan(spec(MultiAZ=True), busy, seen(ha=look(primary_dead=True)))
    assert chosen is not None and chosen.op is Op.MODIFY  # resumed; a modify is not abandoned
    rebuilding = {**ha_status(sync=False, in_sync=False),
                  "op": {"name": "rebuild-standby", "step": 1, "step_name": "sync", "started_at": 0.0}}
    chosen = plan(spec(MultiAZ=True), rebuilding, seen(ha=look(primary_dead=True)))
    assert chosen is not None and chosen.op is Op.RECOVER and chosen.abandon == "rebuild-standby"
    deleted = plan(spec(MultiAZ=True, desired="deleted"), ha_status(), seen(ha=look(primary_dead=True)))
    assert deleted is not None and deleted.op is Op.DELETE
    stopped = {**ha_status(), "state": "stopped"}
    assert plan(spec(MultiAZ=True, desired="stopped"), stopped, seen(NodeState.STOPPED)) is None
