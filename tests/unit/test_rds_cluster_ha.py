"""An Aurora cluster's HA decisions (cluster_ha, pure): failover or restart in place when the writer dies,
the readers commits wait for, the election of the most advanced reader, and the writer's own plan
leaving a held writer to its cluster."""

from __future__ import annotations

import pytest

from kura.control.rds.cluster_ha import (
    LOST_AFTER,
    Action,
    Candidate,
    Reader,
    Snapshot,
    answering,
    decide,
    rank,
)
from kura.control.rds.ha import CAUGHT_UP_BYTES
from kura.control.rds.plan import Op, plan
from kura.engines.postgres.ha import Standby
from kura.engines.postgres.types import NodeState
from tests.unit.test_rds_plan import seen, spec, status

STREAMING = Standby("streaming", True, 0)
FROZEN = Standby("streaming", True, 100, 5.0)


def reader(ident: str, running: bool = True, stream: Standby | None = STREAMING, missing_for: float = 0.0,
           tier: int = 1) -> Reader:
    return Reader(ident, tier, running, stream, missing_for)


def snap(*readers: Reader, names: tuple[str, ...] = ("r1", "r2"), in_sync: bool = True, dead: bool = False,
         why: str = "") -> Snapshot:
    why = why or ("its postmaster is gone" if dead else "")
    return Snapshot("c", "w", dead, why, readers, names, in_sync)


BOTH = (reader("r1"), reader("r2"))


@pytest.mark.parametrize(("seen", "action", "names"), [
    (snap(*BOTH), Action.WATCH, ()),  # settled
    (snap(*BOTH, dead=True), Action.FAILOVER, ()),
    (snap(reader("r1", running=False), reader("r2"), dead=True), Action.FAILOVER, ()),  # one named runs
    # commits did not wait for the readers (degraded, or never caught up): never promote one
    (snap(*BOTH, dead=True, in_sync=False), Action.RESTART, ()),
    (snap(*BOTH, names=(), in_sync=False, dead=True), Action.RESTART, ()),
    # the only running reader was not named: it may miss acknowledged commits
    (snap(reader("r1", running=False), reader("r3"), names=("r1",), dead=True), Action.RESTART, ()),
    (snap(*BOTH, why="it did not answer within 1 s"), Action.WATCH, ()),  # suspect, not dead yet
    # readers come and go
    (snap(*BOTH, names=(), in_sync=False), Action.SYNC, ("r1", "r2")),
    (snap(*BOTH, reader("r3"), names=("r1", "r2")), Action.SYNC, ("r1", "r2", "r3")),
    (snap(reader("r1", running=False), reader("r2")), Action.SYNC, ("r2",)),  # postmaster gone: at once
    (snap(reader("r1", stream=None, missing_for=0.3), reader("r2")), Action.WATCH, ()),  # grace
    (snap(reader("r1", stream=None, missing_for=LOST_AFTER), reader("r2")), Action.SYNC, ("r2",)),
    (snap(reader("r1", stream=None, missing_for=LOST_AFTER), reader("r2", running=False)), Action.SYNC, ()),
    (snap(names=("r1",)), Action.SYNC, ()),  # the last reader deleted: commits stop waiting
    # connected but frozen: WAL waits for it and it has not answered for LOST_AFTER seconds
    (snap(reader("r1", stream=FROZEN, missing_for=LOST_AFTER), reader("r2")), Action.SYNC, ("r2",)),
    (snap(reader("r1", stream=FROZEN, missing_for=0.5), reader("r2")), Action.WATCH, ()),  # grace
    (snap(reader("r1", stream=FROZEN), names=()), Action.WATCH, ()),  # a reader not answering never joins
    (snap(reader("r1", stream=Standby("streaming", True, 0, 9.0)), names=("r1",)), Action.WATCH, ()),  # idle
    (snap(reader("r1", stream=Standby("catchup", False, 10)), names=()), Action.WATCH, ()),  # not yet
    (snap(reader("r1", stream=Standby("streaming", False, CAUGHT_UP_BYTES + 1)), names=()), Action.WATCH, ()),
    (snap(*BOTH, in_sync=False), Action.SYNC, ("r1", "r2")),  # named but not confirmed yet
])
def test_decisions(seen: Snapshot, action: Action, names: tuple[str, ...]) -> None:
    chosen = decide(seen)
    assert chosen.action is action, chosen.reason
    if action is Action.SYNC:
        assert chosen.names == names
    assert chosen.reason.startswith("DB cluster c") and "\n" not in chosen.reason


def test_reasons_say_what_happens() -> None:
    assert decide(snap(*BOTH, dead=True)).reason == (
        "DB cluster c: writer w failed (its postmaster is gone); failing over to the reader with the most "
        "WAL")
    assert "restarted in place" in decide(snap(*BOTH, dead=True, in_sync=False)).reason
    assert "no longer wait" in decide(snap(names=("r1",))).reason


def test_election_prefers_the_most_wal_then_the_tier_then_the_name() -> None:
    found = [Candidate("b", 100, 1), Candidate("a", 100, 1), Candidate("c", 100, 0), Candidate("d", 200, 15)]
    assert [c.id for c in rank(found)] == ["d", "c", "a", "b"]
    assert rank([]) == []


def test_a_reader_answers_while_it_acknowledges_what_waits_for_it() -> None:
    assert answering(STREAMING) and answering(Standby("streaming", True, 0, 30.0))  # idle: nothing waits
    assert answering(Standby("streaming", True, 4096, 0.1))  # busy, replying
    assert not answering(FROZEN) and not answering(None) and not answering(Standby("catchup", False, 0))


def test_a_held_writer_is_left_to_its_cluster() -> None:
    """A cluster writer whose readers are in sync is not restarted in place by its own reconciler when its
    postmaster dies: the cluster's monitor fails over (or hands it back, `cluster_held` then false)."""
    writer = spec(DBClusterIdentifier="c")
    assert plan(writer, status(), seen(NodeState.STOPPED, cluster_held=True)) is None
    back = plan(writer, status(), seen(NodeState.STOPPED))
    assert back is not None and back.op is Op.RECOVER
